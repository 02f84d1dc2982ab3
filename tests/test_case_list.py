"""The case list at scale: filters, the CSV export, the number of SQL statements, and seed-demo --cases."""
from __future__ import annotations

import csv
import datetime as dt
import io
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from bs4 import BeautifulSoup
from sqlalchemy import delete, event, func, select

from advisor import case_export, cases, documents
from advisor.database import WRITE
from models import (
    Applicant,
    Assessment,
    AuditEvent,
    Case,
    CaseDocument,
    CaseStatus,
    DocumentState,
    Education,
    Position,
    Role,
    User,
    db,
)

from .conftest import PASSWORD

HEADER = ["Reference", "Status", "Family name", "Given names", "Nationality", "Passport number", "Consulate",
          "Advisor", "Planned submission", "Outcome", "Rule set", "Updated at (UTC)"]


def page(response: Any) -> BeautifulSoup:
    return BeautifulSoup(response.data, "html.parser")


def row_ids(response: Any) -> list[int]:
    body = page(response).select_one("table.table tbody")
    if body is None:
        return []
    return [int(link["href"].removeprefix("/cases/")) for link in body.select("a[href^='/cases/']")
            if link["href"].removeprefix("/cases/").isdigit()]


def csv_rows(response: Any) -> list[list[str]]:
    text = response.data.decode("utf-8")
    assert text.startswith("\ufeff")  # so that Excel reads UTF-8
    return list(csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline="")))


def set_case(case: Case, **values: Any) -> Case:
    for name, value in values.items():
        setattr(case, name, value)
    db.session.commit()
    return case


@pytest.fixture
def practice(make_case, advisor, other_advisor):  # type: ignore[no-untyped-def]
    """Five cases, two advisors, every filter value told apart."""
    made = {
        "adams": make_case(advisor, family_name="Adams", given_names="Zed", nationality="US",
                           status=CaseStatus.READY),
        "brown": make_case(advisor, family_name="Brown", given_names="Mei", nationality="GB",
                           status=CaseStatus.COLLECTING),
        "chen": make_case(advisor, family_name="Chen", given_names="Li", chinese_name="陈立", nationality="CN",
                          status=CaseStatus.COLLECTING),
        "diaz": make_case(other_advisor, family_name="Diaz", given_names="Ana", nationality="US",
                          status=CaseStatus.APPROVED),
        "evans": make_case(other_advisor, family_name="Evans", given_names="Tom", nationality="GB",
                           status=CaseStatus.INTAKE),
    }
    set_case(made["adams"], consulate_code="US-NYC", outcome="eligible", rule_set_id="k-2025-10")
    set_case(made["brown"], consulate_code="GB-LON", outcome="needs_review", rule_set_id="k-2025-10")
    set_case(made["chen"], consulate_code="DE-BER", outcome="not_eligible", rule_set_id="k-2025-10")
    set_case(made["diaz"], consulate_code="US-NYC", outcome="eligible", rule_set_id="k-2025-10")
    set_case(made["evans"], consulate_code="GB-LON", outcome=None)
    return made


def ids(practice: dict[str, Case], *names: str) -> list[int]:
    return sorted(practice[name].id for name in names)


# Filters ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("query", "expected"), [
    ({}, ["adams", "brown", "chen", "diaz", "evans"]),
    ({"status": "collecting"}, ["brown", "chen"]),
    ({"status": "approved"}, ["diaz"]),
    ({"status": "withdrawn"}, []),
    ({"consulate": "US-NYC"}, ["adams", "diaz"]),
    ({"consulate": "gb-lon"}, ["brown", "evans"]),
    ({"nationality": "US"}, ["adams", "diaz"]),
    ({"nationality": "gb"}, ["brown", "evans"]),
    ({"outcome": "eligible"}, ["adams", "diaz"]),
    ({"outcome": "needs_review"}, ["brown"]),
    ({"outcome": "not_eligible"}, ["chen"]),
    ({"outcome": "not_assessed"}, ["evans"]),
    # Combined with each other and with the search.
    ({"status": "collecting", "nationality": "CN"}, ["chen"]),
    ({"consulate": "US-NYC", "outcome": "eligible", "nationality": "US"}, ["adams", "diaz"]),
    ({"consulate": "US-NYC", "status": "ready", "q": "adams"}, ["adams"]),
    ({"consulate": "US-NYC", "q": "brown"}, []),
    ({"outcome": "not_eligible", "q": "陈"}, ["chen"]),
    # Unknown values filter nothing, and never fail.
    ({"status": "bogus"}, ["adams", "brown", "chen", "diaz", "evans"]),
    ({"consulate": "XX-NOWHERE", "nationality": "ZZ", "outcome": "maybe"},
     ["adams", "brown", "chen", "diaz", "evans"]),
    ({"nationality": "USA", "outcome": "ELIGIBLE", "status": " "}, ["adams", "brown", "chen", "diaz", "evans"]),
    ({"consulate": "x" * 5000, "status": "'; DROP TABLE cases; --"}, ["adams", "brown", "chen", "diaz", "evans"]),
])
def test_admin_filters_the_case_list(client, auth, admin, practice, query, expected):
    auth.login(admin.email)
    response = client.get("/cases/", query_string=query)
    assert response.status_code == 200
    assert sorted(row_ids(response)) == ids(practice, *expected)


