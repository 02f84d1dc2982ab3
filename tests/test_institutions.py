"""The institution registry: its operations, the CSV import (operation, CLI and upload page), the admin
pages, the suggestions for search-as-you-type, and who may reach which of them."""
from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup
from flask import Flask
from flask.testing import EnvironBuilder
from sqlalchemy import func, select

from advisor import demo, institutions
from advisor.errors import Conflict, DomainError
from advisor.institutions import IMPORT_MAX_BYTES, InstitutionData
from models import AuditEvent, Institution, User, db

HEADER = "name,country,aliases,rank,renowned,source\n"


def data(name: str = "University of Oxford", country: str = "GB", *, aliases: tuple[str, ...] = (),
         rank: int | None = None, renowned: bool | None = True, source: str = "Practice list") -> InstitutionData:
    return InstitutionData(name=name, country=country, aliases=list(aliases), rank=rank, renowned=renowned,
                           source=source)


@pytest.fixture
def make_institution(app, admin):  # type: ignore[no-untyped-def]
    def make(name: str = "University of Oxford", country: str = "GB", *, verified: bool = True,
             by: User | None = None, **fields: Any) -> Institution:
        if verified:
            institution = institutions.save(None, data(name, country, **fields), by=admin)
        else:
            institution = institutions.add_unverified(name, country, by=by or admin)
        db.session.commit()
        return institution

    return make


@pytest.fixture
def registry(make_institution):  # type: ignore[no-untyped-def]
    """A small registry: names, aliases in several scripts, one unverified addition."""
    return {
        "oxford": make_institution(aliases=("Oxford", "Oxford University")),
        "eth": make_institution("ETH Zurich", "CH", aliases=("ETH Zürich", "ETHZ"), rank=7),
        "tokyo": make_institution("University of Tokyo", "JP", aliases=("UTokyo", "東京大学")),
        "mit": make_institution("Massachusetts Institute of Technology", "US", aliases=("MIT",), rank=1),
        "plain": make_institution("Oxford Brookes University", "GB", renowned=False, source="Practice list"),
        "new": make_institution("Smallville Polytechnic", "US", verified=False),
    }


def count() -> int:
    return db.session.scalar(select(func.count()).select_from(Institution)) or 0


def get(name: str) -> Institution | None:
    db.session.expire_all()
    return db.session.scalar(select(Institution).where(Institution.name == name))


def soup(response: Any) -> BeautifulSoup:
    return BeautifulSoup(response.data, "html.parser")


def text(response: Any) -> str:
    return soup(response).get_text(" ", strip=True)


def row_names(response: Any) -> list[str]:
    return [row.select_one("td a").get_text(strip=True) for row in soup(response).select("table.table tbody tr")]


# Operations: finding ------------------------------------------------------------------------------

@pytest.mark.parametrize(("term", "expected"), [
    ("oxford", ["University of Oxford", "Oxford Brookes University"]),
    ("UNIVERSITY OF OX", ["University of Oxford"]),
    ("ethz", ["ETH Zurich"]),             # an alias only
    ("ETH Zürich", ["ETH Zurich"]),       # a non-ASCII alias
    ("東京", ["University of Tokyo"]),     # an alias in another script
    ("  mit  ", ["Massachusetts Institute of Technology"]),
    ("smallville", ["Smallville Polytechnic"]),
    ("%", []),                            # wildcards are literal characters
    ("_", []),
    ("", []),
    ("Cambridge", []),
])
def test_search_by_name_or_alias(registry, term, expected):
    assert sorted(i.name for i in institutions.search(term)) == sorted(expected)


def test_search_lists_verified_first_and_stops_at_the_limit(make_institution):
    make_institution("Institute Zeta", "DE", verified=False)
    for number in range(12):
        make_institution(f"Institute {number:02}", "DE")
    found = institutions.search("institute")
    assert len(found) == 10
    assert all(i.verified for i in found)
    everything = institutions.search("institute", limit=50)
    assert everything[-1].name == "Institute Zeta" and not everything[-1].verified


@pytest.mark.parametrize(("name", "country", "expected"), [
    ("University of Oxford", None, "University of Oxford"),
    ("  university   OF   oxford ", None, "University of Oxford"),
    ("oxford university", None, "University of Oxford"),    # by alias
    ("ETHZ", "CH", "ETH Zurich"),
    ("ETHZ", "DE", None),                                    # another country
    ("University of Oxf", None, None),                       # a part is not exact
    ("Oxford Brookes", None, None),
    ("", None, None),
])
def test_find_exact_ignores_case_and_spacing(registry, name, country, expected):
    found = institutions.find_exact(name, country)
    assert (found.name if found else None) == expected


def test_find_exact_prefers_a_name_over_an_alias(make_institution):
    make_institution("Imperial College", "GB", aliases=("ICL",))
    make_institution("Imperial College London", "GB", aliases=("Imperial College",))
    assert institutions.find_exact("imperial college").name == "Imperial College"


# Operations: adding and deciding ------------------------------------------------------------------

def test_an_advisor_adds_an_unverified_institution(app, advisor):
    added = institutions.add_unverified("  Smallville   Polytechnic ", "US", by=advisor)
    db.session.commit()
    assert (added.name, added.country, added.verified, added.renowned) == ("Smallville Polytechnic", "US",
                                                                         False, None)
    assert added.created_by_id == advisor.id
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "institution.create"))
    assert event.actor_id == advisor.id and event.object_id == added.id


