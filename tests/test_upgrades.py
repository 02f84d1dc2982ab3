"""A practice's database survives every upgrade: built at each earlier revision with a row in every table,
upgraded to head, `flask db check` clean, and the app's main actions working on it — SQLite and PostgreSQL.

The rows come from the tables as they are at that revision: reflected, filled in foreign-key order with
values made from each column's type (a CHECK constraint's first allowed value for enum-like columns), so the
tables and columns a later revision adds get rows without this file changing. `VALUES` holds the few columns
whose meaning the pages rest on (a country code, a consulate, a rule-set id, a real stored file…).
"""
from __future__ import annotations

import datetime as dt
import functools
import hashlib
import io
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pikepdf
import pypdfium2
import pytest
from alembic.script import ScriptDirectory
from bs4 import BeautifulSoup
from flask import Flask
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Connection,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Table,
    Time,
    Uuid,
    inspect,
    select,
    text,
)
from sqlalchemy.exc import DBAPIError
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from advisor import assessments, eligibility, filestore, passwords
from models import Applicant, Case, CaseDocument, CaseStatus, DocumentState, db
from models.applicant import search_text_of

from . import hostile, postgres
from .conftest import PASSWORD, make_app
from .test_applicants_cases import form_values, new_applicant_form, row_ids

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
SCRIPTS = ScriptDirectory(str(MIGRATIONS))
HEAD = SCRIPTS.get_current_head()
# Every revision but the head, oldest first: a database made at any of them must upgrade.
EARLIER = [script.revision for script in reversed(list(SCRIPTS.walk_revisions())) if script.revision != HEAD]

EMAIL = "mei.lin@practice.test"
PASSPORT = "A1234567"


def today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def skipped(table: str) -> bool:
    # Alembic's own table, and the search index (see include_name in migrations/env.py): SQLite's FTS5 table
    # and its shadow tables are written by triggers, never by the app.
    return table == "alembic_version" or table.startswith("applicants_search") or table.startswith("sqlite_")


# Values ---------------------------------------------------------------------------------------------------

@dataclass
class Seed:
    """What the rows are made from, and the rows once inserted (table -> column -> value)."""

    files: dict[str, bytes] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC).replace(microsecond=0)

    def stored(self, name: str, prefix: str, data: bytes) -> str:
        """The key of a file really in the app's storage, so pages that read it work as in production."""
        if name not in self.keys:
            self.files[name], self.keys[name] = data, filestore.write(prefix, data)
        return self.keys[name]

    @functools.cached_property
    def assessment(self) -> dict[str, Any]:
        """An assessment's columns as the app writes them."""
        inputs = eligibility.Inputs(born_on=dt.date(1994, 5, 17), education=(), positions=())
        return assessments.snapshot(inputs, assessments.current_rule_set(), today() - dt.timedelta(days=3))