def settle(case: Case, *, leave: DocumentState | None = None) -> None:
    """Accept-or-waive every required line of the case; `leave` puts its first required line in that state."""
    lines = [line for line in documents.lines_of(case) if line.required and line.applies]
    for line in lines:
        line.state, line.reason = DocumentState.WAIVED, "On paper"
    if leave is not None:
        lines[0].state = leave
    db.session.commit()


@pytest.mark.parametrize(("value", "expected"), [
    ("complete", ["adams", "diaz"]),
    ("incomplete", ["brown", "chen", "evans"]),
    ("to_review", ["adams", "brown"]),  # an optional upload waits for review too
    ("", ["adams", "brown", "chen", "diaz", "evans"]),
    ("nonsense", ["adams", "brown", "chen", "diaz", "evans"]),
])
def test_the_documents_filter_follows_each_cases_checklist(client, auth, admin, practice, value, expected):
    settle(practice["adams"])
    settle(practice["diaz"])
    settle(practice["brown"], leave=DocumentState.RECEIVED)  # an upload waiting: incomplete and to review
    settle(practice["chen"], leave=DocumentState.REJECTED)
    # evans: nothing collected yet. An optional line or one that no longer applies never counts:
    optional = next(line for line in documents.lines_of(practice["adams"]) if not line.required)
    optional.state = DocumentState.RECEIVED
    dropped = next(line for line in documents.lines_of(practice["diaz"]) if line.required)
    dropped.applies, dropped.state = False, DocumentState.MISSING
    db.session.commit()
    auth.login(admin.email)
    response = client.get("/cases/", query_string={"documents": value})
    assert sorted(row_ids(response)) == ids(practice, *expected)


def test_the_case_list_shows_each_cases_completeness(client, auth, advisor, practice):
    settle(practice["adams"])
    settle(practice["brown"], leave=DocumentState.MISSING)
    auth.login(advisor.email)
    rows = page(client.get("/cases/")).select("table.table tbody tr")
    shown = {row.select_one("a.mono").text: row.select_one("progress") for row in rows}
    for name, settled_less in (("adams", 0), ("brown", 1)):
        total = len([line for line in documents.lines_of(practice[name]) if line.required])
        assert shown[practice[name].reference]["max"] == str(total)
        assert shown[practice[name].reference]["value"] == str(total - settled_less)


@pytest.mark.parametrize("value", ["", "abc", "-1", "0", "999999", "99999999999999999999999", "1.5", "１"])
def test_an_unknown_advisor_filters_nothing(client, auth, admin, practice, value):
    auth.login(admin.email)
    response = client.get("/cases/", query_string={"advisor": value})
    assert response.status_code == 200
    assert sorted(row_ids(response)) == ids(practice, "adams", "brown", "chen", "diaz", "evans")


def test_admin_filters_by_advisor(client, auth, admin, advisor, other_advisor, practice, make_user):
    auth.login(admin.email)
    assert sorted(row_ids(client.get("/cases/", query_string={"advisor": advisor.id}))) == ids(
        practice, "adams", "brown", "chen")
    assert sorted(row_ids(client.get("/cases/", query_string={"advisor": other_advisor.id,
                                                              "status": "intake"}))) == ids(practice, "evans")
    assert row_ids(client.get("/cases/", query_string={"advisor": admin.id})) == []  # an admin may hold cases
    # A deactivated advisor still holds their cases, and is still offered as a filter.
    other_advisor.active = False
    db.session.commit()
    response = client.get("/cases/", query_string={"advisor": other_advisor.id})
    assert sorted(row_ids(response)) == ids(practice, "diaz", "evans")
    offered = {o["value"] for o in page(response).select("select[name=advisor] option")}
    assert offered == {"", str(admin.id), str(advisor.id), str(other_advisor.id)}