@pytest.mark.parametrize("name", ["University of Oxford", "UNIVERSITY OF  OXFORD", "Oxford University"])
def test_add_unverified_refuses_a_duplicate(registry, advisor, name):
    with pytest.raises(DomainError, match="already in the registry"):
        institutions.add_unverified(name, "GB", by=advisor)
    assert count() == len(registry)


def test_add_unverified_checks_the_country(app, advisor):
    with pytest.raises(DomainError, match="Unknown country code"):
        institutions.add_unverified("Somewhere University", "XX", by=advisor)


def test_the_same_name_may_exist_in_another_country(registry, advisor):
    other = institutions.add_unverified("University of Oxford", "US", by=advisor)
    assert other.country == "US" and count() == len(registry) + 1


def test_save_by_an_advisor_is_refused(registry, advisor):
    with pytest.raises(DomainError, match="Only an admin"):
        institutions.save(None, data("Anywhere University", "GB"), by=advisor)
    with pytest.raises(DomainError, match="Only an admin"):
        institutions.save(registry["new"], data("Smallville Polytechnic", "US"), by=advisor)
    db.session.rollback()
    assert get("Smallville Polytechnic").verified is False and count() == len(registry)


def test_saving_is_the_admins_decision_so_it_verifies(registry, admin):
    new = registry["new"]
    institutions.save(new, data("Smallville  Polytechnic", "US", aliases=(" SP ", "sp", "", "Smallville Polytechnic",
                                                                          "Smallville Poly"),
                                renowned=False, source="  Not on any list we use  "),
                      by=admin, version=new.version)
    db.session.commit()
    saved = get("Smallville Polytechnic")
    assert saved.verified is True and saved.renowned is False
    assert saved.aliases == ["SP", "Smallville Poly"]  # trimmed, duplicates and the name itself dropped
    assert saved.source == "Not on any list we use"
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "institution.update"))
    assert event.actor_id == admin.id and event.changes["verified"] == [False, True]


def test_creating_records_a_verified_institution_and_an_audit_event(app, admin):
    institution = institutions.save(None, data("KAIST", "KR", rank=40), by=admin)
    db.session.commit()
    assert institution.verified and institution.created_by_id == admin.id and institution.rank == 40
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "institution.create"))
    assert event.object_id == institution.id and event.changes["name"] == "KAIST"


@pytest.mark.parametrize("renowned", [True, False])
def test_a_judgement_needs_its_source(app, admin, renowned):
    with pytest.raises(DomainError, match="source"):
        institutions.save(None, data(renowned=renowned, source="   "), by=admin)
    assert institutions.save(None, data(renowned=None, source=""), by=admin).renowned is None


@pytest.mark.parametrize(("values", "message"), [
    ({"name": "  "}, "Enter the institution's name"),
    ({"name": "U" * 201}, "at most 200 characters"),
    ({"aliases": ("A" * 201,)}, "alias has at most 200"),
    ({"country": "UK"}, "Unknown country code 'UK'"),
    ({"rank": 0}, "A rank is a whole number from 1"),
    ({"rank": 100_001}, "A rank is a whole number from 1"),
])
def test_save_refuses_bad_values(app, admin, values, message):
    with pytest.raises(DomainError, match=message):
        institutions.save(None, data(**values), by=admin)
    assert count() == 0


@pytest.mark.parametrize("name", ["University of Oxford", "university  of OXFORD"])
def test_save_refuses_a_second_institution_of_the_same_name_and_country(registry, admin, name):
    with pytest.raises(DomainError, match="already in the registry"):
        institutions.save(None, data(name, "GB"), by=admin)
    with pytest.raises(DomainError, match="already in the registry"):
        institutions.save(registry["plain"], data(name, "GB"), by=admin)


def test_save_keeps_its_own_name(registry, admin):
    oxford = registry["oxford"]
    institutions.save(oxford, data("University of Oxford", "GB", rank=3), by=admin, version=oxford.version)
    assert oxford.rank == 3


def test_save_on_a_stale_version_is_a_conflict(registry, admin):
    eth = registry["eth"]
    with pytest.raises(Conflict):
        institutions.save(eth, data("ETH Zurich", "CH", rank=1), by=admin, version=eth.version - 1)
    assert eth.rank == 7


# CSV import ---------------------------------------------------------------------------------------

def test_import_creates_institutions(app, admin):
    report = institutions.import_csv(
        HEADER
        + 'Kyoto University,jp,Kyodai|京都大学| kyodai ,,yes,Practice list\n'
        + '"University of California, Berkeley",US,UC Berkeley|Berkeley,4,,QS 2026\n'
        + 'Somewhere College,GB,,,no,Practice list\n'
        + 'Unjudged Institute,DE,,,,\n', by=admin)
    db.session.commit()
    assert (report.created, report.updated, report.unchanged, report.errors) == (4, 0, 0, [])
    kyoto = get("Kyoto University")
    assert (kyoto.country, kyoto.aliases, kyoto.renowned, kyoto.verified) == ("JP", ["Kyodai", "京都大学"], True, True)
    berkeley = get("University of California, Berkeley")
    assert (berkeley.rank, berkeley.renowned, berkeley.verified) == (4, None, True)  # a rank is a judgement
    assert get("Somewhere College").renowned is False
    unjudged = get("Unjudged Institute")
    assert unjudged.verified is False and unjudged.created_by_id == admin.id
    actions = db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions.count("institution.create") == 4 and actions[-1] == "institution.import"


