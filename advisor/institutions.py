"""The institution registry: finding institutions, adding unknown ones, an admin's judgement, CSV import.

Whether an institution is "renowned" is not officially defined (see KVISA.md), so each judgement
records its source. Institutions advisors add stay unverified until an admin decides on them; the
eligibility engine treats an unverified institution as unknown, for the advisor to judge.
"""
from __future__ import annotations

import csv
import difflib
import io
import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Select, String, cast, func, or_, select

from models import Institution, User, db

from . import assessments, audit, countries
from .errors import Conflict, DomainError

TRUE_WORDS = {"true", "yes", "y", "1"}
FALSE_WORDS = {"false", "no", "n", "0"}
CSV_COLUMNS = ("name", "country", "aliases", "rank", "renowned", "source")
MAX_NAME = 200  # the column's length
MAX_RANK = 100_000  # beyond any published ranking; keeps a typo from overflowing the column
IMPORT_MAX_BYTES = 2 * 1024 * 1024  # a registry of tens of thousands of rows fits


@dataclass
class InstitutionData:
    name: str
    country: str
    aliases: list[str]
    rank: int | None
    renowned: bool | None
    source: str


def _spaced(text: str) -> str:
    return " ".join(text.split())


def _key(text: str) -> str:
    """What two names must share to be the same name: case and spacing do not count."""
    return _spaced(text).casefold()


def _clean_aliases(aliases: list[str], name: str = "") -> list[str]:
    seen: list[str] = []
    for alias in aliases:
        alias = _spaced(alias)
        if alias and _key(alias) != _key(name) and _key(alias) not in (_key(s) for s in seen):
            seen.append(alias)
    return seen


def _check(data: InstitutionData) -> None:
    if not data.name.strip():
        raise DomainError("Enter the institution's name.")
    if len(_spaced(data.name)) > MAX_NAME:
        raise DomainError(f"A name has at most {MAX_NAME} characters.")
    if any(len(_spaced(alias)) > MAX_NAME for alias in data.aliases):
        raise DomainError(f"An alias has at most {MAX_NAME} characters.")
    if not countries.is_valid(data.country):
        raise DomainError(f"Unknown country code {data.country!r}.")
    if data.rank is not None and not 1 <= data.rank <= MAX_RANK:
        raise DomainError(f"A rank is a whole number from 1 to {MAX_RANK}.")
    if data.renowned is not None and not data.source.strip():
        raise DomainError("Say on what source the renowned judgement rests.")


def _matches(term: str) -> ColumnElement[bool]:
    """Name or an alias contains `term`. Aliases are stored as JSON text, where non-ASCII letters
    and quotes are escaped, so they are searched in that spelling."""
    escaped = json.dumps(term)[1:-1]
    return or_(Institution.name.icontains(term, autoescape=True),
               cast(Institution.aliases, String).icontains(escaped, autoescape=True))


def search(q: str, *, limit: int = 10) -> list[Institution]:
    """Institutions whose name or an alias contains `q`, verified first, then shortest name first."""
    term = _spaced(q)
    if not term:
        return []
    query = (select(Institution).where(_matches(term))
             .order_by(Institution.verified.desc(), func.length(Institution.name), Institution.name)
             .limit(limit))
    return list(db.session.scalars(query))


def find_exact(name: str, country: str | None = None) -> Institution | None:
    """The institution called exactly `name` (ignoring case and spacing), by name or alias; a match
    by name wins over a match by alias."""
    wanted = _key(name)
    if not wanted:
        return None
    query = select(Institution).where(_matches(_spaced(name)))
    if country is not None:
        query = query.where(Institution.country == country)
    candidates = db.session.scalars(query.order_by(Institution.verified.desc(), Institution.id)).all()
    by_name = [c for c in candidates if _key(c.name) == wanted]
    by_alias = [c for c in candidates if any(_key(alias) == wanted for alias in c.aliases)]
    return (by_name or by_alias or [None])[0]


def _same_name(name: str, country: str) -> Institution | None:
    """The institution of that country with that name, whatever its case and spacing."""
    candidates = db.session.scalars(select(Institution).where(
        Institution.country == country, Institution.name.icontains(_spaced(name), autoescape=True)))
    return next((c for c in candidates if _key(c.name) == _key(name)), None)


def add_unverified(name: str, country: str, *, by: User) -> Institution:
    """An advisor's new institution: in the registry at once, unverified until an admin decides."""
    data = InstitutionData(name=_spaced(name), country=country, aliases=[], rank=None, renowned=None, source="")
    _check(data)
    if find_exact(data.name, country) is not None:
        raise DomainError(f"{data.name} is already in the registry.")
    institution = Institution(name=data.name, country=country, aliases=[], verified=False, created_by_id=by.id,
                              source="")
    db.session.add(institution)
    db.session.flush()
    audit.record("institution.create", actor=by, obj=institution, details=audit.snapshot(institution))
    return institution