# Columns whose values the pages and operations rest on; a callable gets the Seed. Everything else is generic.
VALUES: dict[str, dict[str, Any]] = {
    "users": {"email": EMAIL, "name": "Mei Lin", "role": "advisor", "active": True,
              "password_hash": lambda seed: passwords.hash_password(PASSWORD)},
    "applicants": {"family_name": "Okafor", "given_names": "Chidi", "chinese_name": "奥卡福",
                   "born_on": dt.date(1994, 5, 17), "nationality": "NG", "residence_country": "GB",
                   "passport_number": PASSPORT, "passport_issued_on": dt.date(2022, 3, 1),
                   "passport_expires_on": dt.date(2032, 2, 28), "email": "chidi@example.org",
                   "search_text": lambda seed: search_text_of("Okafor", "Chidi", "奥卡福", PASSPORT)},
    "reference_counters": {"year": lambda seed: today().year, "last": 1},
    "cases": {"reference": lambda seed: f"K-{today().year}-000001", "consulate_code": "GB-LON",
              "status": "collecting", "planned_submission_on": lambda seed: today() + dt.timedelta(days=45),
              "outcome": lambda seed: seed.assessment["outcome"],
              "rule_set_id": lambda seed: seed.assessment["rule_set_id"]},
    "case_transitions": {"from_status": "intake", "to_status": "collecting", "note": "Documents next."},
    "tasks": {"title": "Book the visa appointment", "due_on": lambda seed: today() + dt.timedelta(days=10)},
    "audit_events": {"action": "case.create", "object_type": "case",
                     "object_id": lambda seed: seed.rows["cases"]["id"], "changes": {}},
    "institutions": {"name": "University of Lagos", "country": "NG", "aliases": ["UNILAG"], "verified": True},
    "education": {"level": "master", "field_code": "0533", "awarded_on": dt.date(2019, 7, 1), "pending": False},
    "positions": {"role": "research", "field_code": "0533", "started_on": dt.date(2019, 9, 1)},
    "assessments": {name: (lambda seed, name=name: seed.assessment[name])
                    for name in ("rule_set_id", "assessed_on", "outcome", "pathway", "inputs", "criteria")},
    "judgements": {"criterion": lambda seed: seed.rows["assessments"]["criteria"][0]["code"],
                   "decision": "pass", "note": "Seen the certificate."},
    "case_documents": {"requirement_code": "passport", "state": "received", "required": True, "applies": True,
                       "revision": 1, "position": 0, "reason": ""},
    "upload_links": {"requirement_codes": ["passport"],
                     "expires_at": lambda seed: seed.now + dt.timedelta(days=14), "window_uploads": 0},
    "document_files": {"revision": 1, "position": 0, "original_name": "Passport scan.pdf", "kind": "pdf",
                       "content_type": "application/pdf", "page_count": 1, "width": None, "height": None,
                       "storage_key": lambda seed: seed.stored("scan", "uploads", hostile.pdf(text="Old scan")),
                       "pages_key": lambda seed: seed.stored("pages", "pages", hostile.pdf(text="Old scan")),
                       "thumbnail_key": lambda seed: seed.stored("thumbnail", "thumbnails", hostile.png()),
                       "size": lambda seed: len(seed.files["scan"]),
                       "pages_size": lambda seed: len(seed.files["pages"]),
                       "sha256": "0" * 64},
    "packets": {"number": 1, "page_count": 1, "manifest": {}, "cover_letter": "",
                "storage_key": lambda seed: seed.stored("packet", "packets", hostile.pdf(text="Old packet")),
                "size": lambda seed: len(seed.files["packet"]),
                "sha256": lambda seed: hashlib.sha256(seed.files["packet"]).hexdigest()},
}


def check_choices(table: Table) -> dict[str, list[str]]:
    """Enum-like columns: the values a CHECK constraint on one column allows, in its order."""
    found: dict[str, list[str]] = {}
    for constraint in table.constraints:
        if not isinstance(constraint, CheckConstraint):
            continue
        clause = str(constraint.sqltext)
        named = [c.name for c in table.columns if re.search(rf"\b{re.escape(c.name)}\b", clause)]
        literals = re.findall(r"'((?:[^']|'')*)'", clause)
        if len(named) == 1 and literals:
            found[named[0]] = [literal.replace("''", "'") for literal in literals]
    return found


def generic(column: Column[Any], seed: Seed, number: int) -> Any:
    """A value of the column's type that a NOT NULL column with no special meaning accepts."""
    kind = column.type
    if isinstance(kind, Boolean):
        return False
    if isinstance(kind, Integer | BigInteger):
        return 1
    if isinstance(kind, Numeric | Float):
        return 1
    if isinstance(kind, DateTime):
        return seed.now - dt.timedelta(hours=number)
    if isinstance(kind, Date):
        return today() + dt.timedelta(days=number)
    if isinstance(kind, Time):
        return dt.time(9, 30)
    if isinstance(kind, JSON):
        return {}
    if isinstance(kind, LargeBinary):
        return b"\x00\x01"
    if isinstance(kind, Uuid):
        return uuid.uuid4()
    if isinstance(kind, String):  # Text, VARCHAR, CHAR…
        value = f"{column.name}-{number}"
        return value[: kind.length] if kind.length else value
    raise AssertionError(f"{column.table.name}.{column.name}: no generic value for type {kind!r}; add one to "
                         f"generic() or a value to VALUES[{column.table.name!r}] in {Path(__file__).name}")