def test_an_advisor_always_sees_only_their_own_cases(client, auth, advisor, other_advisor, practice):
    auth.login(advisor.email)
    everything_mine = ids(practice, "adams", "brown", "chen")
    assert sorted(row_ids(client.get("/cases/"))) == everything_mine
    # Asking for someone else's cases is ignored: the list stays the advisor's own.
    assert sorted(row_ids(client.get("/cases/", query_string={"advisor": other_advisor.id}))) == everything_mine
    assert row_ids(client.get("/cases/", query_string={"status": "approved"})) == []  # Diaz is not theirs
    assert sorted(row_ids(client.get("/cases/", query_string={"nationality": "US"}))) == ids(practice, "adams")


def test_the_filter_form_shows_what_is_applied(client, auth, admin, advisor, practice):
    auth.login(admin.email)
    response = client.get("/cases/", query_string={"status": "collecting", "advisor": advisor.id,
                                                   "consulate": "gb-lon", "nationality": "bogus",
                                                   "outcome": "needs_review", "q": "brown", "sort": "applicant"})
    form = page(response).select_one("form.filters-form")
    assert form is not None and form["method"] == "get"  # a plain GET form: works without JavaScript

    def chosen(name: str) -> str:
        option = form.select_one(f"select[name={name}] option[selected]")
        return option["value"] if option else ""

    assert (chosen("status"), chosen("advisor"), chosen("consulate"), chosen("nationality"), chosen("outcome")) == (
        "collecting", str(advisor.id), "GB-LON", "", "needs_review")
    assert form.select_one("input[name=q]")["value"] == "brown"
    assert form.select_one("input[name=sort]")["value"] == "applicant"
    outcomes = [option.text for option in form.select("select[name=outcome] option")]
    assert outcomes == ["Any outcome", "Eligible", "Needs review", "Not eligible", "Not assessed"]
    assert row_ids(response) == ids(practice, "brown")


def test_advisors_are_not_offered_an_advisor_filter(client, auth, advisor, practice):
    auth.login(advisor.email)
    form = page(client.get("/cases/")).select_one("form.filters-form")
    assert form.select_one("select[name=advisor]") is None
    assert {s["name"] for s in form.select("select")} == {"status", "consulate", "nationality", "outcome",
                                                          "documents"}


class TestLinksKeepTheFilters:
    @pytest.fixture
    def app_config(self) -> dict[str, Any]:
        return {"PAGE_SIZE": 2}

    def test_pagination_sort_and_export_links_keep_filters_and_search(self, client, auth, advisor, make_case):
        for index in range(5):
            make_case(advisor, family_name=f"Person{index}", nationality="FR", status=CaseStatus.COLLECTING)
        make_case(advisor, family_name="Other", nationality="FR", status=CaseStatus.READY)
        auth.login(advisor.email)
        query = {"status": "collecting", "nationality": "FR", "q": "person", "sort": "applicant"}
        response = client.get("/cases/", query_string=query)
        soup = page(response)
        links = [a["href"] for a in soup.select("nav.pagination a")]
        links += [a["href"] for a in soup.select("thead a")]
        links.append(soup.select_one("p.export a")["href"])
        assert len(links) >= 4
        for href in links:
            args = {key: values[0] for key, values in parse_qs(urlsplit(href).query).items()}
            assert {key: args.get(key) for key in ("status", "nationality", "q")} == {
                "status": "collecting", "nationality": "FR", "q": "person"}, href
        seen = []
        for number in (1, 2, 3):
            seen += row_ids(client.get("/cases/", query_string={**query, "page": number}))
        assert len(seen) == len(set(seen)) == 5

    def test_export_link_counts_every_page(self, client, auth, advisor, make_case):
        for index in range(3):
            make_case(advisor, family_name=f"Person{index}")
        auth.login(advisor.email)
        link = page(client.get("/cases/")).select_one("p.export a")
        assert link.text.strip() == "Export these 3 cases as CSV"
        assert urlsplit(link["href"]).path == "/cases/export.csv"


