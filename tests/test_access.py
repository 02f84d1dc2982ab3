"""Object-level access: who reaches which case and applicant, on every object route of the URL map.

The rule (SECURITY.md): an advisor reaches the cases assigned to them and the applicants of those cases;
everything else answers 404, exactly like an id that does not exist. Admin-only routes (delete,
reassign) answer 403 to every advisor before any object is looked up, so they answer the same for an
advisor's own case, someone else's case and a case that does not exist: no route tells an advisor
whether a case they may not see exists.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from bs4 import BeautifulSoup
from flask import Flask
from sqlalchemy import func, select
from werkzeug.routing import Rule

from advisor import applicants, assessments, cases, institutions, records, tasks
from models import Applicant, Assessment, AuditEvent, Case, CaseStatus, DegreeLevel, Education, Task, User, db

OBJECT_ARGUMENTS = {"case_id", "applicant_id"}
# Routes that only an admin may use, whatever the object.
ADMIN_ONLY = {"applicants.delete", "cases.delete", "cases.reassign"}
# What the walk must at least find; a route renamed or dropped shows up here first.
KNOWN_OBJECT_ENDPOINTS = {
    "applicants.detail", "applicants.edit", "applicants.delete",
    "cases.new", "cases.detail", "cases.edit", "cases.reassign", "cases.delete",
    "records.new", "records.edit", "records.delete", "eligibility.case", "eligibility.past", "eligibility.run",
    "eligibility.judge", "eligibility.summary",
    "tasks.add", "tasks.add_submission", "tasks.done", "tasks.reopen", "tasks.delete",
}
MISSING_ID = 999_999


def object_rules(app: Flask) -> list[Rule]:
    rules = [rule for rule in app.url_map.iter_rules() if OBJECT_ARGUMENTS & rule.arguments]
    return sorted(rules, key=lambda rule: rule.endpoint)


def url(app: Flask, rule: Rule, *, case_id: int, applicant_id: int) -> str:
    """The rule's URL for these ids; records, assessments and tasks are the real ones hanging off them."""
    record = db.session.scalar(select(Education.id).where(Education.applicant_id == applicant_id).limit(1))
    assessment = db.session.scalar(select(Assessment.id).where(Assessment.case_id == case_id).limit(1))
    task = db.session.scalar(select(Task.id).where(Task.case_id == case_id).limit(1))
    values = {"case_id": case_id, "applicant_id": applicant_id, "kind": "education",
              "record_id": record or MISSING_ID, "assessment_id": assessment or MISSING_ID,
              "task_id": task or MISSING_ID}
    adapter = app.url_map.bind("advisor.test")
    return adapter.build(rule.endpoint, {name: values[name] for name in rule.arguments})


def methods(rule: Rule) -> list[str]:
    return [method for method in ("GET", "POST") if method in (rule.methods or ())]


def hostile_payload(attacker: User, case: Case) -> dict[str, str]:
    """A complete, valid submission for every object form at once: if a route forgot its access
    check, this would really change the record instead of failing on validation."""
    return {
        "family_name": "Hacked", "given_names": "Hacked", "chinese_name": "", "sex": "F",
        "born_on": "1980-01-01", "nationality": "GB", "residence_country": "GB",
        "passport_number": "HACK12345", "passport_issued_on": "2021-01-01",
        "passport_expires_on": "2030-12-31", "email": "", "phone": "", "notes": "hacked",
        "consulate_code": "US-NYC", "planned_submission_on": "", "intended_entry_on": "",
        "case_notes": "hacked", "version": str(case.version), "advisor_id": str(attacker.id),
    }


def answers(client: Any, app: Flask, rules: list[Rule], *, case_id: int, applicant_id: int,
            data: dict[str, str] | None = None) -> dict[tuple[str, str], int]:
    """The status code of every (endpoint, method) pair."""
    codes = {}
    for rule in rules:
        path = url(app, rule, case_id=case_id, applicant_id=applicant_id)
        for method in methods(rule):
            response = client.open(path, method=method, data=data or {})
            codes[(rule.endpoint, method)] = response.status_code
    return codes


def case_state(case_id: int) -> tuple[Any, ...]:
    db.session.expire_all()
    case = db.session.get(Case, case_id)
    assert case is not None
    applicant = case.applicant
    case_count = db.session.scalar(select(func.count()).select_from(Case)
                                   .where(Case.applicant_id == applicant.id))
    return (case.version, case.advisor_id, case.deleted_at, case.notes, case.consulate_code,
            applicant.version, applicant.family_name, applicant.deleted_at, case_count)


