"""Object-level access: who reaches which case and applicant, on every object route of the URL map.

The rule (SECURITY.md): an advisor reaches the cases assigned to them, the applicants of those cases and what
hangs off them (documents, files, packets, upload links); everything else answers 404, exactly like an id that
does not exist. Admin-only routes (delete, reassign) answer 403 to every advisor before any object is looked
up, so they answer the same for an advisor's own case, someone else's case and a case that does not exist: no
route tells an advisor whether a case they may not see exists.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from bs4 import BeautifulSoup
from flask import Flask
from sqlalchemy import func, select
from werkzeug.routing import Rule

from advisor import applicants, assessments, cases, documents, packets, records, tasks, upload_links
from advisor.documents import Incoming, Limits
from models import (
    Applicant,
    Assessment,
    AuditEvent,
    Case,
    CaseDocument,
    CaseStatus,
    DegreeLevel,
    DocumentFile,
    Education,
    Institution,
    Packet,
    Task,
    UploadLink,
    User,
    db,
)
from views import PUBLIC_ENDPOINTS

from . import hostile
from .conftest import settle_documents

OBJECT_ARGUMENTS = {"case_id", "applicant_id"}
# Ids of what hangs off a case or an applicant; each route looks them up within the case it names.
CHILD_ARGUMENTS = {"record_id", "assessment_id", "task_id", "document_id", "file_id", "link_id", "packet_id"}
# Routes that only an admin may use, whatever the object.
ADMIN_ONLY = {"applicants.delete", "cases.delete", "cases.reassign"}
# What the walk must at least find; a route renamed or dropped shows up here first.
KNOWN_OBJECT_ENDPOINTS = {
    "applicants.detail", "applicants.edit", "applicants.delete",
    "cases.new", "cases.detail", "cases.edit", "cases.reassign", "cases.delete",
    "records.new", "records.edit", "records.delete", "eligibility.case", "eligibility.past", "eligibility.run",
    "eligibility.judge", "eligibility.summary",
    "tasks.add", "tasks.add_submission", "tasks.done", "tasks.reopen", "tasks.delete",
    "documents.index", "documents.sync", "documents.ask", "documents.letter", "documents.detail",
    "documents.upload", "documents.accept", "documents.reject", "documents.waive", "documents.reopen",
    "documents.details", "documents.download", "documents.thumbnail", "upload_links.new", "upload_links.revoke",
    "packets.index", "packets.draft", "packets.final", "packets.download",
}
# POST routes that answer with a file (a draft packet) rather than a redirect.
POST_DOWNLOADS = {"packets.draft"}
# The applicant's side of an upload link needs no login: the token is the key, not a case id.
PUBLIC_LINK_ENDPOINTS = {"upload_links.public", "upload_links.public_upload"}
MISSING_ID = 999_999
# A background packet export's id (RQ, only with REDIS_URL set, which these tests leave unset): no such job
# exists here, so its progress page answers 404 to everyone.
MISSING_JOB = "0" * 32
JOB_ENDPOINTS = {"packets.job"}


def object_rules(app: Flask) -> list[Rule]:
    rules = [rule for rule in app.url_map.iter_rules() if OBJECT_ARGUMENTS & rule.arguments]
    return sorted(rules, key=lambda rule: rule.endpoint)


def first_id(column: Any, owner: Any, owner_id: int) -> int:
    return db.session.scalar(select(column).where(owner == owner_id).order_by(column).limit(1)) or MISSING_ID


def url(app: Flask, rule: Rule, *, case_id: int, applicant_id: int, children_of: int | None = None) -> str:
    """The rule's URL for these ids; records, assessments, tasks, documents, files, links and packets are the
    real ones hanging off them (or off the case `children_of`, to mix one case's id with another case's)."""
    child_case = case_id if children_of is None else children_of
    child_applicant = applicant_id
    if children_of is not None:
        child_applicant = db.session.scalar(select(Case.applicant_id).where(Case.id == children_of)) or MISSING_ID
    document = db.session.scalar(select(CaseDocument.id).where(
        CaseDocument.case_id == child_case, CaseDocument.requirement_code == DOCUMENT_WITH_FILE))
    values = {"case_id": case_id, "applicant_id": applicant_id, "kind": "education",
              "record_id": first_id(Education.id, Education.applicant_id, child_applicant),
              "assessment_id": first_id(Assessment.id, Assessment.case_id, child_case),
              "task_id": first_id(Task.id, Task.case_id, child_case),
              "document_id": document or MISSING_ID,
              "file_id": first_id(DocumentFile.id, DocumentFile.case_id, child_case),
              "link_id": first_id(UploadLink.id, UploadLink.case_id, child_case),
              "packet_id": first_id(Packet.id, Packet.case_id, child_case), "job_id": MISSING_JOB}
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
        # Documents and upload links: a reason to reject or waive, details, a request and a link.
        "reason": "hacked", "number": "HACK12345", "language": "hacked", "due_on": "", "days": "90",
        "message": "hacked", "documents": str(db.session.scalar(select(CaseDocument.id).where(
            CaseDocument.case_id == case.id, CaseDocument.requirement_code == DOCUMENT_LINKED))),
    }


def answers(client: Any, app: Flask, rules: list[Rule], *, case_id: int, applicant_id: int,
            data: dict[str, str] | None = None, children_of: int | None = None) -> dict[tuple[str, str], int]:
    """The status code of every (endpoint, method) pair."""
    codes = {}
    for rule in rules:
        path = url(app, rule, case_id=case_id, applicant_id=applicant_id, children_of=children_of)
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
    lines = db.session.scalars(select(CaseDocument).where(CaseDocument.case_id == case_id)
                               .order_by(CaseDocument.id)).all()
    stored = db.session.scalars(select(DocumentFile).where(DocumentFile.case_id == case_id)
                                .order_by(DocumentFile.id)).all()
    links = db.session.scalars(select(UploadLink).where(UploadLink.case_id == case_id)
                               .order_by(UploadLink.id)).all()
    return (case.version, case.advisor_id, case.deleted_at, case.notes, case.consulate_code,
            applicant.version, applicant.family_name, applicant.deleted_at, case_count,
            [(line.version, line.state, line.reason, line.number, line.request_due_on) for line in lines],
            [(f.id, f.deleted_at) for f in stored], [(link.id, link.revoked_at, link.expires_at) for link in links],
            db.session.scalars(select(Packet.id).where(Packet.case_id == case_id).order_by(Packet.id)).all())


def row_ids(response: Any, endpoint_prefix: str) -> list[int]:
    """Ids of the objects linked from the rows of a list table, in order."""
    soup = BeautifulSoup(response.data, "html.parser")
    ids = []
    for link in soup.select("table.table tbody a[href]"):
        href = link["href"]
        if href.startswith(endpoint_prefix) and href[len(endpoint_prefix):].isdigit():
            ids.append(int(href[len(endpoint_prefix):]))
    return ids


DOCUMENT_WITH_FILE = "passport"  # an uploaded file waits for review on this line
DOCUMENT_LINKED = "photo"  # an upload link asks for this one
UPLOAD_LIMITS = Limits(max_bytes=5 * 1024 * 1024, max_pixels=60_000_000, max_pages=300)


def with_records(case: Case, by: User, institution: Institution) -> Case:
    """A degree, an assessment, a task, a final packet, a document line with an uploaded file and an upload
    link hang off the case, so the routes that take their ids are walked too."""
    records.add_education(case.applicant, records.EducationData(
        level=DegreeLevel.MASTER, field_code="0533", institution=institution, awarded_on=dt.date(2020, 6, 30),
        pending=False), by=by)
    assessments.run(case, by=by)
    tasks.add_task(case, "Call the applicant", None, by=by)
    # A final packet needs a case with nothing blocking it; two of its lines are asked for again afterwards.
    settle_documents(case, by)
    packets.export_final(case, by=by)
    lines = {line.requirement_code: line for line in documents.lines_of(case)}
    documents.reopen(lines[DOCUMENT_WITH_FILE], by=by)
    documents.reopen(lines[DOCUMENT_LINKED], by=by)
    documents.upload(lines[DOCUMENT_WITH_FILE], [Incoming("scan.pdf", hostile.pdf())], limits=UPLOAD_LIMITS, by=by)
    upload_links.create_link(case, [lines[DOCUMENT_LINKED]], days=14, message="", by=by)
    db.session.commit()
    return case


@pytest.fixture
def mine(make_case, advisor, institution):  # type: ignore[no-untyped-def]
    return with_records(make_case(advisor, family_name="Okafor", passport_number="OK1234567"), advisor, institution)


@pytest.fixture
def theirs(make_case, other_advisor, institution):  # type: ignore[no-untyped-def]
    return with_records(make_case(other_advisor, family_name="Zyskowski", given_names="Zofia",
                                  chinese_name="张伟", passport_number="ZZ9988776", status=CaseStatus.READY),
                        other_advisor, institution)


# The walk itself ------------------------------------------------------------------------------

def test_walk_finds_every_object_route(app):
    rules = object_rules(app)
    assert KNOWN_OBJECT_ENDPOINTS <= {rule.endpoint for rule in rules}
    assert ADMIN_ONLY <= {rule.endpoint for rule in rules}
    # Every object route takes an integer id: a string id can never reach a lookup.
    for rule in rules:
        for name in (OBJECT_ARGUMENTS | CHILD_ARGUMENTS) & rule.arguments:
            assert f"<int:{name}>" in rule.rule, rule.rule
    # Every route taking the id of something that hangs off a case names the case too, so the walk finds it.
    for rule in app.url_map.iter_rules():
        if CHILD_ARGUMENTS & rule.arguments and rule.endpoint not in PUBLIC_LINK_ENDPOINTS:
            assert OBJECT_ARGUMENTS & rule.arguments, rule.rule
    # No object route is public; the applicant's upload-link pages are, and take no case id.
    assert not PUBLIC_ENDPOINTS & {rule.endpoint for rule in rules}
    assert PUBLIC_LINK_ENDPOINTS <= PUBLIC_ENDPOINTS
    public_link_rules = [rule for rule in app.url_map.iter_rules() if rule.endpoint in PUBLIC_LINK_ENDPOINTS]
    assert {rule.endpoint for rule in public_link_rules} == PUBLIC_LINK_ENDPOINTS
    assert all("token" in rule.arguments and not OBJECT_ARGUMENTS & rule.arguments for rule in public_link_rules)


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
    for endpoint in ("documents.download", "documents.thumbnail", "documents.detail", "upload_links.new"):
        assert (endpoint, "GET") in foreign
    for endpoint in ("documents.accept", "documents.upload", "upload_links.new", "upload_links.revoke",
                     "packets.draft", "packets.final"):
        assert (endpoint, "POST") in foreign
    assert ("packets.download", "GET") in foreign
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


def test_advisor_gets_404_on_documents_files_links_and_packets_of_someone_elses_case_through_my_case_routes(
        app, client, auth, advisor, mine, theirs):
    """My case's id with their line, file, link or packet: each is looked up within the case the URL names."""
    before = case_state(theirs.id)
    auth.login(advisor.email)
    rules = [rule for rule in object_rules(app)
             if {"document_id", "file_id", "link_id", "packet_id"} & rule.arguments and rule.endpoint not in ADMIN_ONLY]
    assert {"documents.download", "documents.thumbnail", "documents.accept", "upload_links.revoke",
            "packets.download"} <= {rule.endpoint for rule in rules}
    codes = answers(client, app, rules, case_id=mine.id, applicant_id=mine.applicant_id, children_of=theirs.id,
                    data=hostile_payload(advisor, theirs))
    assert codes == dict.fromkeys(codes, 404)
    assert case_state(theirs.id) == before
    # The same routes with my own objects do answer: the 404s above are about whose objects they are.
    own = answers(client, app, [rule for rule in rules if "GET" in (rule.methods or ())],
                  case_id=mine.id, applicant_id=mine.applicant_id)
    assert own == dict.fromkeys(own, 200)


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
        elif endpoint in JOB_ENDPOINTS:
            assert code == 404, endpoint
        else:
            assert code in (200, 302), endpoint
    assert codes["cases.detail"] == 200 and codes["applicants.edit"] == 200
    for endpoint in ("documents.detail", "documents.download", "documents.thumbnail", "documents.letter",
                     "upload_links.new", "packets.index", "packets.download"):
        assert codes[endpoint] == 200, endpoint


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
    expected = {key: 302 if key[1] == "POST" and key[0] not in POST_DOWNLOADS else 200 for key in codes}
    assert codes == {**expected, **{key: 404 for key in codes if key[0] in JOB_ENDPOINTS}}
    assert ("cases.reassign", "POST") in codes and ("cases.delete", "GET") in codes
    assert ("documents.download", "GET") in codes and ("upload_links.revoke", "POST") in codes
    assert ("packets.download", "GET") in codes and ("packets.draft", "POST") in codes


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
        "/": ("/cases/", [mine.id, mine.id]),  # among recent cases, and its upload waiting for review
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

    def reviews(response: Any) -> list[str]:
        section = BeautifulSoup(response.data, "html.parser").select_one("section#reviews")
        return [a["href"] for a in section.select("tbody a") if "/documents/" in a["href"]]

    def review_path(case: Case) -> str:
        line = next(line for line in documents.lines_of(case) if line.requirement_code == DOCUMENT_WITH_FILE)
        return f"/cases/{case.id}/documents/{line.id}"

    auth.login(advisor.email)
    board = client.get("/")
    mine_counts = tiles(board)
    assert mine_counts["intake"] == 1 and mine_counts["ready"] == 0
    assert sum(mine_counts.values()) == 1
    assert reviews(board) == [review_path(mine)]
    auth.logout()
    auth.login(admin.email)
    board = client.get("/")
    all_counts = tiles(board)
    assert all_counts["intake"] == 1 and all_counts["ready"] == 1
    assert sorted(reviews(board)) == sorted([review_path(mine), review_path(theirs)])


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