def test_the_search_ignores_case_in_any_script(client, auth, advisor, make_case):
    mine = make_case(advisor, family_name="Müller", given_names="Émilie")
    auth.login(advisor.email)
    for q in ("MÜLLER", "müller", "émilie müller", "Müller Émilie", "  ÉMILIE   MÜLLER "):
        assert row_ids(client.get("/cases/", query_string={"q": q})) == [mine.id], q


def test_case_filters_keep_only_known_values(app, admin, advisor):
    raw = {"status": "READY", "advisor": str(advisor.id), "consulate": "de-ber", "nationality": "cn",
           "outcome": "not_assessed", "other": "x"}
    assert cases.case_filters(admin, raw) == {"advisor": str(advisor.id), "consulate": "DE-BER",
                                              "nationality": "CN", "outcome": "not_assessed"}
    assert cases.case_filters(advisor, raw) == {"consulate": "DE-BER", "nationality": "CN",
                                                "outcome": "not_assessed"}
    assert cases.case_filters(admin, {"status": "ready"}) == {"status": "ready"}
    assert cases.case_filters(admin, {}) == {}


# The CSV export ----------------------------------------------------------------------------------------

def test_export_has_a_header_and_a_row_per_case(client, auth, admin, advisor, practice):
    adams = set_case(practice["adams"], planned_submission_on=dt.date(2027, 3, 4))
    auth.login(admin.email)
    response = client.get("/cases/export.csv", query_string={"sort": "reference"})
    assert response.status_code == 200
    assert response.mimetype == "text/csv" and response.mimetype_params["charset"] == "utf-8"
    today = dt.datetime.now(dt.UTC).date().isoformat()
    assert response.headers["Content-Disposition"] == f'attachment; filename="cases-{today}.csv"'
    rows = csv_rows(response)
    assert rows[0] == HEADER
    assert [row[0] for row in rows[1:]] == [practice[name].reference
                                            for name in ("adams", "brown", "chen", "diaz", "evans")]
    applicant = adams.applicant
    assert rows[1] == [adams.reference, "ready", "Adams", "Zed", "US", applicant.passport_number, "US-NYC",
                       advisor.name, "2027-03-04", "eligible", "k-2025-10",
                       adams.updated_at.astimezone(dt.UTC).isoformat(timespec="seconds")]
    assert rows[1][-1].endswith("+00:00")
    assert rows[5][9:11] == ["not_assessed", ""]  # Evans: never assessed


def test_export_applies_filters_search_and_sort_and_is_audited(client, auth, admin, practice):
    auth.login(admin.email)
    response = client.get("/cases/export.csv", query_string={"nationality": "us", "outcome": "eligible",
                                                             "status": "bogus", "sort": "-applicant"})
    assert [row[2] for row in csv_rows(response)[1:]] == ["Diaz", "Adams"]
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "case.export")).one()
    assert event.actor_id == admin.id
    assert event.changes == {"nationality": "US", "outcome": "eligible", "sort": "-applicant", "rows": 2}

    response = client.get("/cases/export.csv", query_string={"q": "brown"})
    assert [row[2] for row in csv_rows(response)[1:]] == ["Brown"]
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "case.export")
                                .order_by(AuditEvent.id)).all()
    assert events[-1].changes == {"search": "brown", "sort": "-updated", "rows": 1}


def test_an_exported_passport_search_is_masked_in_the_audit_log(client, auth, advisor, make_case):
    case = make_case(advisor, passport_number="XK7654321")
    auth.login(advisor.email)
    rows = csv_rows(client.get("/cases/export.csv", query_string={"q": "xk7654321"}))
    assert rows[1][5] == "XK7654321"
    logged = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "case.export")).one().changes
    assert "7654321" not in str(logged) and logged["search"].endswith("321")
    client.get("/cases/export.csv", query_string={"q": case.reference.lower()})
    references = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "case.export")
                                    .order_by(AuditEvent.id.desc())).first().changes
    assert references["search"] == case.reference.lower()