def row_ids(response: Any, endpoint_prefix: str) -> list[int]:
    """Ids of the objects linked from the rows of a list table, in order."""
    soup = BeautifulSoup(response.data, "html.parser")
    ids = []
    for link in soup.select("table.table tbody a[href]"):
        href = link["href"]
        if href.startswith(endpoint_prefix) and href[len(endpoint_prefix):].isdigit():
            ids.append(int(href[len(endpoint_prefix):]))
    return ids


def with_records(case: Case, by: User) -> Case:
    """A degree, an assessment and a task hang off the case, so the routes that take their ids are walked too."""
    institution = institutions.find_exact("Access Test Institute") or institutions.add_unverified(
        "Access Test Institute", "GB", by=by)
    records.add_education(case.applicant, records.EducationData(
        level=DegreeLevel.MASTER, field_code="0533", institution=institution, awarded_on=dt.date(2020, 6, 30),
        pending=False), by=by)
    assessments.run(case, by=by)
    tasks.add_task(case, "Call the applicant", None, by=by)
    db.session.commit()
    return case


@pytest.fixture
def mine(make_case, advisor):  # type: ignore[no-untyped-def]
    return with_records(make_case(advisor, family_name="Okafor", passport_number="OK1234567"), advisor)


@pytest.fixture
def theirs(make_case, other_advisor):  # type: ignore[no-untyped-def]
    return with_records(make_case(other_advisor, family_name="Zyskowski", given_names="Zofia",
                                  chinese_name="张伟", passport_number="ZZ9988776", status=CaseStatus.READY),
                        other_advisor)


# The walk itself ------------------------------------------------------------------------------

def test_walk_finds_every_object_route(app):
    rules = object_rules(app)
    assert KNOWN_OBJECT_ENDPOINTS <= {rule.endpoint for rule in rules}
    assert ADMIN_ONLY <= {rule.endpoint for rule in rules}
    # Every object route takes an integer id: a string id can never reach a lookup.
    for rule in rules:
        for name in (OBJECT_ARGUMENTS | {"record_id", "assessment_id", "task_id"}) & rule.arguments:
            assert f"<int:{name}>" in rule.rule, rule.rule


# Someone else's case and applicant ---------------------------------------------------------------

def test_advisor_gets_404_on_someone_elses_case_and_applicant_on_every_route(
        app, client, auth, advisor, mine, theirs):
    rules = object_rules(app)
    before = case_state(theirs.id)
    last_event = db.session.scalar(select(func.max(AuditEvent.id)))
    auth.login(advisor.email)

    foreign = answers(client, app, rules, case_id=theirs.id, applicant_id=theirs.applicant_id,
                      data=hostile_payload(advisor, theirs))
    missing = answers(client, app, rules, case_id=MISSING_ID, applicant_id=MISSING_ID,
                      data=hostile_payload(advisor, theirs))

    expected = {key: 403 if key[0] in ADMIN_ONLY else 404 for key in foreign}
    assert foreign == expected
    # Indistinguishable from an id that does not exist.
    assert foreign == missing
    # Both GET and POST were tried wherever a route takes them.
    assert ("cases.edit", "POST") in foreign and ("cases.reassign", "POST") in foreign
    assert ("applicants.edit", "GET") in foreign and ("cases.new", "POST") in foreign
    # And nothing changed.
    assert case_state(theirs.id) == before
    actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.id > last_event)).all()
    assert actions == ["auth.login"]


def test_advisor_gets_404_on_an_applicant_of_someone_elses_case_through_my_case_routes(
        app, client, auth, advisor, mine, theirs):
    """Routes taking both ids must not be fooled by mixing a visible case with a foreign applicant."""
    auth.login(advisor.email)
    for rule in object_rules(app):
        if "applicant_id" not in rule.arguments or rule.endpoint in ADMIN_ONLY:
            continue
        path = url(app, rule, case_id=mine.id, applicant_id=theirs.applicant_id)
        assert client.get(path).status_code == 404, path


def test_owner_reaches_their_own_objects(app, client, auth, advisor, mine):
    auth.login(advisor.email)
    codes = {}
    for rule in object_rules(app):
        if "GET" in (rule.methods or ()):
            path = url(app, rule, case_id=mine.id, applicant_id=mine.applicant_id)
            codes[rule.endpoint] = client.get(path).status_code
    for endpoint, code in codes.items():
        if endpoint in ADMIN_ONLY:
            assert code == 403, endpoint
        else:
            assert code in (200, 302), endpoint
    assert codes["cases.detail"] == 200 and codes["applicants.edit"] == 200