def row_for(table: Table, seed: Seed) -> dict[str, Any]:
    values = VALUES.get(table.name, {})
    choices = check_choices(table)
    row: dict[str, Any] = {}
    primary = list(table.primary_key.columns)
    for number, column in enumerate(table.columns, start=1):
        if column.name in values:
            value = values[column.name]
            row[column.name] = value(seed) if callable(value) else value
        elif len(primary) == 1 and column is primary[0] and isinstance(column.type, Integer):
            continue  # the database numbers it, and its sequence stays in step for the app's own rows
        elif column.foreign_keys:
            target = next(iter(column.foreign_keys)).column
            parent = seed.rows.get(target.table.name)
            if parent is None and not column.nullable:
                raise AssertionError(f"{table.name}.{column.name} needs a row in {target.table.name}, which has "
                                     f"none: add a value to VALUES[{table.name!r}] in {Path(__file__).name}")
            row[column.name] = parent[target.name] if parent else None
        elif column.nullable:
            row[column.name] = None
        elif column.name in choices:
            row[column.name] = choices[column.name][0]
        else:
            row[column.name] = generic(column, seed, number)
    return row


def insert_rows(connection: Connection, seed: Seed, revision: str) -> None:
    """One row in every table that exists at this revision, parents first."""
    metadata = MetaData()
    metadata.reflect(bind=connection)
    for table in metadata.sorted_tables:
        if skipped(table.name):
            continue
        row = row_for(table, seed)
        try:
            result = connection.execute(table.insert().values(row))
        except DBAPIError as refused:
            raise AssertionError(
                f"At revision {revision}, a generated row for {table.name} was refused: {refused.orig}\n"
                f"row: {row}\nGive the column a value in VALUES[{table.name!r}] in {Path(__file__).name}."
            ) from refused
        row.update(zip([c.name for c in table.primary_key.columns], result.inserted_primary_key, strict=True))
        seed.rows[table.name] = row


# Fixtures and helpers ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def shared_app(backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[Flask]:
    """One app per backend for every revision: each new app would compile every template again."""
    folder = tmp_path_factory.mktemp(f"upgrades-{backend}")
    if backend == "sqlite":
        yield from app_on(f"sqlite:///{folder / 'practice.sqlite3'}", folder)
    else:
        with postgres.database(request.getfixturevalue("pg_server"), "advisor_upgrades") as url:
            yield from app_on(url, folder)


def app_on(url: str, folder: Path) -> Iterator[Flask]:
    app = make_app(url, instance_path=str(folder / "instance"))
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def practice(shared_app: Flask) -> Flask:
    """The app on an empty database: the migrations build the schema."""
    with shared_app.app_context():
        db.session.remove()
        db.engine.dispose()  # no connection (nor a statement it prepared) outlives the schema it knew
        if db.engine.dialect.name == "sqlite":
            for suffix in ("", "-wal", "-shm"):
                Path(f"{db.engine.url.database}{suffix}").unlink(missing_ok=True)
        else:
            with db.engine.begin() as connection:  # pg_trgm lives in the schema and goes with it
                connection.exec_driver_sql("DROP SCHEMA public CASCADE")
                connection.exec_driver_sql("CREATE SCHEMA public")
            db.engine.dispose()
    return shared_app