def test_export_writes_non_ascii_names_as_they_are(client, auth, advisor, make_case):
    make_case(advisor, family_name="Zhang", given_names="Emily", chinese_name="张怡", nationality="US")
    make_case(advisor, family_name="Müller", given_names="Jonas", nationality="DE")
    make_case(advisor, family_name="Yılmaz", given_names="Emre", nationality="TR")
    auth.login(advisor.email)
    rows = csv_rows(client.get("/cases/export.csv", query_string={"sort": "reference"}))
    assert [row[2:4] for row in rows[1:]] == [["Zhang", "Emily"], ["Müller", "Jonas"], ["Yılmaz", "Emre"]]
    assert "张怡" not in "".join(",".join(row) for row in rows)  # the Chinese name is not a column…
    found = csv_rows(client.get("/cases/export.csv", query_string={"q": "张怡"}))
    assert [row[2] for row in found[1:]] == ["Zhang"]  # …but it is searched


@pytest.mark.parametrize(("family_name", "written"), [
    ("=HYPERLINK(\"http://evil.example\",\"x\")", "'=HYPERLINK(\"http://evil.example\",\"x\")"),
    ("+SUM(1,2)", "'+SUM(1,2)"),
    ("-2+3", "'-2+3"),
    ("@cmd", "'@cmd"),
    ("\t=1", "'\t=1"),
    ("\r=1", "'\r=1"),
    ("O'Brien", "O'Brien"),
    ("Smith-Jones", "Smith-Jones"),
    ("Ng", "Ng"),
])
def test_export_defuses_formulas(client, auth, advisor, make_case, family_name, written):
    case = make_case(advisor, family_name="Placeholder", given_names="=1+1")
    # Written past the operations' stripping, as an import or an old row could hold it.
    db.session.execute(Applicant.__table__.update().where(Applicant.__table__.c.id == case.applicant_id)
                       .values(family_name=family_name))
    db.session.commit()
    auth.login(advisor.email)
    rows = csv_rows(client.get("/cases/export.csv"))
    assert rows[1][2:4] == [written, "'=1+1"]


@pytest.mark.parametrize(("value", "safe"), [
    ("=1", "'=1"), ("+1", "'+1"), ("-1", "'-1"), ("@x", "'@x"), ("\tx", "'\tx"), ("\rx", "'\rx"),
    ("", ""), ("a=b", "a=b"), (" =1", " =1"), ("K-2026-000001", "K-2026-000001"), ("2026-01-01", "2026-01-01"),
])
def test_safe_cell(value, safe):
    assert case_export.safe_cell(value) == safe


def test_export_of_nothing_is_the_header_alone(client, auth, advisor, practice):
    auth.login(advisor.email)
    rows = csv_rows(client.get("/cases/export.csv", query_string={"status": "withdrawn"}))
    assert rows == [HEADER]


def test_export_respects_access(client, auth, admin, advisor, other_advisor, practice):
    auth.login(advisor.email)
    mine = csv_rows(client.get("/cases/export.csv"))
    assert sorted(row[0] for row in mine[1:]) == sorted(practice[n].reference for n in ("adams", "brown", "chen"))
    # An advisor cannot widen the export to someone else's cases.
    theirs = csv_rows(client.get("/cases/export.csv", query_string={"advisor": other_advisor.id}))
    assert theirs == mine
    auth.logout()

    auth.login(admin.email)
    everything = csv_rows(client.get("/cases/export.csv"))
    assert len(everything) == 6
    only = csv_rows(client.get("/cases/export.csv", query_string={"advisor": other_advisor.id}))
    assert sorted(row[0] for row in only[1:]) == sorted(practice[n].reference for n in ("diaz", "evans"))
    auth.logout()

    response = client.get("/cases/export.csv")
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/auth/login"


def test_export_asks_for_the_password_again_after_a_while(app, client, auth, admin, practice):
    auth.login(admin.email)
    with client.session_transaction() as session:
        session["auth_at"] = int(time.time()) - app.config["REAUTH_MINUTES"] * 60 - 5
    response = client.get("/cases/export.csv", query_string={"q": "brown", "sort": "reference"})
    assert response.status_code == 302 and response.content_type == "text/html; charset=utf-8"
    target = urlsplit(response.location)
    assert target.path == "/auth/confirm"
    assert parse_qs(target.query)["next"] == ["/cases/export.csv?q=brown&sort=reference"]
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == "case.export")) == 0  # nothing left the system

    confirmed = client.post(target.path + "?" + target.query, data={"password": PASSWORD})
    assert confirmed.status_code == 302 and confirmed.location == "/cases/export.csv?q=brown&sort=reference"
    response = client.get(confirmed.location)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert [row[0] for row in csv_rows(response)[1:]] == [practice["brown"].reference]