def test_reimport_updates_by_name_and_country_and_leaves_the_rest(registry, admin):
    versions = {i.name: i.version for i in db.session.scalars(select(Institution))}
    report = institutions.import_csv(
        HEADER
        + "university of  OXFORD,GB,Oxford,2,yes,QS 2026\n"                      # other case and spacing
        + "ETH Zurich,CH,ETH Zürich|ETHZ,7,yes,Practice list\n"                   # exactly as saved
        + "Smallville Polytechnic,US,SP,,,\n"                                     # no judgement: stays unverified
        + "University of Oxford,US,,,no,Practice list\n", by=admin)             # another country: a new one
    db.session.commit()
    assert (report.created, report.updated, report.unchanged, report.errors) == (1, 2, 1, [])
    oxford = db.session.get(Institution, registry["oxford"].id)
    assert (oxford.rank, oxford.aliases, oxford.source) == (2, ["Oxford"], "QS 2026")
    assert oxford.name == "university of OXFORD"  # the file's spelling, spaced
    assert oxford.version == versions["University of Oxford"] + 1
    assert get("ETH Zurich").version == versions["ETH Zurich"]  # untouched, not even its version
    small = get("Smallville Polytechnic")
    assert small.aliases == ["SP"] and small.verified is False
    assert count() == len(registry) + 1

    # An admin's verification is never undone by a row without a judgement.
    institutions.import_csv(HEADER + "Oxford Brookes University,GB,,,,\n", by=admin)
    brookes = get("Oxford Brookes University")
    assert brookes.verified is True and brookes.renowned is None


def test_import_of_the_same_file_twice_changes_nothing(app, admin):
    rows = HEADER + "Kyoto University,JP,Kyodai,,yes,Practice list\n"
    institutions.import_csv(rows, by=admin)
    db.session.commit()
    events = db.session.scalar(select(func.count()).select_from(AuditEvent))
    again = institutions.import_csv(rows, by=admin)
    db.session.commit()
    assert (again.created, again.updated, again.unchanged) == (0, 0, 1)
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == events
    assert get("Kyoto University").version == 1


def test_every_error_is_reported_with_its_line_and_nothing_is_imported(registry, admin):
    before = count()
    report = institutions.import_csv(
        HEADER
        + "Good University,GB,,,yes,Practice list\n"               # 2: fine, yet not imported
        + ",GB,,,,\n"                                              # 3
        + "Nowhere University,XX,,,,\n"                            # 4
        + "Ranked University,GB,,first,,\n"                        # 5
        + "Zero University,GB,,0,,\n"                              # 6
        + "Maybe University,GB,,,maybe,Practice list\n"            # 7
        + "Sourceless University,GB,,,yes,\n"                      # 8
        + "Comma University, Leeds,GB,,,yes,Practice list\n"       # 9: an unquoted comma
        + "good  university,GB,,,no,Practice list\n"               # 10: line 2 again
        + f"{'L' * 201},GB,,,,\n"                                  # 11
        + "\n"                                                     # 12: blank lines are skipped
        + '"Two-line\nUniversity",GB,,,yes,\n', by=admin)         # 13-14: reported at its last line
    assert report.errors == [
        "line 3: Enter the institution's name.",
        "line 4: Unknown country code 'XX'.",
        "line 5: rank must be a whole number, not 'first'",
        "line 6: A rank is a whole number from 1 to 100000.",
        "line 7: renowned must be yes, no or empty, not 'maybe'",
        "line 8: Say on what source the renowned judgement rests.",
        "line 9: more values than columns; put a name that contains a comma in double quotes",
        "line 10: good university (GB) is already on line 2",
        "line 11: A name has at most 200 characters.",
        "line 14: Say on what source the renowned judgement rests.",
    ]
    assert (report.created, report.updated) == (0, 0)
    db.session.commit()
    assert count() == before and get("Good University") is None


@pytest.mark.parametrize(("header", "problem"), [
    ("name,aliases\n", "needs the columns name and country"),
    ("country,name,renown\n", "(unknown: renown)"),
    ("", "needs the columns name and country"),
])
def test_a_bad_header_is_reported_on_line_1(app, admin, header, problem):
    report = institutions.import_csv(header + "Kyoto University,JP,Kyodai\n", by=admin)
    assert len(report.errors) == 1 and report.errors[0].startswith("line 1: ") and problem in report.errors[0]
    assert count() == 0


def test_columns_may_come_in_any_order_and_be_left_out(app, admin):
    report = institutions.import_csv(" Country , NAME ,\nJP,Kyoto University,\n", by=admin)
    assert report.errors == [] and get("Kyoto University").country == "JP"


def test_a_byte_order_mark_is_ignored(app, admin):
    raw = ("\ufeff" + HEADER + "Kyoto University,JP,,,yes,Practice list\n").encode("utf-8")
    text = institutions.decode_csv(raw)
    assert not text.startswith("\ufeff")
    assert institutions.import_csv(text, by=admin).created == 1
    # A BOM left in the text (read without utf-8-sig) is ignored too.
    again = institutions.import_csv("\ufeff" + HEADER + "Kyoto University,JP,,,yes,Practice list\n", by=admin)
    assert again.errors == [] and again.unchanged == 1