def flask_db(app: Flask, *args: str, after: str = "") -> None:
    result = app.test_cli_runner().invoke(args=["db", *args])
    assert result.exit_code == 0, (f"flask db {' '.join(args)} failed{after}:\n{result.output}"
                                   f"{result.exception!r}")


def soup(response: Any) -> BeautifulSoup:
    return BeautifulSoup(response.data, "lxml")  # lxml: a quarter of html.parser's time on these pages


def words(response: Any) -> str:
    """A page's text as a reader sees it, whitespace collapsed."""
    return " ".join(soup(response).get_text(" ").split())


def flashes(response: Any) -> list[str]:
    return [" ".join(item.get_text(" ").split()) for item in soup(response).select(".flash")]


def upload(client: Any, url: str, data: bytes, name: str) -> Any:
    boundary, body = encode_multipart(MultiDict([("files", FileStorage(io.BytesIO(data), filename=name))]))
    return client.post(url, data=body, content_type=f"multipart/form-data; boundary={boundary}",
                       follow_redirects=True)


def pdf_text(data: bytes) -> str:
    document = pypdfium2.PdfDocument(data)
    try:
        return "\n".join(document[index].get_textpage().get_text_range() for index in range(len(document)))
    finally:
        document.close()


def fetch(app: Flask, query: Callable[[], Any]) -> Any:
    with app.app_context():
        return query()


# The test ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("revision", EARLIER)
def test_a_database_made_at_an_earlier_revision_upgrades_and_works(practice: Flask, revision: str) -> None:
    app = practice
    flask_db(app, "upgrade", revision)
    seed = Seed()
    with app.app_context(), db.engine.begin() as connection:
        insert_rows(connection, seed, revision)
    with app.app_context():
        db.engine.dispose()  # nothing reflected at the old revision outlives it

    made_at = f" on a database made at {revision} with a row in every table"
    flask_db(app, "upgrade", after=made_at)
    assert fetch(app, lambda: db.session.scalar(text("SELECT version_num FROM alembic_version"))) == HEAD
    flask_db(app, "check", after=made_at)
    with app.app_context():
        remaining = set(inspect(db.engine).get_table_names())
        emptied = [name for name in seed.rows if name in remaining
                   and not db.session.scalar(text(f"SELECT count(*) FROM {name}"))]
    assert not emptied, f"upgrading from {revision} emptied {', '.join(emptied)}"
    use_the_practice(app, seed, revision)


def test_tables_a_later_revision_adds_get_rows_without_this_file_changing(practice: Flask) -> None:
    """What a new revision might add: an enum-like column, a short string, JSON, a required parent; and a
    CHECK the generic values cannot meet, which fails naming the table and where to give it a value."""
    probe = MetaData()
    makers = Table("probe_makers", probe, Column("id", Integer, primary_key=True),
                   Column("code", String(4), nullable=False))
    Table("probe_widgets", probe, Column("id", Integer, primary_key=True),
          Column("shape", String(8), CheckConstraint("shape IN ('round', 'square')", name="shape"), nullable=False),
          Column("spec", JSON, nullable=False), Column("made_on", Date, nullable=False),
          Column("maker_id", Integer, ForeignKey(makers.c.id), nullable=False), Column("note", String(40)))
    with practice.app_context(), db.engine.begin() as connection:
        probe.create_all(connection)
        seed = Seed()
        insert_rows(connection, seed, "probe")
        assert seed.rows["probe_makers"]["code"] == "code"
        widget = connection.execute(select(probe.tables["probe_widgets"])).one()._asdict()
        assert widget == {"id": widget["id"], "shape": "round", "spec": {}, "made_on": today() + dt.timedelta(days=4),
                          "maker_id": seed.rows["probe_makers"]["id"], "note": None}

        Table("probe_limits", probe, Column("id", Integer, primary_key=True),
              Column("size", Integer, CheckConstraint("size > 5", name="size"), nullable=False))
        probe.create_all(connection)
        with pytest.raises(AssertionError, match=r"(?s)At revision probe, a generated row for probe_limits was "
                                                 r"refused: .*Give the column a value in VALUES\['probe_limits'\]"):
            insert_rows(connection, Seed(), "probe")