def test_deleted_cases_are_not_exported(client, auth, admin, practice):
    set_case(practice["chen"], deleted_at=dt.datetime.now(dt.UTC))
    auth.login(admin.email)
    rows = csv_rows(client.get("/cases/export.csv"))
    assert practice["chen"].reference not in {row[0] for row in rows}
    assert len(rows) == 5


def test_export_streams_in_batches(app, admin, make_case, advisor, monkeypatch):
    for index in range(5):
        make_case(advisor, family_name=f"Person{index}")
    monkeypatch.setattr(case_export, "BATCH", 2)
    chunks = list(case_export.lines(cases.search_cases(admin, sort="reference")))
    assert len(chunks) == 3  # rows 1–2 with the header, 3–4, 5
    assert chunks[0].startswith("\ufeffReference,") and chunks[0].count("\r\n") == 3
    assert [chunk.count("\r\n") for chunk in chunks[1:]] == [2, 1]


# The number of SQL statements does not grow with the number of cases --------------------------------------

@contextmanager
def statements() -> Iterator[list[str]]:
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


PAGES = [
    "/cases/",
    "/cases/?status=collecting&nationality=US&outcome=eligible&consulate=US-NYC&q=e&sort=applicant",
    "/cases/?q=person&page=2",
    "/cases/export.csv",
    "/cases/export.csv?status=collecting&nationality=US&q=person&sort=-planned",
]


def _fill(make_case, people: list[User], start: int, stop: int) -> None:  # type: ignore[no-untyped-def]
    outcomes = ["eligible", "needs_review", "not_eligible", None]
    for index in range(start, stop):
        case = make_case(people[index % len(people)], family_name=f"Person{index}", given_names="Eve",
                         nationality=["US", "GB", "CN"][index % 3],
                         status=[CaseStatus.COLLECTING, CaseStatus.READY][index % 2])
        case.consulate_code = ["US-NYC", "GB-LON"][index % 2]
        case.outcome = outcomes[index % 4]
    db.session.commit()


def _count_statements(client: Any, path: str) -> int:
    client.get(path)  # warm: nothing cached differs between the two sizes
    with statements() as seen:
        response = client.get(path)
        response.get_data()  # a streamed export runs its queries while it is read
    assert response.status_code == 200, path
    return len(seen)


@pytest.mark.parametrize("who", ["admin", "advisor"])
def test_statements_do_not_grow_with_the_number_of_cases(client, auth, admin, advisor, other_advisor,
                                                         make_case, who):
    people = [advisor, other_advisor]
    _fill(make_case, people, 0, 5)
    auth.login(admin.email if who == "admin" else advisor.email)
    pages = PAGES + ([f"/cases/?advisor={other_advisor.id}&status=ready"] if who == "admin" else [])
    few = {path: _count_statements(client, path) for path in pages}
    _fill(make_case, people, 5, 60)
    many = {path: _count_statements(client, path) for path in pages}
    assert many == few
    assert max(many.values()) <= 8
    # …and the bigger lists really are bigger.
    total = 60 if who == "admin" else 30
    assert len(csv_rows(client.get("/cases/export.csv"))) == total + 1
    assert f"{total} results" in page(client.get("/cases/")).select_one("p.count").text


# seed-demo --cases -----------------------------------------------------------------------------------------