def test_advisor_gets_403_on_admin_only_routes_of_their_own_case(app, client, auth, advisor, mine):
    before = case_state(mine.id)
    auth.login(advisor.email)
    paths = {
        "GET /cases/delete": client.get(f"/cases/{mine.id}/delete"),
        "POST /cases/delete": client.post(f"/cases/{mine.id}/delete"),
        "POST /cases/reassign": client.post(f"/cases/{mine.id}/reassign",
                                            data={"advisor_id": advisor.id, "version": mine.version}),
        "GET /applicants/delete": client.get(f"/applicants/{mine.applicant_id}/delete"),
        "POST /applicants/delete": client.post(f"/applicants/{mine.applicant_id}/delete"),
    }
    assert {name: response.status_code for name, response in paths.items()} == dict.fromkeys(paths, 403)
    assert b"Yes, delete" not in paths["GET /cases/delete"].data
    assert case_state(mine.id) == before


def test_admin_reaches_every_object_route(app, client, auth, admin, theirs):
    auth.login(admin.email)
    codes = {}
    for rule in object_rules(app):
        path = url(app, rule, case_id=theirs.id, applicant_id=theirs.applicant_id)
        if "GET" in (rule.methods or ()):
            codes[(rule.endpoint, "GET")] = client.get(path).status_code
        else:  # POST-only: a harmless submission (reassign to the current advisor)
            data = {"advisor_id": theirs.advisor_id, "version": theirs.version}
            codes[(rule.endpoint, "POST")] = client.post(path, data=data).status_code
    assert codes == {key: 302 if key[1] == "POST" else 200 for key in codes}
    assert ("cases.reassign", "POST") in codes and ("cases.delete", "GET") in codes


# Soft-deleted objects ----------------------------------------------------------------------------

def case_rules(app: Flask) -> list[Rule]:
    return [rule for rule in object_rules(app) if "case_id" in rule.arguments]


def test_soft_deleted_case_answers_404_to_everyone(app, client, auth, admin, advisor, mine):
    cases.delete_case(mine, by=admin)
    db.session.commit()

    auth.login(admin.email)
    as_admin = answers(client, app, case_rules(app), case_id=mine.id, applicant_id=mine.applicant_id,
                       data={"advisor_id": str(admin.id), "version": str(mine.version)})
    assert as_admin == dict.fromkeys(as_admin, 404)
    auth.logout()

    auth.login(advisor.email)
    as_owner = answers(client, app, case_rules(app), case_id=mine.id, applicant_id=mine.applicant_id)
    assert as_owner == {key: 403 if key[0] in ADMIN_ONLY else 404 for key in as_owner}
    # Their applicant had no other case, so it is gone for them too.
    assert client.get(f"/applicants/{mine.applicant_id}").status_code == 404


def test_soft_deleted_applicant_answers_404_to_everyone(app, client, auth, admin, advisor, mine):
    applicants.delete_applicant(mine.applicant, by=admin)
    db.session.commit()
    rules = object_rules(app)

    auth.login(admin.email)
    as_admin = answers(client, app, rules, case_id=mine.id, applicant_id=mine.applicant_id,
                       data={"advisor_id": str(admin.id), "version": str(mine.version)})
    assert as_admin == dict.fromkeys(as_admin, 404)
    auth.logout()

    auth.login(advisor.email)
    as_owner = answers(client, app, rules, case_id=mine.id, applicant_id=mine.applicant_id)
    assert as_owner == {key: 403 if key[0] in ADMIN_ONLY else 404 for key in as_owner}
    db.session.expire_all()
    assert db.session.get(Applicant, mine.applicant_id).deleted_at is not None  # a soft delete


def test_deleted_case_of_an_applicant_leaves_their_other_case_reachable(
        app, client, auth, admin, advisor, mine):
    second = cases.open_case(mine.applicant, cases.CaseData("US-NYC", None, None, ""), advisor=advisor,
                             by=advisor)
    db.session.commit()
    cases.delete_case(mine, by=admin)
    db.session.commit()
    auth.login(advisor.email)
    assert client.get(f"/cases/{mine.id}").status_code == 404
    assert client.get(f"/cases/{second.id}").status_code == 200
    page = client.get(f"/applicants/{mine.applicant_id}")
    assert page.status_code == 200
    assert row_ids(page, "/cases/") == [second.id]


# Lists ---------------------------------------------------------------------------------------------

def test_lists_never_show_someone_elses_rows(client, auth, advisor, mine, theirs):
    auth.login(advisor.email)
    secrets = [theirs.reference.encode(), b"Zyskowski", b"ZYSKOWSKI", "张伟".encode(), b"ZZ9988776"]
    pages = {
        "/cases/": ("/cases/", [mine.id]),
        "/cases/?sort=applicant": ("/cases/", [mine.id]),
        "/cases/?status=ready": ("/cases/", []),
        f"/cases/?q={theirs.reference}": ("/cases/", []),
        "/cases/?q=Zyskowski": ("/cases/", []),
        "/cases/?q=zz9988776": ("/cases/", []),
        "/cases/?q=张伟": ("/cases/", []),
        "/applicants/": ("/applicants/", [mine.applicant_id]),
        "/applicants/?q=Zofia": ("/applicants/", []),
        "/applicants/?q=ZZ 998 8776": ("/applicants/", []),
        "/applicants/?q=张伟": ("/applicants/", []),
        "/applicants/?sort=-updated": ("/applicants/", [mine.applicant_id]),
        "/": ("/cases/", [mine.id]),
    }
    for path, (prefix, expected) in pages.items():
        response = client.get(path)
        assert response.status_code == 200, path
        assert row_ids(response, prefix) == expected, path
        for secret in secrets:
            if secret.decode() not in path:  # a search term is echoed back in the search box
                assert secret not in response.data, (path, secret)