@pytest.mark.parametrize("raw", ["Universität Wien,AT".encode("latin-1"), b"\xff\xfe\x00n\x00a", b"name\x00,country"])
def test_decode_refuses_what_is_not_utf8_text(raw):
    with pytest.raises(DomainError, match="not (UTF-8|a CSV) text"):
        institutions.decode_csv(raw)


def test_the_starter_registry_is_valid(app, admin):
    report = institutions.import_csv(demo.STARTER_REGISTRY.read_text(encoding="utf-8"), by=admin)
    assert report.errors == [] and 35 <= report.created <= 60
    rows = db.session.scalars(select(Institution)).all()
    assert all(i.verified and i.renowned is True and i.rank is None for i in rows)
    assert {i.source for i in rows} == {"Practice list, seeded 2026-11"}
    assert len({i.country for i in rows}) >= 15
    assert institutions.find_exact("MIT").name == "Massachusetts Institute of Technology"


# The CLI --------------------------------------------------------------------------------------------

def write(tmp_path: Path, content: str | bytes, name: str = "registry.csv") -> str:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return str(path)


def test_cli_imports_and_reports_counts(runner, tmp_path):
    path = write(tmp_path, HEADER + "Kyoto University,JP,Kyodai,,yes,Practice list\n"
                 + "Seoul National University,KR,SNU,,yes,Practice list\n")
    first = runner.invoke(args=["import-institutions", path])
    assert first.exit_code == 0, first.output
    assert first.output.strip() == "Imported registry.csv: 2 created, 0 updated, 0 unchanged."
    assert count() == 2

    path = write(tmp_path, HEADER + "Kyoto University,JP,Kyodai,30,yes,QS 2026\n"
                 + "Seoul National University,KR,SNU,,yes,Practice list\n")
    second = runner.invoke(args=["import-institutions", path])
    assert second.exit_code == 0, second.output
    assert "0 created, 1 updated, 1 unchanged" in second.output
    assert get("Kyoto University").rank == 30
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "institution.import"))
    assert event.actor_id is None and event.actor_label == "system"


def test_cli_reports_each_error_by_line_exits_1_and_imports_nothing(runner, tmp_path):
    path = write(tmp_path, HEADER + "Kyoto University,JP,,,yes,Practice list\n"
                 + "Bad Rank University,GB,,high,,\n" + "Nowhere University,ZZ,,,,\n")
    result = runner.invoke(args=["import-institutions", path])
    assert result.exit_code == 1
    assert "line 3: rank must be a whole number, not 'high'" in result.output
    assert "line 4: Unknown country code 'ZZ'." in result.output
    assert "Nothing was imported" in result.output
    assert count() == 0


def test_cli_refuses_a_file_that_is_not_utf8(runner, tmp_path):
    path = write(tmp_path, (HEADER + "Universität Wien,AT,,,yes,Practice list\n").encode("cp1252"))
    result = runner.invoke(args=["import-institutions", path])
    assert result.exit_code == 1 and "not UTF-8" in result.output
    assert count() == 0


def test_cli_accepts_a_byte_order_mark(runner, tmp_path):
    path = write(tmp_path, ("\ufeff" + HEADER + "Universität Wien,AT,,,yes,Practice list\n").encode("utf-8"))
    result = runner.invoke(args=["import-institutions", path])
    assert result.exit_code == 0, result.output
    assert get("Universität Wien").country == "AT"


def test_cli_needs_an_existing_file(runner, tmp_path):
    result = runner.invoke(args=["import-institutions", str(tmp_path / "missing.csv")])
    assert result.exit_code == 2 and "does not exist" in result.output


def test_seed_demo_imports_the_starter_registry_idempotently(runner):
    first = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0, first.output
    total = count()
    assert total >= 35
    assert f"Institution registry: {total} institutions ({total} new)." in first.output
    versions = dict(db.session.execute(select(Institution.id, Institution.version)).all())
    second = runner.invoke(args=["seed-demo"])
    assert second.exit_code == 0, second.output
    assert f"Institution registry: {total} institutions (0 new)." in second.output
    assert dict(db.session.execute(select(Institution.id, Institution.version)).all()) == versions
    # The rest of the output is as it was.
    assert re.search(r"Demo practice ready: \d+ applicants, \d+ cases \(0 new\)\.", second.output)
    assert re.search(r"advisor\s+\S+@\S+\s+password: ", second.output)


# Who may reach the pages ----------------------------------------------------------------------------

