"""Rule sets: one TOML file per version under `rules/`, validated when loaded.

A broken file raises RuleSetError naming the file and the field, and the app refuses to start.
Every parameter carries a status (official, reported or assumed) and at least one source.
"""
from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STATUSES = ("official", "reported", "assumed")
DEGREE_LEVELS = ("other", "bachelor", "master", "doctorate")  # in ascending order
ROLES = ("teaching", "research", "other")
POLICIES = ("registry", "rank")


class RuleSetError(ValueError):
    """A rule-set file is malformed; the message names the file and the field."""


@dataclass(frozen=True)
class Source:
    title: str
    date: dt.date | None = None
    url: str | None = None


@dataclass(frozen=True)
class Parameter:
    """One rule parameter's provenance: how sure we are of it, and why."""

    status: str
    sources: tuple[Source, ...]
    note: str = ""

    @property
    def is_official(self) -> bool:
        return self.status == "official"


@dataclass(frozen=True)
class AgeRule(Parameter):
    min: int = 18
    max: int = 45


@dataclass(frozen=True)
class DegreeRule(Parameter):
    level: str = "bachelor"


@dataclass(frozen=True)
class FieldsRule(Parameter):
    codes: tuple[str, ...] = ()

    def matches(self, code: str | None) -> bool:
        return bool(code) and any(code.startswith(prefix) for prefix in self.codes)  # type: ignore[union-attr]


@dataclass(frozen=True)
class RenownedRule(Parameter):
    policy: str = "registry"
    rank_threshold: int | None = None


@dataclass(frozen=True)
class RolesRule(Parameter):
    roles: tuple[str, ...] = ()


@dataclass(frozen=True)
class RuleSet:
    id: str
    title: str
    effective_from: dt.date
    age: AgeRule
    minimum_degree: DegreeRule
    stem_fields: FieldsRule
    renowned_institution: RenownedRule
    teaching_research_path: RolesRule
    no_sponsor: Parameter
    path: str = ""

    def parameters(self) -> dict[str, Parameter]:
        return {name: getattr(self, name) for name in SECTIONS}


SECTIONS = ("age", "minimum_degree", "stem_fields", "renowned_institution", "teaching_research_path",
            "no_sponsor")


class _Reader:
    """Reads typed values out of parsed TOML, raising RuleSetError with the file and field on error."""

    def __init__(self, filename: str) -> None:
        self.filename = filename

    def fail(self, field: str, problem: str) -> RuleSetError:
        return RuleSetError(f"{self.filename}: {field}: {problem}")

    def get(self, table: dict[str, Any], key: str, kind: type | tuple[type, ...], field: str,
            required: bool = True) -> Any:
        if key not in table:
            if required:
                raise self.fail(field, "is missing")
            return None
        value = table[key]
        if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
            raise self.fail(field, f"must be {_kind_name(kind)}, not {value!r}")
        if not isinstance(value, kind):
            raise self.fail(field, f"must be {_kind_name(kind)}, not {value!r}")
        return value

    def table(self, data: dict[str, Any], key: str) -> dict[str, Any]:
        return self.get(data, key, dict, f"[{key}]")  # type: ignore[no-any-return]

    def only(self, table: dict[str, Any], where: str, allowed: set[str]) -> None:
        """A misspelt key would silently fall back to nothing: refuse keys the format does not have."""
        unknown = sorted(set(table) - allowed)
        if unknown:
            field = f"{where}.{unknown[0]}" if where else unknown[0]
            raise self.fail(field, f"is not a known field (known: {', '.join(sorted(allowed))})")

    def provenance(self, table: dict[str, Any], section: str) -> dict[str, Any]:
        status = self.get(table, "status", str, f"{section}.status")
        if status not in STATUSES:
            raise self.fail(f"{section}.status", f"must be one of {', '.join(STATUSES)}, not {status!r}")
        raw_sources = self.get(table, "sources", list, f"{section}.sources")
        if not raw_sources:
            raise self.fail(f"{section}.sources", "needs at least one source")
        sources = []
        for index, raw in enumerate(raw_sources):
            field = f"{section}.sources[{index}]"
            if not isinstance(raw, dict):
                raise self.fail(field, "must be a table with a title")
            title = self.get(raw, "title", str, f"{field}.title")
            date = self.get(raw, "date", dt.date, f"{field}.date", required=False)
            url = self.get(raw, "url", str, f"{field}.url", required=False)
            sources.append(Source(title=title, date=date, url=url))
        note = self.get(table, "note", str, f"{section}.note", required=False) or ""
        return {"status": status, "sources": tuple(sources), "note": note}