def test_dashboard_counts_only_my_cases(client, auth, admin, advisor, mine, theirs):
    def tiles(response: Any) -> dict[str, int]:
        soup = BeautifulSoup(response.data, "html.parser")
        return {tile.select_one(".tile-label").text.lower(): int(tile.select_one(".tile-count").text)
                for tile in soup.select(".status-tiles .tile")}

    auth.login(advisor.email)
    mine_counts = tiles(client.get("/"))
    assert mine_counts["intake"] == 1 and mine_counts["ready"] == 0
    assert sum(mine_counts.values()) == 1
    auth.logout()
    auth.login(admin.email)
    all_counts = tiles(client.get("/"))
    assert all_counts["intake"] == 1 and all_counts["ready"] == 1


def test_admin_lists_show_everyone(client, auth, admin, mine, theirs):
    auth.login(admin.email)
    assert sorted(row_ids(client.get("/cases/"), "/cases/")) == sorted([mine.id, theirs.id])
    assert sorted(row_ids(client.get("/applicants/"), "/applicants/")) == sorted(
        [mine.applicant_id, theirs.applicant_id])


# Reach follows the assignment ----------------------------------------------------------------------

def test_applicant_of_a_case_assigned_to_me_is_reachable_whoever_created_it(
        app, client, auth, admin, advisor, theirs):
    applicant = theirs.applicant
    assert applicant.created_by_id != advisor.id
    my_case = cases.open_case(applicant, cases.CaseData("GB-LON", None, None, ""), advisor=advisor, by=admin)
    db.session.commit()

    auth.login(advisor.email)
    for path in (f"/applicants/{applicant.id}", f"/applicants/{applicant.id}/edit",
                 f"/cases/new/{applicant.id}", f"/cases/{my_case.id}"):
        assert client.get(path).status_code == 200, path
    detail = client.get(f"/applicants/{applicant.id}")
    # Their case stays out of sight, even on the shared applicant's page.
    assert row_ids(detail, "/cases/") == [my_case.id]
    assert theirs.reference.encode() not in detail.data
    assert client.get(f"/cases/{theirs.id}").status_code == 404
    assert row_ids(client.get("/applicants/"), "/applicants/") == [applicant.id]


def test_applicant_whose_only_case_is_reassigned_away_becomes_404(
        app, client, auth, admin, advisor, other_advisor, mine):
    auth.login(advisor.email)
    assert client.get(f"/applicants/{mine.applicant_id}").status_code == 200

    cases.reassign_case(mine, other_advisor, version=mine.version, by=admin)
    db.session.commit()

    codes = answers(client, app, [r for r in object_rules(app) if r.endpoint not in ADMIN_ONLY],
                    case_id=mine.id, applicant_id=mine.applicant_id)
    assert codes == dict.fromkeys(codes, 404)
    assert row_ids(client.get("/cases/"), "/cases/") == []
    assert row_ids(client.get("/applicants/"), "/applicants/") == []
    # The new advisor has it now.
    auth.logout()
    auth.login(other_advisor.email)
    assert client.get(f"/applicants/{mine.applicant_id}").status_code == 200
    assert client.get(f"/cases/{mine.id}").status_code == 200


def test_visibility_queries_agree_with_the_routes(app, admin, advisor, other_advisor, mine, theirs):
    """The operations behind the routes, directly: what each role may see."""
    assert cases.get_visible_case(advisor, mine.id) is not None
    assert cases.get_visible_case(advisor, theirs.id) is None
    assert cases.get_visible_case(admin, theirs.id) is not None
    assert applicants.get_visible_applicant(advisor, theirs.applicant_id) is None
    assert applicants.get_visible_applicant(other_advisor, theirs.applicant_id) is not None
    assert applicants.get_visible_applicant(admin, mine.applicant_id) is not None
    assert set(db.session.scalars(cases.visible_cases(advisor))) == {mine}
    assert set(db.session.scalars(applicants.visible_applicants(advisor))) == {mine.applicant}
    assert mine.can_be_seen_by(advisor) and not theirs.can_be_seen_by(advisor)
    assert theirs.can_be_seen_by(admin)