def institution_routes(app: Flask) -> list[tuple[str, str]]:
    rules = [rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/institutions")]
    return sorted((rule.endpoint, method) for rule in rules for method in (rule.methods or set()) - {"HEAD", "OPTIONS"})


def test_the_routes_are_the_expected_ones(app):
    assert institution_routes(app) == [
        ("institutions.edit", "GET"), ("institutions.edit", "POST"),
        ("institutions.import_registry", "GET"), ("institutions.import_registry", "POST"),
        ("institutions.index", "GET"),
        ("institutions.new", "GET"), ("institutions.new", "POST"),
        ("institutions.suggest", "GET"),
    ]


def test_advisors_get_403_on_every_registry_route_but_suggest(app, client, auth, advisor, registry):
    new = registry["new"]
    before = (count(), new.version, new.verified)
    auth.login(advisor.email)
    adapter = app.url_map.bind("advisor.test")
    payload = {"name": "Hacked", "country": "GB", "renowned": "yes", "source": "x", "version": str(new.version)}
    codes = {}
    for endpoint, method in institution_routes(app):
        path = adapter.build(endpoint, {"institution_id": new.id} if endpoint == "institutions.edit" else {},
                             method=method)
        body = dict(payload, file=(io.BytesIO(HEADER.encode() + b"Hacked University,GB,,,yes,x\n"), "x.csv"))
        response = client.open(path, method=method, data=body if method == "POST" else None)
        codes[(endpoint, method)] = response.status_code
        if response.status_code == 403:
            assert "Your account does not have access to this page." in text(response)
    assert codes == {key: 200 if key[0] == "institutions.suggest" else 403 for key in codes}
    # A missing id answers the same: advisors learn nothing about what exists.
    assert client.get("/institutions/999999/edit").status_code == 403
    db.session.expire_all()
    assert (count(), get("Smallville Polytechnic").version, get("Smallville Polytechnic").verified) == before


def test_anonymous_visitors_are_sent_to_login_even_for_suggestions(client):
    for path in ("/institutions/suggest?q=oxford", "/institutions/", "/institutions/new", "/institutions/import"):
        response = client.get(path)
        assert response.status_code == 302 and "/auth/login" in response.location, path


def test_only_admins_see_the_institutions_link(client, auth, admin, advisor):
    auth.login(advisor.email)
    assert not soup(client.get("/")).select('nav.mainnav a[href="/institutions/"]')
    auth.logout()
    auth.login(admin.email)
    links = soup(client.get("/")).select('nav.mainnav a[href="/institutions/"]')
    assert [a.get_text(strip=True) for a in links] == ["Institutions"]
    current = soup(client.get("/institutions/")).select('nav.mainnav a[aria-current="page"]')
    assert [a.get_text(strip=True) for a in current] == ["Institutions"]


# Suggestions ------------------------------------------------------------------------------------------

def test_suggest_answers_json_for_any_advisor(client, auth, advisor, registry):
    auth.login(advisor.email)
    response = client.get("/institutions/suggest?q=oxford")
    assert response.status_code == 200 and response.is_json
    assert "no-store" in response.headers["Cache-Control"]
    assert response.get_json() == [
        {"name": "University of Oxford", "country": "GB", "verified": True},
        {"name": "Oxford Brookes University", "country": "GB", "verified": True},
    ]
    assert client.get("/institutions/suggest?q=ethz").get_json() == [
        {"name": "ETH Zurich", "country": "CH", "verified": True}]
    assert client.get("/institutions/suggest?q=small").get_json() == [
        {"name": "Smallville Polytechnic", "country": "US", "verified": False}]


@pytest.mark.parametrize("query", ["", "?q=", "?q=o", "?q=%20o%20%20", "?q=%25%25", "?q=zzzz"])
def test_suggest_answers_an_empty_list_for_short_or_unknown_terms(client, auth, advisor, registry, query):
    auth.login(advisor.email)
    response = client.get(f"/institutions/suggest{query}")
    assert response.status_code == 200 and response.get_json() == []


def test_suggest_gives_at_most_ten(client, auth, admin, make_institution):
    for number in range(14):
        make_institution(f"Research Institute {number:02}", "FR")
    auth.login(admin.email)
    found = client.get("/institutions/suggest?q=research").get_json()
    assert len(found) == 10 and all(set(item) == {"name", "country", "verified"} for item in found)


def test_the_suggestion_script_is_served_and_included_without_inline_code(client, auth, admin, registry):
    script = client.get("/static/js/institution-search.js")
    body = script.get_data(as_text=True)
    script.close()
    assert script.status_code == 200 and "javascript" in script.headers["Content-Type"]
    assert "data-suggest-url" in body and "textContent" in body and "innerHTML" not in body
    auth.login(admin.email)
    for path in ("/", "/institutions/", "/institutions/new", f"/institutions/{registry['new'].id}/edit",
                 "/institutions/import"):
        page = soup(client.get(path))
        scripts = page.find_all("script")
        assert [(s.get("src"), s.has_attr("defer")) for s in scripts] == [("/static/js/institution-search.js", True)]
        assert not scripts[0].string
        assert not [tag for tag in page.find_all(True) if "style" in tag.attrs], path


# The registry page ----------------------------------------------------------------------------------------

def test_registry_lists_searches_and_marks_unverified(client, auth, admin, registry):
    auth.login(admin.email)
    page = client.get("/institutions/")
    assert page.status_code == 200
    assert row_names(page) == ["ETH Zurich", "Massachusetts Institute of Technology", "Oxford Brookes University",
                               "Smallville Polytechnic", "University of Oxford", "University of Tokyo"]
    assert "1 institution awaits your decision" in text(page)
    row = next(r for r in soup(page).select("tbody tr") if "Smallville" in r.get_text())
    assert "Unverified — awaiting decision" in row.get_text()
    decide = [a["href"] for a in row.select("a") if a.get_text(strip=True).startswith("Decide")]
    assert decide == [f"/institutions/{registry['new'].id}/edit"]
    assert "Unverified" not in next(r for r in soup(page).select("tbody tr") if "ETH" in r.get_text()).get_text()

    assert row_names(client.get("/institutions/?q=utokyo")) == ["University of Tokyo"]       # by alias
    assert row_names(client.get("/institutions/?q=東京大学")) == ["University of Tokyo"]
    assert row_names(client.get("/institutions/?q=OXFORD")) == ["Oxford Brookes University", "University of Oxford"]
    empty = client.get("/institutions/?q=nothing-like-this")
    assert row_names(empty) == [] and "No institution matches" in text(empty)


@pytest.mark.parametrize(("show", "expected"), [
    ("verified", ["ETH Zurich", "Massachusetts Institute of Technology", "Oxford Brookes University",
                  "University of Oxford", "University of Tokyo"]),
    ("unverified", ["Smallville Polytechnic"]),
    ("renowned", ["ETH Zurich", "Massachusetts Institute of Technology", "University of Oxford",
                  "University of Tokyo"]),
    ("bogus", ["ETH Zurich", "Massachusetts Institute of Technology", "Oxford Brookes University",
               "Smallville Polytechnic", "University of Oxford", "University of Tokyo"]),
])
def test_registry_filters(client, auth, admin, registry, show, expected):
    auth.login(admin.email)
    assert row_names(client.get(f"/institutions/?show={show}")) == expected


def test_registry_filter_and_search_combine(client, auth, admin, registry):
    auth.login(admin.email)
    assert row_names(client.get("/institutions/?show=renowned&q=oxford")) == ["University of Oxford"]


@pytest.mark.parametrize(("sort", "first", "last"), [
    ("name", "ETH Zurich", "University of Tokyo"),
    ("-name", "University of Tokyo", "ETH Zurich"),
    ("rank", "Massachusetts Institute of Technology", None),   # unranked ones come last
    ("-rank", "ETH Zurich", None),
    ("country", "ETH Zurich", "Smallville Polytechnic"),       # CH … US, then by name
    ("nonsense", "ETH Zurich", "University of Tokyo"),
])
def test_registry_sorts(client, auth, admin, registry, sort, first, last):
    auth.login(admin.email)
    names = row_names(client.get(f"/institutions/?sort={sort}"))
    assert names[0] == first
    if last:
        assert names[-1] == last
    if sort.endswith("rank"):
        assert names[1] == ("ETH Zurich" if sort == "rank" else "Massachusetts Institute of Technology")


@pytest.mark.parametrize("app_config", [{"PAGE_SIZE": 5}], ids=["page-size-5"])
def test_registry_paginates_and_keeps_the_filter(client, auth, admin, make_institution):
    for number in range(12):
        make_institution(f"Institute {number:02}", "DE")
    make_institution("Unverified Institute", "DE", verified=False)
    auth.login(admin.email)
    first = client.get("/institutions/?show=verified")
    assert row_names(first) == [f"Institute {n:02}" for n in range(5)]
    assert "12 results, page 1 of 3" in text(first)
    next_link = soup(first).select_one("a[rel=next]")["href"]
    assert "show=verified" in next_link and "page=2" in next_link
    third = client.get("/institutions/?show=verified&page=3")
    assert row_names(third) == ["Institute 10", "Institute 11"]
    assert row_names(client.get("/institutions/?show=verified&page=99")) == []


def test_an_empty_registry_offers_to_add_or_import(client, auth, admin):
    auth.login(admin.email)
    page = client.get("/institutions/")
    assert "The registry is empty" in text(page)
    assert soup(page).select('a[href="/institutions/import"]') and soup(page).select('a[href="/institutions/new"]')


# Creating and editing --------------------------------------------------------------------------------------

def form_data(**overrides: Any) -> dict[str, Any]:
    values = {"name": "Kyoto University", "country": "JP", "aliases": "Kyodai\r\n京都大学\r\n\r\n", "rank": "",
              "renowned": "yes", "source": "Practice list", "version": "0"}
    values.update(overrides)
    return values


def test_admin_creates_an_institution(client, auth, admin):
    auth.login(admin.email)
    page = client.get("/institutions/new")
    assert page.status_code == 200
    countries = [o["value"] for o in soup(page).select("select#country option")]
    assert "JP" in countries and "CN" in countries and countries[0] == ""
    assert [o.get_text() for o in soup(page).select("select#renowned option")] == ["Not judged", "Renowned",
                                                                                   "Not renowned"]
    response = client.post("/institutions/new", data=form_data(rank="36"))
    assert response.status_code == 302 and response.location.endswith("/institutions/")
    kyoto = get("Kyoto University")
    assert (kyoto.country, kyoto.aliases, kyoto.rank, kyoto.renowned, kyoto.verified, kyoto.created_by_id) == (
        "JP", ["Kyodai", "京都大学"], 36, True, True, admin.id)
    assert "Kyoto University is in the registry, verified." in text(client.get("/institutions/"))


@pytest.mark.parametrize(("overrides", "field", "message"), [
    ({"name": ""}, "name", "This field is required."),
    ({"country": ""}, "country", "Choose a country."),
    ({"country": "XX"}, "country", "Not a valid choice."),
    ({"rank": "0"}, "rank", "Enter a whole number of 1 or more."),
    ({"rank": "first"}, "rank", "Not a valid integer value."),
    ({"renowned": "yes", "source": "  "}, "source", "Say on what source the judgement rests."),
    ({"renowned": "no", "source": ""}, "source", "Say on what source the judgement rests."),
    ({"renowned": "perhaps"}, "renowned", "Not a valid choice."),
    ({"aliases": "A" * 201}, "aliases", "An alias has at most 200 characters."),
])
def test_the_form_refuses_bad_input(client, auth, admin, overrides, field, message):
    auth.login(admin.email)
    response = client.post("/institutions/new", data=form_data(**overrides))
    assert response.status_code == 200
    assert message in soup(response).select_one(f"#{field}-error").get_text()
    assert count() == 0


def test_no_judgement_needs_no_source(client, auth, admin):
    auth.login(admin.email)
    assert client.post("/institutions/new", data=form_data(renowned="", source="")).status_code == 302
    assert get("Kyoto University").renowned is None and get("Kyoto University").verified


def test_a_duplicate_is_refused_on_the_name(client, auth, admin, registry):
    auth.login(admin.email)
    response = client.post("/institutions/new", data=form_data(name="university of oxford", country="GB"))
    assert response.status_code == 200
    assert "already in the registry" in soup(response).select_one("#name-error").get_text()
    assert count() == len(registry)


def test_admin_decides_on_an_unverified_institution(client, auth, admin, advisor, make_institution):
    added = make_institution("Smallville Polytechnic", "US", verified=False, by=advisor)
    auth.login(admin.email)
    page = client.get(f"/institutions/{added.id}/edit")
    assert page.status_code == 200
    assert "Unverified — awaiting decision" in text(page) and f"Added by {advisor.name}" in text(page)
    assert soup(page).select_one("input#version")["value"] == str(added.version)
    response = client.post(f"/institutions/{added.id}/edit", data=form_data(
        name="Smallville Polytechnic", country="US", aliases="SP", renowned="no", source="Not on any list",
        version=str(added.version)))
    assert response.status_code == 302
    decided = get("Smallville Polytechnic")
    assert (decided.verified, decided.renowned, decided.aliases, decided.created_by_id) == (
        True, False, ["SP"], advisor.id)


def test_the_edit_form_shows_the_saved_values(client, auth, admin, registry):
    eth = registry["eth"]
    auth.login(admin.email)
    page = soup(client.get(f"/institutions/{eth.id}/edit"))
    assert page.select_one("input#name")["value"] == "ETH Zurich"
    assert page.select_one("select#country option[selected]")["value"] == "CH"
    assert page.select_one("textarea#aliases").get_text().strip() == "ETH Zürich\nETHZ"
    assert page.select_one("input#rank")["value"] == "7"
    assert page.select_one("select#renowned option[selected]")["value"] == "yes"
    assert page.select_one("textarea#source").get_text().strip() == "Practice list"
    assert "Unverified" not in page.get_text()


def test_an_unknown_institution_answers_404_to_admins(client, auth, admin):
    auth.login(admin.email)
    assert client.get("/institutions/999999/edit").status_code == 404
    assert client.post("/institutions/999999/edit", data=form_data()).status_code == 404


def test_concurrent_edits_conflict_and_the_first_save_stays(client, auth, admin, make_user, registry):
    eth = registry["eth"]
    opened_on = eth.version
    other_admin = make_user(admin.role, email="second@practice.test", name="Sam Second")
    # Someone else saves first.
    institutions.save(eth, data("ETH Zurich", "CH", aliases=("ETHZ",), rank=5, source="QS 2026"), by=other_admin,
                      version=opened_on)
    db.session.commit()
    auth.login(admin.email)
    response = client.post(f"/institutions/{eth.id}/edit", data=form_data(
        name="ETH Zurich", country="CH", aliases="ETH Zürich\nETHZ", rank="9", renowned="yes",
        source="Practice list", version=str(opened_on)))
    assert response.status_code == 200
    page = soup(response)
    assert "Someone else saved this record" in page.get_text()
    rows = [[td.get_text(strip=True) for td in tr.select("td")] for tr in page.select(".conflict tbody tr")]
    assert rows == [["Other names", "ETHZ", "ETH Zürich, ETHZ"], ["Rank", "5", "9"],
                    ["Source of the judgement", "QS 2026", "Practice list"]]
    assert page.select_one("input#rank")["value"] == "9"  # the input is kept
    assert page.select_one("input#version")["value"] == str(opened_on + 1)
    saved = get("ETH Zurich")
    assert (saved.rank, saved.source, saved.version) == (5, "QS 2026", opened_on + 1)

    # Saving again, on the version the conflict page carries, replaces the saved values.
    again = client.post(f"/institutions/{eth.id}/edit", data=form_data(
        name="ETH Zurich", country="CH", aliases="ETH Zürich\nETHZ", rank="9", renowned="yes",
        source="Practice list", version=str(opened_on + 1)))
    assert again.status_code == 302
    assert get("ETH Zurich").rank == 9


# Upload -------------------------------------------------------------------------------------------------------

def upload(client: Any, content: bytes, name: str = "registry.csv", **extra: Any) -> Any:
    """POST a file to the import page. The test client spools a big multipart body to a temporary file
    it never closes (a server owns its input stream); this closes it."""
    builder = EnvironBuilder(client.application, path="/institutions/import", method="POST",
                             data={"file": (io.BytesIO(content), name), **extra})
    environ = builder.get_environ()
    builder.close()
    try:
        return client.open(environ)
    finally:
        environ["wsgi.input"].close()


def test_the_import_page_is_linked_and_explains_the_format(client, auth, admin, registry):
    auth.login(admin.email)
    assert soup(client.get("/institutions/")).select('a[href="/institutions/import"]')
    page = client.get("/institutions/import")
    assert page.status_code == 200
    form = soup(page).select_one("form.form")
    assert form["enctype"] == "multipart/form-data" and form.select_one("input[type=file]#file")
    assert "name,country,aliases,rank,renowned,source" in text(page)


def test_upload_imports_and_reports(client, auth, admin, registry):
    auth.login(admin.email)
    content = (HEADER + "Kyoto University,JP,Kyodai,,yes,Practice list\n"
               + "ETH Zurich,CH,ETHZ,3,yes,QS 2026\n").encode("utf-8")
    response = upload(client, content)
    assert response.status_code == 302 and response.location.endswith("/institutions/")
    assert "Imported: 1 created, 1 updated, 0 unchanged." in text(client.get("/institutions/"))
    assert get("Kyoto University").verified and get("ETH Zurich").rank == 3
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "institution.import"))
    assert event.actor_id == admin.id