def test_seed_demo_tops_up_to_the_number_of_cases_in_bulk_and_idempotently(runner, client):
    first = runner.invoke(args=["seed-demo", "--cases", "90"])
    assert first.exit_code == 0, first.output
    assert db.session.scalar(select(func.count()).select_from(Case)) == 90
    counts = {model: db.session.scalar(select(func.count()).select_from(model))
              for model in (Applicant, Case, Assessment, Education, Position, AuditEvent, CaseDocument)}

    again = runner.invoke(args=["seed-demo", "--cases", "90"])
    assert again.exit_code == 0, again.output
    assert "(0 new)" in again.output
    assert {model: db.session.scalar(select(func.count()).select_from(model)) for model in counts} == counts

    generated = db.session.scalars(select(Case).join(Case.applicant)
                                   .where(Applicant.passport_number.startswith("QD"))).all()
    assert len(generated) == 90 - 42  # the hand-made practice first, then generated cases
    # Bulk rows skip the operations, so only statuses no guard protects (the hand-made cases have the others).
    assert {c.status for c in generated} == {CaseStatus.INTAKE, CaseStatus.COLLECTING, CaseStatus.WITHDRAWN}
    assert {c.outcome for c in generated} >= {"eligible", "needs_review", None}
    assert len({c.advisor_id for c in generated}) == 3
    references = list(db.session.scalars(select(Case.reference)))
    assert len(set(references)) == 90
    for case in generated:
        lines = documents.lines_of(case)  # a checklist whose states fit the status, as the case would have
        assert {line.requirement_code for line in lines} >= {"passport", "photo", "application_form"}
        if case.status == CaseStatus.INTAKE:
            assert {line.state for line in lines} == {DocumentState.MISSING}
        if case.status in (CaseStatus.READY, CaseStatus.SUBMITTED, CaseStatus.APPROVED, CaseStatus.REFUSED):
            assert documents.completeness(lines).is_complete
        assessment = db.session.scalar(select(Assessment).where(Assessment.case_id == case.id))
        assert (assessment is None) == (case.outcome is None)
        if assessment is not None:
            assert (assessment.outcome, assessment.rule_set_id) == (case.outcome, case.rule_set_id)
            assessed = {record["ref"] for kind in ("education", "positions") for record in assessment.inputs[kind]}
            records = {f"education:{e}" for e in db.session.scalars(
                select(Education.id).where(Education.applicant_id == case.applicant_id))}
            records |= {f"position:{p}" for p in db.session.scalars(
                select(Position.id).where(Position.applicant_id == case.applicant_id))}
            assert assessed == records  # the snapshot names the records by their ids

    # A bigger number adds only the difference, numbering on; a generated applicant is found by name.
    more = runner.invoke(args=["seed-demo", "--cases", "95"])
    assert more.exit_code == 0 and "(5 new)" in more.output
    assert db.session.scalar(select(func.count()).select_from(Case)) == 95
    passports = set(db.session.scalars(select(Applicant.passport_number)
                                       .where(Applicant.passport_number.startswith("QD"))))
    assert passports == {f"QD{index:07d}" for index in range(95 - 42)}
    sample = generated[0].applicant
    admin = db.session.scalar(select(User).where(User.role == Role.ADMIN))
    found = db.session.scalars(cases.search_cases(admin, q=sample.family_name.upper())).all()
    assert sample.id in {case.applicant_id for case in found}


def test_seed_demo_cases_fewer_than_the_demo_adds_nothing_generated(runner):
    result = runner.invoke(args=["seed-demo", "--cases", "10"])
    assert result.exit_code == 0, result.output
    assert db.session.scalar(select(func.count()).select_from(Case)) == 42
    assert "--cases" in runner.invoke(args=["seed-demo", "--help"]).output
    assert "checklist" in runner.invoke(args=["seed-demo", "--help"]).output


class TestStreamingExport:
    @pytest.fixture
    def app_config(self) -> dict[str, Any]:
        return {"SQLITE_BUSY_TIMEOUT_MS": 300}  # a held write lock fails a writer fast, not in 5 s

    def test_a_streamed_export_never_holds_the_write_lock(self, app, admin, advisor, make_case, monkeypatch):
        from views.listing import in_own_context

        opened = [make_case(advisor, family_name=f"Person{index}") for index in range(3)]
        monkeypatch.setattr(case_export, "BATCH", 1)
        query = cases.search_cases(admin, sort="reference")
        references, last = [case.reference for case in opened], opened[-1].id
        db.session.commit()  # as the view does before it streams: the test's session holds no lock
        with app.test_request_context("/cases/export.csv"):
            chunks = in_own_context(case_export.lines(query))
            try:
                first = next(chunks)  # the export is under way, its transaction open…
                with db.engine.execution_options(**WRITE).begin() as writer:  # …someone saves meanwhile
                    writer.execute(Case.__table__.update().where(Case.__table__.c.id == last)
                                   .values(notes="saved during the export"))
                rest = list(chunks)
            finally:
                chunks.close()
        assert first.startswith("\ufeffReference,") and references[0] in first
        assert [references[1] in rest[0], references[2] in rest[1]] == [True, True]


def test_a_case_without_a_checklist_is_not_complete(client, auth, admin, practice):
    settle(practice["adams"])
    db.session.execute(delete(CaseDocument).where(CaseDocument.case_id == practice["diaz"].id))
    db.session.commit()
    auth.login(admin.email)
    assert sorted(row_ids(client.get("/cases/", query_string={"documents": "complete"}))) == ids(practice, "adams")