def test_downgrading_a_database_with_rows_loses_only_what_each_revision_added(practice: Flask) -> None:
    """The way back keeps data too: on SQLite a batch step that recreates a table used to cascade."""
    app = practice
    flask_db(app, "upgrade")
    seed = Seed()
    with app.app_context(), db.engine.begin() as connection:
        insert_rows(connection, seed, HEAD)
    for revision in [*reversed(EARLIER), "base"]:
        flask_db(app, "downgrade", revision, after=" on a database with a row in every table")
        with app.app_context():
            remaining = set(inspect(db.engine).get_table_names())
            emptied = [name for name in seed.rows if name in remaining
                       and not db.session.scalar(text(f"SELECT count(*) FROM {name}"))]
        assert not emptied, f"downgrading to {revision} emptied {', '.join(emptied)}"
    assert not remaining - {"alembic_version"}


def use_the_practice(app: Flask, seed: Seed, revision: str) -> None:
    """Sign in and do a day's work on the case that was made at `revision`; what was made then shows."""
    case_id, applicant_id = seed.rows["cases"]["id"], seed.rows["applicants"]["id"]
    reference = seed.rows["cases"]["reference"]
    client = app.test_client()

    signed_in = client.post("/auth/login", data={"email": EMAIL, "password": PASSWORD})
    assert (signed_in.status_code, signed_in.location) == (302, "/"), words(signed_in)
    dashboard = words(client.get("/"))
    assert "Mei Lin" in dashboard and "1 Collecting" in dashboard and reference in dashboard
    if "case_documents" in seed.rows:
        waiting = dashboard.split("Uploads waiting for review", 1)[1].split("Requested documents overdue", 1)[0]
        assert "Passport data page" in waiting and reference in waiting

    listed = client.get("/cases/")
    assert listed.status_code == 200 and f"{reference} OKAFOR, Chidi 奥卡福 Collecting" in words(listed)
    assert row_ids(listed, "/cases/") == [case_id]
    # The search index was built (0004, 0008) or kept up to date from rows made before it.
    assert row_ids(client.get("/cases/", query_string={"q": PASSPORT.lower()}), "/cases/") == [case_id]
    assert row_ids(client.get("/cases/", query_string={"q": "chidi okafor"}), "/cases/") == [case_id]

    shown = client.get(f"/cases/{case_id}")
    detail = words(shown)
    assert shown.status_code == 200 and f"{reference} Collecting" in detail, detail
    assert "Embassy of the People's Republic of China in the United Kingdom" in detail
    if "case_transitions" in seed.rows:
        assert "Intake → Collecting Documents next." in detail and "Book the visa appointment" in detail
    if "assessments" in seed.rows:
        assessed_on = seed.rows["assessments"]["assessed_on"]
        assert (f"assessed for an application on {assessed_on} under {seed.rows['assessments']['rule_set_id']}"
                in detail)
        assert "Judged met by Mei Lin: Seen the certificate." in words(client.get(f"/cases/{case_id}/eligibility"))

    # Edit the applicant: the form shows what was stored at the old revision, and the change is searchable.
    form = form_values(client.get(f"/applicants/{applicant_id}/edit"))
    assert (form["family_name"], form["passport_number"], form["nationality"]) == ("Okafor", PASSPORT, "NG")
    form.update(family_name="Okafor-Adeyemi", notes="Moved to Leeds.")
    edited = client.post(f"/applicants/{applicant_id}/edit", data=form, follow_redirects=True)
    assert "Chidi OKAFOR-ADEYEMI" in words(edited), words(edited)
    assert row_ids(client.get("/cases/", query_string={"q": "adeyemi"}), "/cases/") == [case_id]

    client.post(f"/cases/{case_id}/eligibility/run")
    eligibility = words(client.get(f"/cases/{case_id}/eligibility"))
    rule_set = fetch(app, lambda: assessments.current_rule_set().id)
    # Made today, for the day the application is made (the planned submission date when later).
    made_for = fetch(app, lambda: assessments.latest(db.session.get(Case, case_id)).assessed_on)
    assert made_for == max(today(), fetch(app, lambda: db.session.get(Case, case_id).planned_submission_on))
    assert f"Made on {today()} for an application on {made_for}" in eligibility, eligibility
    assert f"under {rule_set} by Mei Lin" in eligibility, eligibility
    assert fetch(app, lambda: db.session.get(Case, case_id).rule_set_id) == rule_set

    # Documents: the checklist is completed around the line made at the old revision, a new upload is
    # accepted, and the files stored before the upgrade are still served.
    synced = client.post(f"/cases/{case_id}/documents/checklist", follow_redirects=True)
    assert "The checklist is up to date." in flashes(synced), words(synced)
    lines = fetch(app, lambda: dict(db.session.execute(
        select(CaseDocument.requirement_code, CaseDocument.id).where(CaseDocument.case_id == case_id)).all()))
    assert {"passport", "photo", "cv"} <= set(lines)
    uploaded = upload(client, f"/cases/{case_id}/documents/{lines['passport']}/upload",
                      hostile.pdf(pages=2, text="Passport data page"), "Passport.pdf")
    assert any("ready for review" in message for message in flashes(uploaded)), words(uploaded)
    version = fetch(app, lambda: db.session.get(CaseDocument, lines["passport"]).version)
    accepted = client.post(f"/cases/{case_id}/documents/{lines['passport']}/accept",
                           data={"version": version, "reason": ""}, follow_redirects=True)
    assert "Accepted: Passport data page." in flashes(accepted), words(accepted)
    assert fetch(app, lambda: db.session.get(CaseDocument, lines["passport"]).state) == DocumentState.ACCEPTED
    if "document_files" in seed.rows:
        old = client.get(f"/cases/{case_id}/documents/files/{seed.rows['document_files']['id']}")
        assert (old.status_code, old.mimetype, old.data) == (200, "application/pdf", seed.files["scan"])
    if "packets" in seed.rows:
        stored = client.get(f"/cases/{case_id}/packets/{seed.rows['packets']['id']}")
        assert (stored.status_code, stored.mimetype, stored.data) == (200, "application/pdf", seed.files["packet"])

    draft = client.post(f"/cases/{case_id}/packets/draft", data={"cover_letter": "Dear Consul,"})
    assert (draft.status_code, draft.mimetype) == (200, "application/pdf"), words(draft)
    with pikepdf.open(io.BytesIO(draft.data)) as pdf:
        assert len(pdf.pages) >= 4  # cover, index, summaries, then the accepted passport's two pages
    printed = pdf_text(draft.data)
    assert reference in printed and "DRAFT" in printed and "Passport data page" in printed

    withdrawn = client.post(f"/cases/{case_id}/status", data={"status": "withdrawn", "note": "Applicant withdrew."},
                            follow_redirects=True)
    assert f"{reference} is now withdrawn." in flashes(withdrawn), words(withdrawn)
    assert fetch(app, lambda: db.session.get(Case, case_id).status) == CaseStatus.WITHDRAWN

    # A new applicant's case takes the next reference: the counter made at the old revision carries on.
    opened = client.post("/applicants/new", data=new_applicant_form(passport_number="B7654321"))
    assert opened.status_code == 302, words(opened)
    newest = fetch(app, lambda: db.session.scalars(select(Case).order_by(Case.id.desc())).first())
    assert (newest.reference, newest.advisor_id) == (f"K-{today().year}-000002", seed.rows["users"]["id"])
    assert fetch(app, lambda: db.session.get(Applicant, newest.applicant_id).family_name) == "Okafor"