def _assign(institution: Institution, data: InstitutionData) -> None:
    institution.name = _spaced(data.name)
    institution.country = data.country
    institution.aliases = _clean_aliases(data.aliases, data.name)
    institution.rank = data.rank
    institution.renowned = data.renowned
    institution.source = data.source.strip()


def save(institution: Institution | None, data: InstitutionData, *, by: User,
         version: int | None = None) -> Institution:
    """An admin creates or edits an institution; saving it is the admin's decision, so it is verified.

    Two institutions of one country cannot share a name (ignoring case and spacing)."""
    if not by.is_admin:
        raise DomainError("Only an admin can decide on an institution.")
    if institution is not None and version is not None and version != institution.version:
        raise Conflict()
    _check(data)
    other = _same_name(data.name, data.country)
    if other is not None and other is not institution:
        raise DomainError(f"{_spaced(data.name)} ({data.country}) is already in the registry.")
    creating = institution is None
    if institution is None:
        institution = Institution(created_by_id=by.id)
        db.session.add(institution)
    _assign(institution, data)
    institution.verified = True
    details = None if creating else audit.changes(institution)
    db.session.flush()
    if creating:
        audit.record("institution.create", actor=by, obj=institution, details=audit.snapshot(institution))
    elif details:
        audit.record("institution.update", actor=by, obj=institution, details=details)
        assessments.refresh_out_of_date(assessments.cases_resting_on([institution.id]))
    return institution


def registry(*, q: str = "", show: str | None = None, sort: str = "name") -> Select[tuple[Institution]]:
    """The registry page's rows: matching `q` by name or alias, optionally only the verified,
    unverified or renowned ones; sorted by name, country, rank (unranked last) or last update."""
    query = select(Institution)
    if _spaced(q):
        query = query.where(_matches(_spaced(q)))
    if show == "verified":
        query = query.where(Institution.verified.is_(True))
    elif show == "unverified":
        query = query.where(Institution.verified.is_(False))
    elif show == "renowned":
        query = query.where(Institution.renowned.is_(True))
    return query.order_by(*_ordering(sort), Institution.id)


SORTS: dict[str, tuple[Any, ...]] = {
    "name": (func.lower(Institution.name),),
    "country": (Institution.country, func.lower(Institution.name)),
    "rank": (Institution.rank, func.lower(Institution.name)),
    "updated": (Institution.updated_at,),
}


def _ordering(sort: str) -> list[Any]:
    """A sort key from SORTS; a leading '-' sorts descending; an unknown key sorts by name."""
    key = sort.removeprefix("-")
    descending = sort.startswith("-") and key in SORTS
    columns = SORTS.get(key, SORTS["name"])
    return [(column.desc() if descending else column.asc()).nulls_last() for column in columns]


def count_unverified() -> int:
    return db.session.scalar(select(func.count()).select_from(Institution)
                             .where(Institution.verified.is_(False))) or 0


# CSV import ---------------------------------------------------------------------------------------

@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[str] = field(default_factory=list)