def test_upload_with_a_byte_order_mark(client, auth, admin):
    auth.login(admin.email)
    response = upload(client, b"\xef\xbb\xbf" + (HEADER + "Universität Wien,AT,,,yes,Practice list\n").encode())
    assert response.status_code == 302
    assert get("Universität Wien").country == "AT"


def test_upload_of_a_non_utf8_file_says_so(client, auth, admin):
    auth.login(admin.email)
    response = upload(client, (HEADER + "Universität Wien,AT,,,yes,Practice list\n").encode("cp1252"))
    assert response.status_code == 200
    assert "Nothing was imported" in text(response) and "The file is not UTF-8 text" in text(response)
    assert count() == 0


def test_upload_with_errors_lists_them_and_imports_nothing(client, auth, admin):
    auth.login(admin.email)
    response = upload(client, (HEADER + "Kyoto University,JP,,,yes,Practice list\n"
                               + "Nowhere,XX,,,,\n" + "Maybe University,GB,,,perhaps,x\n").encode())
    assert response.status_code == 200
    errors = [li.get_text() for li in soup(response).select("[role=alert] li")]
    assert errors == ["line 3: Unknown country code 'XX'.", "line 4: renowned must be yes, no or empty, not 'perhaps'"]
    assert count() == 0


def test_upload_needs_a_file(client, auth, admin):
    auth.login(admin.email)
    response = client.post("/institutions/import", data={}, content_type="multipart/form-data")
    assert response.status_code == 200
    assert "Choose a CSV file." in soup(response).select_one("#file-error").get_text()