def _kind_name(kind: type | tuple[type, ...]) -> str:
    names = {str: "text", int: "a whole number", list: "a list", dict: "a table", dt.date: "a date"}
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def parse_rule_set(text: str, filename: str) -> RuleSet:
    """Parse and validate one rule-set file's text."""
    read = _Reader(filename)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise RuleSetError(f"{filename}: not valid TOML: {error}") from None
    rule_id = read.get(data, "id", str, "id")
    if Path(filename).stem != rule_id:
        raise read.fail("id", f"must match the file name ({Path(filename).stem!r}), not {rule_id!r}")
    effective = read.get(data, "effective_from", dt.date, "effective_from")
    if isinstance(effective, dt.datetime):
        raise read.fail("effective_from", "must be a date without a time")

    age_t = read.table(data, "age")
    low = read.get(age_t, "min", int, "age.min")
    high = read.get(age_t, "max", int, "age.max")
    if not 0 < low <= high < 120:
        raise read.fail("age", f"needs 0 < min <= max < 120, not min={low} max={high}")

    degree_t = read.table(data, "minimum_degree")
    level = read.get(degree_t, "level", str, "minimum_degree.level")
    if level not in DEGREE_LEVELS[1:]:
        raise read.fail("minimum_degree.level", f"must be one of {', '.join(DEGREE_LEVELS[1:])}, not {level!r}")

    fields_t = read.table(data, "stem_fields")
    codes = read.get(fields_t, "codes", list, "stem_fields.codes")
    if not codes or not all(isinstance(c, str) and c.isdigit() and len(c) in (2, 3, 4) for c in codes):
        raise read.fail("stem_fields.codes", "must list ISCED-F 2013 codes of 2, 3 or 4 digits")

    renowned_t = read.table(data, "renowned_institution")
    policy = read.get(renowned_t, "policy", str, "renowned_institution.policy")
    if policy not in POLICIES:
        raise read.fail("renowned_institution.policy", f"must be one of {', '.join(POLICIES)}, not {policy!r}")
    threshold = read.get(renowned_t, "rank_threshold", int, "renowned_institution.rank_threshold",
                         required=policy == "rank")
    if threshold is not None and threshold < 1:
        raise read.fail("renowned_institution.rank_threshold", "must be 1 or more")

    path_t = read.table(data, "teaching_research_path")
    roles = read.get(path_t, "roles", list, "teaching_research_path.roles")
    if not roles or any(role not in ROLES[:2] for role in roles):
        raise read.fail("teaching_research_path.roles", "must list teaching and/or research")

    sponsor_t = read.table(data, "no_sponsor")
    rule_set = RuleSet(
        id=rule_id,
        title=read.get(data, "title", str, "title"),
        effective_from=effective,
        age=AgeRule(min=low, max=high, **read.provenance(age_t, "age")),
        minimum_degree=DegreeRule(level=level, **read.provenance(degree_t, "minimum_degree")),
        stem_fields=FieldsRule(codes=tuple(codes), **read.provenance(fields_t, "stem_fields")),
        renowned_institution=RenownedRule(policy=policy, rank_threshold=threshold,
                                          **read.provenance(renowned_t, "renowned_institution")),
        teaching_research_path=RolesRule(roles=tuple(roles), **read.provenance(path_t, "teaching_research_path")),
        no_sponsor=Parameter(**read.provenance(sponsor_t, "no_sponsor")),
        path=filename,
    )
    # Last, so a renamed required field is reported as missing rather than as unknown.
    read.only(data, "", {"id", "title", "effective_from", *SECTIONS})
    provenance = {"status", "sources", "note"}
    for section, own in (("age", {"min", "max"}), ("minimum_degree", {"level"}), ("stem_fields", {"codes"}),
                         ("renowned_institution", {"policy", "rank_threshold"}),
                         ("teaching_research_path", {"roles"}), ("no_sponsor", set())):
        read.only(data[section], section, own | provenance)
    return rule_set


def load_rule_sets(folder: Path) -> dict[str, RuleSet]:
    """Every `*.toml` in the folder, validated, by id; versions must have distinct effective dates."""
    found: dict[str, RuleSet] = {}
    for path in sorted(folder.glob("*.toml")):
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as error:
            raise RuleSetError(f"{path.name}: not valid UTF-8: {error}") from None
        rule_set = parse_rule_set(text, path.name)
        clash = next((r for r in found.values() if r.effective_from == rule_set.effective_from), None)
        if clash:
            raise RuleSetError(f"{path.name}: effective_from: same date as {clash.path}")
        found[rule_set.id] = rule_set
    if not found:
        raise RuleSetError(f"{folder}: no rule-set files (*.toml) found")
    return found


def current_rule_set(rule_sets: dict[str, RuleSet], on: dt.date) -> RuleSet:
    """The version in force on a date: the latest whose effective_from is on or before it."""
    in_force = [r for r in rule_sets.values() if r.effective_from <= on]
    if not in_force:
        return min(rule_sets.values(), key=lambda r: r.effective_from)
    return max(in_force, key=lambda r: r.effective_from)