def decode_csv(raw: bytes) -> str:
    """The text of an uploaded CSV file: UTF-8, with or without a byte-order mark."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DomainError("The file is not UTF-8 text. Save it as “CSV UTF-8” (in Excel: File › Save As › "
                          "CSV UTF-8) and import it again.") from None
    if "\x00" in text:
        raise DomainError("The file is not a CSV text file.")
    return text


def _parse_bool(value: str) -> bool | None:
    word = value.strip().lower()
    if not word:
        return None
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise DomainError(f"renowned must be yes, no or empty, not {value!r}")


def _parse_row(row: dict[str, Any]) -> InstitutionData:
    if any(str(value).strip() for value in row.get("_extra") or ()):
        raise DomainError("more values than columns; put a name that contains a comma in double quotes")
    try:
        rank = int(row["rank"]) if row.get("rank") else None
    except ValueError:
        raise DomainError(f"rank must be a whole number, not {row['rank']!r}") from None
    data = InstitutionData(name=_spaced(row.get("name", "")), country=row.get("country", "").upper(),
                           aliases=row.get("aliases", "").split("|"), rank=rank,
                           renowned=_parse_bool(row.get("renowned", "")), source=row.get("source", ""))
    _check(data)
    return data


def _read_rows(text: str, report: ImportReport) -> list[tuple[int, InstitutionData]]:
    """Every row checked; problems go to the report as "line N: …" (N counts from the header, line 1)."""
    reader = csv.DictReader(io.StringIO(text.removeprefix("\ufeff"), newline=""), restkey="_extra")
    rows: list[tuple[int, InstitutionData]] = []
    seen: dict[tuple[str, str], int] = {}
    try:
        header = [(name or "").strip().lower() for name in (reader.fieldnames or [])]
        unknown = [name for name in header if name and name not in CSV_COLUMNS]
        if not {"name", "country"} <= set(header) or unknown:
            problem = f" (unknown: {', '.join(unknown)})" if unknown else ""
            report.errors.append(f"line 1: the header needs the columns name and country and may have "
                                 f"{', '.join(CSV_COLUMNS[2:])}{problem}")
            return rows
        for raw in reader:
            line = reader.line_num
            row = {(k or "").strip().lower(): v.strip() if isinstance(v, str) else v for k, v in raw.items()}
            row = {k: "" if v is None else v for k, v in row.items()}
            try:
                data = _parse_row(row)
            except DomainError as error:
                report.errors.append(f"line {line}: {error}")
                continue
            key = (_key(data.name), data.country)
            if key in seen:
                report.errors.append(f"line {line}: {data.name} ({data.country}) is already on line {seen[key]}")
                continue
            seen[key] = line
            rows.append((line, data))
    except csv.Error as error:  # the record being read has not been counted yet
        report.errors.append(f"line {reader.line_num + 1}: {error}")
    return rows


def import_csv(text: str, *, by: User | None) -> ImportReport:
    """Import `name,country,aliases,rank,renowned,source` rows; aliases are separated by `|`.

    Rows match existing institutions by name (ignoring case and spacing) and country and update them:
    the file is the registry's word. A row with a judgement (renowned or rank) is verified; a row
    without one leaves an institution as verified as it was. Every row is checked first: with any
    error, nothing is imported and the report lists the errors by line.
    """
    report = ImportReport()
    rows = _read_rows(text, report)
    if report.errors:
        return report
    changed = []
    for _line, data in rows:
        institution = _same_name(data.name, data.country)
        creating = institution is None
        if institution is None:
            institution = Institution(created_by_id=by.id if by else None, verified=False)
            db.session.add(institution)
        _assign(institution, data)
        institution.verified = bool(institution.verified) or data.renowned is not None or data.rank is not None
        details = None if creating else audit.changes(institution)
        db.session.flush()
        if creating:
            report.created += 1
            audit.record("institution.create", actor=by, obj=institution, details=audit.snapshot(institution))
        elif details:
            report.updated += 1
            changed.append(institution.id)
            audit.record("institution.update", actor=by, obj=institution, details=details)
        else:
            report.unchanged += 1
    assessments.refresh_out_of_date(assessments.cases_resting_on(changed))
    if report.created or report.updated:
        audit.record("institution.import", actor=by, details={"created": report.created, "updated": report.updated,
                                                              "unchanged": report.unchanged})
    return report


class InstitutionNotFound(DomainError):
    """No institution has the typed name: the user picks a near match or confirms a new one."""

    def __init__(self, name: str, candidates: list[Institution]) -> None:
        self.candidates = candidates
        hint = " Pick one of the similar names, or" if candidates else ""
        super().__init__(f"“{name}” is not in the registry.{hint} tick “Add it as a new institution” "
                         "and choose its country.")


def resolve(name: str, *, country: str | None, confirm_new: bool, by: User) -> Institution:
    """The institution a form names: an exact match by name or alias, or, when the user confirms it,
    a new unverified one. Otherwise InstitutionNotFound lists similar names to choose from."""
    found = find_exact(name)
    if found is not None:
        return found
    if confirm_new and country:
        return add_unverified(name, country, by=by)
    raise InstitutionNotFound(" ".join(name.split()), similar(name))


def similar(name: str, *, limit: int = 8) -> list[Institution]:
    """Near matches for a name that matched nothing exactly: shared words, then close spellings."""
    words = [w for w in name.split() if len(w) >= 3]
    found = search(name) + [i for w in words[:4] for i in search(w, limit=5)]
    by_name: dict[str, int] = {}
    for row in db.session.execute(select(Institution.id, Institution.name, Institution.aliases).limit(20_000)):
        for label in (row.name, *(row.aliases or [])):
            by_name[label.lower()] = row.id
    close = difflib.get_close_matches(name.lower(), list(by_name), n=limit, cutoff=0.75)
    found += [db.session.get(Institution, by_name[label]) for label in close]  # type: ignore[misc]
    return list({i.id: i for i in found if i is not None}.values())[:limit]