@pytest.mark.parametrize("size", [IMPORT_MAX_BYTES + 1, 3 * IMPORT_MAX_BYTES])
def test_upload_over_2_mb_gets_the_413_page(client, auth, admin, size):
    auth.login(admin.email)
    line = b"Some University,GB,,,,\n"
    content = (HEADER.encode() + line * (size // len(line) + 1))[:size]
    response = upload(client, content)
    assert response.status_code == 413
    assert "File too large" in text(response)
    assert count() == 0


def test_upload_of_exactly_2_mb_is_read(client, auth, admin):
    auth.login(admin.email)
    body = HEADER.encode() + b"Kyoto University,JP,,,yes,Practice list\n"
    content = body + b"\n" * (IMPORT_MAX_BYTES - len(body))  # blank lines are skipped
    response = upload(client, content)
    assert response.status_code == 302, text(response)
    assert count() == 1


def test_a_field_beyond_the_csv_limit_is_an_error_not_a_crash(client, auth, admin):
    auth.login(admin.email)
    content = (HEADER + "Kyoto University,JP,,,yes,Practice list\n" + "x" * 200_000 + ",GB\n").encode()
    response = upload(client, content)
    assert response.status_code == 200
    assert [li.get_text() for li in soup(response).select("[role=alert] li")] == [
        "line 3: field larger than field limit (131072)"]
    assert count() == 0


csrf_on = pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True}], ids=["csrf"])


def csrf_token(response: Any) -> str:
    return str(soup(response).find("input", attrs={"name": "csrf_token"})["value"])


@csrf_on
def test_upload_and_edit_need_the_csrf_token(client, admin, registry):
    client.post("/auth/login", data={"email": admin.email, "password": "violet-harbour-lantern-42",
                                     "csrf_token": csrf_token(client.get("/auth/login"))})
    content = (HEADER + "Kyoto University,JP,,,yes,Practice list\n").encode()
    assert upload(client, content).status_code == 400
    eth = registry["eth"]
    assert client.post(f"/institutions/{eth.id}/edit", data=form_data(name="Hacked", country="CH")).status_code == 400
    assert count() == len(registry) and get("ETH Zurich") is not None

    token = csrf_token(client.get("/institutions/import"))
    assert upload(client, content, csrf_token=token).status_code == 302
    assert get("Kyoto University") is not None
    too_big = HEADER.encode() + b"x" * IMPORT_MAX_BYTES
    assert upload(client, too_big, csrf_token=token).status_code == 413
