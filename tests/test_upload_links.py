"""Upload links: the advisor asks for documents, the applicant uploads them without an account.

The link shows only the documents it names (in English and Chinese), stores only what passes the file checks,
takes a limited number of files an hour, and closes when it expires, is revoked or its case is deleted.
Only the token's SHA-256 is kept, so the token is shown once, when the link is made.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
from collections.abc import Callable
from typing import Any

import pytest
from bs4 import BeautifulSoup
from flask import Flask
from flask.testing import EnvironBuilder, FlaskClient
from sqlalchemy import func, select

from advisor import cases, checklist, documents, filestore, packet_pdf, upload_links
from advisor.documents import Incoming, Limits
from advisor.errors import DomainError
from advisor.upload_links import LinkClosed, TooManyUploads
from models import (
    AuditEvent,
    Case,
    CaseDocument,
    CaseStatus,
    DocumentFile,
    DocumentState,
    UploadLink,
    User,
    db,
    utcnow,
)

from . import hostile

PASSPORT_NUMBER = "PX7654321"
# What the link asks for, and what else the case's checklist holds: the page must show only the first.
LINKED = ("passport", "degree_certificate")
NOT_LINKED = ("photo", "application_form", "transcript", "cv", "residence_proof", "previous_visa")
LIMITS = Limits(max_bytes=5 * 1024 * 1024, max_pixels=60_000_000, max_pages=300)
TOKEN_IN_PAGE = re.compile(r"http://advisor\.test/u/([A-Za-z0-9_-]+)")


# Helpers and factories --------------------------------------------------------------------------------

@pytest.fixture
def case(make_case, advisor) -> Case:  # type: ignore[no-untyped-def]
    return make_case(advisor, family_name="Okafor", given_names="Chidi", passport_number=PASSPORT_NUMBER,
                     email="chidi.okafor@example.org")


@pytest.fixture
def make_link(app: Flask) -> Callable[..., tuple[UploadLink, str]]:
    """A link made by the case's advisor through the operation; returns it and its token."""
    def make(case: Case, codes: tuple[str, ...] = LINKED, *, days: int = 14,
             message: str = "") -> tuple[UploadLink, str]:
        link, token = upload_links.create_link(case, [line_of(case, code) for code in codes], days=days,
                                               message=message, by=case.advisor)
        db.session.commit()
        return link, token

    return make


@pytest.fixture
def anonymous(app: Flask) -> FlaskClient:
    """The applicant's browser: a client of its own that never logs in."""
    return app.test_client()


def line_of(case: Case, code: str) -> CaseDocument:
    return next(line for line in documents.lines_of(case) if line.requirement_code == code)


def title(code: str) -> str:
    requirement = checklist.current().get(code)
    assert requirement is not None
    return requirement.title


def fresh(line: CaseDocument) -> CaseDocument:
    db.session.expire_all()
    found = db.session.get(CaseDocument, line.id)
    assert found is not None
    return found


def stored_files(case: Case) -> list[DocumentFile]:
    db.session.expire_all()
    return list(db.session.scalars(select(DocumentFile).where(DocumentFile.case_id == case.id)
                                   .order_by(DocumentFile.id)))


def storage_keys() -> list[str]:
    return sorted(filestore.current().keys())


def events(action: str, **where: Any) -> list[AuditEvent]:
    db.session.expire_all()
    query = select(AuditEvent).where(AuditEvent.action == action)
    for name, value in where.items():
        query = query.where(getattr(AuditEvent, name) == value)
    return list(db.session.scalars(query.order_by(AuditEvent.id)))


def send(client: FlaskClient, token: str, line: CaseDocument, *files: tuple[str, bytes], **fields: str) -> Any:
    """POST files to a line through the link. The test client spools a big multipart body to a temporary file
    it never closes (a server owns its input stream); this closes it."""
    builder = EnvironBuilder(client.application, path=f"/u/{token}/{line.id}", method="POST",
                             data={"files": [(io.BytesIO(data), name) for name, data in files], **fields},
                             content_type="multipart/form-data")
    environ = builder.get_environ()
    builder.close()
    try:
        return client.open(environ)
    finally:
        environ["wsgi.input"].close()


def text_of(response: Any) -> str:
    return " ".join(BeautifulSoup(response.data, "html.parser").get_text(" ").split())


def create_through_form(client: FlaskClient, case: Case, lines: list[CaseDocument], **fields: Any) -> Any:
    data = {"documents": [str(line.id) for line in lines], "days": "14", "message": "", **fields}
    return client.post(f"/cases/{case.id}/links/new", data=data)


def link_count() -> int:
    return db.session.scalar(select(func.count()).select_from(UploadLink)) or 0


# Making a link --------------------------------------------------------------------------------------

def test_a_new_link_shows_its_token_once_and_stores_only_its_hash(client, auth, advisor, case):
    auth.login(advisor.email)
    lines = [line_of(case, code) for code in LINKED]
    response = create_through_form(client, case, lines, message="Colour scans, please.")

    assert response.status_code == 200
    tokens = set(TOKEN_IN_PAGE.findall(response.get_data(as_text=True)))
    assert len(tokens) == 1
    token = tokens.pop()
    assert len(token) >= 40  # 32 random bytes
    link = db.session.scalars(select(UploadLink)).one()
    assert link.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert link.case_id == case.id and link.created_by_id == advisor.id
    assert link.requirement_codes == list(LINKED) and link.message == "Colour scans, please."
    # The token itself is kept nowhere: not on the row, not in the audit trail, not on any later page.
    assert token not in repr([getattr(link, column.key) for column in UploadLink.__table__.columns])
    assert all(token not in repr(event.changes) for event in db.session.scalars(select(AuditEvent)))
    for path in (f"/cases/{case.id}/documents", f"/cases/{case.id}/links/new", f"/cases/{case.id}/documents/letter"):
        page = client.get(path)
        assert page.status_code == 200, path
        assert token.encode() not in page.data, path
    [created] = events("upload_link.create", object_id=link.id)
    assert created.actor_id == advisor.id and created.changes["documents"] == list(LINKED)


def test_the_chosen_lines_become_requested_until_the_link_expires(client, auth, advisor, case):
    auth.login(advisor.email)
    before = utcnow()
    response = create_through_form(client, case, [line_of(case, code) for code in LINKED], days="30")
    assert response.status_code == 200
    link = db.session.scalars(select(UploadLink)).one()
    assert before + dt.timedelta(days=30) <= link.expires_at <= utcnow() + dt.timedelta(days=30)
    for code in LINKED:
        line = fresh(line_of(case, code))
        assert line.state == DocumentState.REQUESTED, code
        assert line.request_due_on == link.expires_at.date(), code
        assert line.requested_at is not None
    for code in NOT_LINKED:
        assert fresh(line_of(case, code)).state == DocumentState.MISSING, code


def test_the_link_lasts_14_days_unless_the_advisor_says_otherwise(client, auth, advisor, case):
    auth.login(advisor.email)
    form = BeautifulSoup(client.get(f"/cases/{case.id}/links/new").data, "html.parser")
    assert form.select_one("input[name=days]")["value"] == "14"
    assert {box["value"] for box in form.select("input[name=documents]")} == {
        str(line.id) for line in documents.lines_of(case)}

    before = utcnow()
    response = create_through_form(client, case, [line_of(case, "passport")], days=form.select_one(
        "input[name=days]")["value"])
    assert response.status_code == 200
    link = db.session.scalars(select(UploadLink)).one()
    assert before + dt.timedelta(days=14) <= link.expires_at <= utcnow() + dt.timedelta(days=14)


@pytest.mark.parametrize("app_config", [{"UPLOAD_LINK_DAYS": 21}])
def test_the_default_length_of_a_link_comes_from_the_configuration(client, auth, advisor, case):
    auth.login(advisor.email)
    form = BeautifulSoup(client.get(f"/cases/{case.id}/links/new").data, "html.parser")
    assert form.select_one("input[name=days]")["value"] == "21"


@pytest.mark.parametrize("days", ["0", "-3", "91", "365", "ten", ""])
def test_a_link_lasts_between_1_and_90_days(client, auth, advisor, case, days):
    auth.login(advisor.email)
    response = create_through_form(client, case, [line_of(case, "passport")], days=days)
    assert response.status_code == 200
    assert "Ask the applicant for documents" in text_of(response)  # the form again, not the letter
    error = BeautifulSoup(response.data, "html.parser").select_one("#days-error")
    assert error is not None and error.get_text().strip()
    assert not TOKEN_IN_PAGE.search(response.get_data(as_text=True))
    assert link_count() == 0
    assert fresh(line_of(case, "passport")).state == DocumentState.MISSING


def test_a_link_needs_at_least_one_document(client, auth, advisor, case):
    auth.login(advisor.email)
    response = create_through_form(client, case, [])
    assert response.status_code == 200
    assert "Choose at least one document." in text_of(response)
    assert link_count() == 0


def test_a_link_cannot_ask_for_a_line_of_another_case(client, auth, advisor, case, make_case):
    other = make_case(advisor, family_name="Second")
    foreign = line_of(other, "passport")
    auth.login(advisor.email)
    response = create_through_form(client, case, [line_of(case, "photo"), foreign])
    assert response.status_code == 200
    assert not TOKEN_IN_PAGE.search(response.get_data(as_text=True))
    assert link_count() == 0
    assert fresh(foreign).state == DocumentState.MISSING
    assert fresh(line_of(case, "photo")).state == DocumentState.MISSING


def test_a_link_cannot_ask_for_a_received_or_settled_line(client, auth, advisor, case):
    passport = line_of(case, "passport")
    documents.upload(passport, [Incoming("scan.pdf", hostile.pdf())], limits=LIMITS, by=advisor)
    documents.waive(line_of(case, "photo"), "Handed in on paper", by=advisor)
    db.session.commit()
    auth.login(advisor.email)
    choices = BeautifulSoup(client.get(f"/cases/{case.id}/links/new").data, "html.parser")
    offered = {int(box["value"]) for box in choices.select("input[name=documents]")}
    assert passport.id not in offered and line_of(case, "photo").id not in offered
    assert line_of(case, "cv").id in offered
    response = create_through_form(client, case, [passport])
    assert not TOKEN_IN_PAGE.search(response.get_data(as_text=True))
    assert link_count() == 0


@pytest.mark.parametrize("change, message", [
    (dict(codes=()), "Choose at least one document"),
    (dict(days=0), "between 1 and 90 days"),
    (dict(days=91), "between 1 and 90 days"),
    (dict(codes=("passport",), foreign=True), "Only missing, requested or rejected documents of this case"),
    (dict(codes=("passport",), settled=True), "Only missing, requested or rejected documents of this case"),
])
def test_create_link_refuses(app, advisor, case, make_case, change, message):
    lines = [line_of(case, code) for code in change.get("codes", LINKED)]
    if change.get("foreign"):
        lines.append(line_of(make_case(advisor, family_name="Second"), "photo"))
    if change.get("settled"):
        documents.waive(lines[0], "Not needed", by=advisor)
    with pytest.raises(DomainError, match=message):
        upload_links.create_link(case, lines, days=change.get("days", 14), message="", by=advisor)


def test_the_request_letter_lists_what_is_missing_in_both_languages(client, auth, advisor, case):
    documents.waive(line_of(case, "cv"), "Not needed", by=advisor)
    db.session.commit()
    auth.login(advisor.email)
    response = client.get(f"/cases/{case.id}/documents/letter")
    assert response.status_code == 200
    page = text_of(response)
    for code in LINKED + tuple(code for code in NOT_LINKED if code != "cv"):
        requirement = documents.requirement_of(line_of(case, code))
        assert requirement.title in page and requirement.title_zh in page, code
        assert " ".join(requirement.instructions.split()) in page, code
        assert requirement.instructions_zh in page, code
    assert title("cv") not in page  # waived: nothing to ask for
    assert f"Dear {case.applicant.full_name}," in page
    assert "Please send them to your advisor, Alex Advisor" in page
    assert "/u/" not in response.get_data(as_text=True)


def test_the_request_letter_needs_a_login(client, case):
    response = client.get(f"/cases/{case.id}/documents/letter")
    assert response.status_code == 302
    assert "/auth/login" in response.location


def test_the_new_link_page_shows_the_letter_with_the_link(client, auth, advisor, case):
    auth.login(advisor.email)
    response = create_through_form(client, case, [line_of(case, code) for code in LINKED],
                                   message="Scan both sides, please.", days="10")
    soup = BeautifulSoup(response.data, "html.parser")
    url = soup.select_one("#link-url")["value"]
    assert TOKEN_IN_PAGE.fullmatch(url)
    letter = soup.select_one("article.letter")
    assert url in letter.get_text()
    letter_text = " ".join(letter.get_text(" ").split())
    assert "Scan both sides, please." in letter_text
    for code in LINKED:
        requirement = documents.requirement_of(line_of(case, code))
        assert requirement.title in letter_text and requirement.title_zh in letter_text
    for code in NOT_LINKED:
        assert title(code) not in letter_text, code
    link = db.session.scalars(select(UploadLink)).one()
    assert link.expires_at.strftime("%d %B %Y") in letter_text


# The applicant's page -------------------------------------------------------------------------------

def test_the_public_page_shows_only_the_linked_documents(anonymous, case, make_link):
    link, token = make_link(case, message="Dear Chidi, the scans please. <script>alert(1)</script>")
    response = anonymous.get(f"/u/{token}")

    assert response.status_code == 200
    page = text_of(response)
    for code in LINKED:
        requirement = documents.requirement_of(line_of(case, code))
        assert requirement.title in page and requirement.title_zh in page, code
        assert " ".join(requirement.instructions.split()) in page, code
        assert requirement.instructions_zh in page, code
    for code in NOT_LINKED:
        assert title(code) not in page, code
    assert "Dear Chidi, the scans please. <script>alert(1)</script>" in page
    assert b"<script>" not in response.data  # the message is text, never markup
    for secret in (PASSPORT_NUMBER, "Okafor", "OKAFOR", "chidi.okafor@example.org", case.advisor.email):
        assert secret not in page, secret
    soup = BeautifulSoup(response.data, "html.parser")
    assert {form["action"] for form in soup.select("form")} == {
        f"/u/{token}/{line_of(case, code).id}" for code in LINKED}


def test_the_public_page_is_never_cached_and_sends_no_referrer(anonymous, case, make_link):
    _, token = make_link(case)
    response = anonymous.get(f"/u/{token}")
    assert response.status_code == 200
    assert "no-store" in response.headers["Cache-Control"]
    soup = BeautifulSoup(response.data, "html.parser")
    assert soup.select_one('meta[name="referrer"]')["content"] == "no-referrer"


def test_every_visit_is_audited(anonymous, case, make_link):
    link, token = make_link(case)
    assert events("upload_link.open") == []
    anonymous.get(f"/u/{token}")
    anonymous.get(f"/u/{token}")
    visits = events("upload_link.open", object_id=link.id)
    assert len(visits) == 2
    assert all(visit.actor_id is None and visit.case_id == case.id for visit in visits)
    assert all(f"upload link #{link.id}" in visit.actor_label for visit in visits)
    db.session.expire_all()
    assert db.session.get(UploadLink, link.id).last_used_at is not None


# Uploading through the link -------------------------------------------------------------------------

def test_an_upload_through_the_link_lands_on_the_line(anonymous, case, make_link):
    link, token = make_link(case)
    passport = line_of(case, "passport")
    response = send(anonymous, token, passport, ("passport scan.pdf", hostile.pdf()))

    assert response.status_code == 302
    assert response.location.endswith(f"/u/{token}")
    [stored] = stored_files(case)
    assert stored.case_document_id == passport.id
    assert stored.upload_link_id == link.id and stored.uploaded_by_id is None
    assert stored.original_name == "passport scan.pdf" and stored.kind == "pdf"
    assert filestore.current().exists(stored.storage_key)
    assert fresh(passport).state == DocumentState.RECEIVED
    [event] = events("document.upload", object_id=passport.id)
    assert event.actor_id is None and "upload link" in event.actor_label and str(link.id) in event.actor_label
    db.session.expire_all()
    assert db.session.get(UploadLink, link.id).uploads == 1

    page = anonymous.get(f"/u/{token}")
    assert "1 file received" in text_of(page)
    assert "waiting for review" in text_of(page)


def test_a_photo_sent_through_the_link_is_laid_out_at_its_print_size(anonymous, case, make_link):
    _, token = make_link(case, ("photo",))
    response = send(anonymous, token, line_of(case, "photo"), ("me.jpg", hostile.jpeg(330, 480)))
    assert response.status_code == 302 and response.location.endswith(f"/u/{token}")
    [stored] = stored_files(case)
    pages = filestore.current().get(stored.pages_key)
    assert packet_pdf.page_texts(pages) == ["Printed at actual size: 33 × 48 mm (width × height)."]


def test_the_advisor_sees_the_upload_waiting_for_review_and_accepts_it(client, auth, anonymous, advisor, case,
                                                                        make_link):
    _, token = make_link(case)
    passport = line_of(case, "passport")
    assert send(anonymous, token, passport, ("scan.pdf", hostile.pdf())).status_code == 302

    auth.login(advisor.email)
    board = BeautifulSoup(client.get("/").data, "html.parser")
    reviews = board.select_one("section#reviews")
    assert reviews["data-count"] == "1"
    detail_path = f"/cases/{case.id}/documents/{passport.id}"
    assert [a["href"] for a in reviews.select("tbody a") if "/documents/" in a["href"]] == [detail_path]
    detail = client.get(detail_path)
    assert detail.status_code == 200 and "scan.pdf" in text_of(detail)

    response = client.post(f"{detail_path}/accept", data={"version": str(fresh(passport).version), "reason": ""})
    assert response.status_code == 302
    assert fresh(passport).state == DocumentState.ACCEPTED
    board = BeautifulSoup(client.get("/").data, "html.parser")
    assert board.select_one("section#reviews")["data-count"] == "0"


def test_several_files_at_once_become_one_version(anonymous, case, make_link):
    _, token = make_link(case)
    degree = line_of(case, "degree_certificate")
    response = send(anonymous, token, degree, ("page1.pdf", hostile.pdf(text="one")), ("page2.jpg", hostile.jpeg()),
                    ("page3.png", hostile.png()))
    assert response.status_code == 302
    stored = stored_files(case)
    assert [f.original_name for f in stored] == ["page1.pdf", "page2.jpg", "page3.png"]
    assert {f.revision for f in stored} == {1}


# What the link reaches ------------------------------------------------------------------------------

def test_a_line_of_the_case_that_the_link_does_not_name_answers_404(anonymous, case, make_link):
    _, token = make_link(case)
    for code in NOT_LINKED:
        response = send(anonymous, token, line_of(case, code), ("scan.pdf", hostile.pdf()))
        assert response.status_code == 404, code
    assert stored_files(case) == []


def test_a_line_of_another_case_answers_404(anonymous, advisor, case, make_case, make_link):
    other = make_case(advisor, family_name="Second")
    _, token = make_link(case)
    make_link(other)  # the same requirements are linked there too
    for code in LINKED:
        response = send(anonymous, token, line_of(other, code), ("scan.pdf", hostile.pdf()))
        assert response.status_code == 404, code
    assert stored_files(other) == [] and stored_files(case) == []
    assert fresh(line_of(other, "passport")).state == DocumentState.REQUESTED


def test_a_missing_line_answers_404(anonymous, case, make_link):
    _, token = make_link(case)
    for path in (f"/u/{token}/999999", f"/u/{token}/99999999999", f"/u/{token}/passport"):
        assert anonymous.post(path, data={}).status_code == 404, path


def test_an_accepted_line_takes_no_more_files(anonymous, advisor, case, make_link):
    _, token = make_link(case)
    passport = line_of(case, "passport")
    assert send(anonymous, token, passport, ("scan.pdf", hostile.pdf())).status_code == 302
    documents.accept(fresh(passport), by=advisor)
    db.session.commit()
    keys = storage_keys()

    response = send(anonymous, token, passport, ("again.pdf", hostile.pdf(text="again")))
    assert response.status_code == 302
    page = anonymous.get(response.location)
    assert "already been accepted" in text_of(page)
    assert [f.original_name for f in stored_files(case)] == ["scan.pdf"]
    assert storage_keys() == keys
    assert fresh(passport).state == DocumentState.ACCEPTED
    soup = BeautifulSoup(page.data, "html.parser")
    assert soup.select_one(f'form[action="/u/{token}/{passport.id}"]') is None


def test_a_waived_line_offers_no_upload_and_says_why(anonymous, advisor, case, make_link):
    _, token = make_link(case)
    degree = line_of(case, "degree_certificate")
    documents.waive(degree, "The consulate does not ask for it.", by=advisor)
    db.session.commit()

    page = anonymous.get(f"/u/{token}")
    soup = BeautifulSoup(page.data, "html.parser")
    assert soup.select_one(f'form[action="/u/{token}/{degree.id}"]') is None
    response = send(anonymous, token, degree, ("degree.pdf", hostile.pdf()))
    assert response.status_code == 302
    message = text_of(anonymous.get(response.location))
    assert "nothing more is needed" in message
    assert "accepted" not in message  # it was waived, not accepted
    assert stored_files(case) == []


def test_a_duplicate_notice_tells_nothing_about_documents_outside_the_link(anonymous, advisor, case, make_link):
    """The same file already stored on a line the link does not name: the applicant's page must not name
    that file or its line."""
    scan = hostile.pdf(text="residence permit")
    documents.upload(line_of(case, "residence_proof"), [Incoming("okafor-residence-PX7654321.pdf", scan)],
                     limits=LIMITS, by=advisor)
    db.session.commit()
    _, token = make_link(case)
    response = send(anonymous, token, line_of(case, "degree_certificate"), ("degree.pdf", scan))
    assert response.status_code == 302
    page = text_of(anonymous.get(response.location))
    assert "1 file received" in page
    assert "okafor-residence-PX7654321.pdf" not in page
    assert title("residence_proof") not in page


def test_a_rejected_line_takes_a_new_version(anonymous, advisor, case, make_link):
    _, token = make_link(case)
    passport = line_of(case, "passport")
    send(anonymous, token, passport, ("blurred.pdf", hostile.pdf(text="blurred")))
    documents.reject(fresh(passport), "The scan is blurred.", by=advisor)
    db.session.commit()
    page = text_of(anonymous.get(f"/u/{token}"))
    assert "The scan is blurred." in page
    assert send(anonymous, token, passport, ("sharp.pdf", hostile.pdf(text="sharp"))).status_code == 302
    line = fresh(passport)
    assert line.state == DocumentState.RECEIVED and line.revision == 2
    assert [f.original_name for f in line.current_files()] == ["sharp.pdf"]


# When the link stops working ------------------------------------------------------------------------

def expire(link: UploadLink) -> None:
    db.session.expire_all()
    row = db.session.get(UploadLink, link.id)
    assert row is not None
    row.expires_at = utcnow() - dt.timedelta(minutes=1)
    db.session.commit()


def test_an_expired_link_answers_410_and_takes_nothing(anonymous, case, make_link):
    link, token = make_link(case, days=1)
    passport = line_of(case, "passport")
    expire(link)
    keys = storage_keys()

    page = anonymous.get(f"/u/{token}")
    assert page.status_code == 410
    assert "expired" in text_of(page)
    assert title("passport") not in text_of(page)
    upload = send(anonymous, token, passport, ("scan.pdf", hostile.pdf()))
    assert upload.status_code == 410
    assert "expired" in text_of(upload)
    assert stored_files(case) == [] and storage_keys() == keys
    assert events("upload_link.open") == [] and events("document.upload") == []


def test_a_revoked_link_answers_410_withdrawn(client, auth, anonymous, advisor, case, make_link):
    link, token = make_link(case)
    assert anonymous.get(f"/u/{token}").status_code == 200
    auth.login(advisor.email)
    response = client.post(f"/cases/{case.id}/links/{link.id}/revoke")
    assert response.status_code == 302
    assert response.location.endswith(f"/cases/{case.id}/documents#links")
    assert len(events("upload_link.revoke", object_id=link.id, actor_id=advisor.id)) == 1

    page = anonymous.get(f"/u/{token}")
    assert page.status_code == 410
    assert "withdrawn" in text_of(page)
    upload = send(anonymous, token, line_of(case, "passport"), ("scan.pdf", hostile.pdf()))
    assert upload.status_code == 410
    assert stored_files(case) == []
    # Revoking again changes nothing.
    assert client.post(f"/cases/{case.id}/links/{link.id}/revoke").status_code == 302
    assert len(events("upload_link.revoke", object_id=link.id)) == 1


def test_a_link_is_revoked_only_through_its_own_case(client, auth, anonymous, advisor, case, make_case, make_link):
    other = make_case(advisor, family_name="Second")
    link, token = make_link(case)
    auth.login(advisor.email)
    assert client.post(f"/cases/{other.id}/links/{link.id}/revoke").status_code == 404
    assert client.post(f"/cases/{case.id}/links/999999/revoke").status_code == 404
    assert anonymous.get(f"/u/{token}").status_code == 200


@pytest.mark.parametrize("token", ["unknown-token", "a" * 43, "a" * 101, "x" * 5000])
def test_an_unknown_or_overlong_token_answers_404(anonymous, case, make_link, token):
    make_link(case)
    page = anonymous.get(f"/u/{token}")
    assert page.status_code == 404
    assert "not valid" in text_of(page)
    assert send(anonymous, token, line_of(case, "passport"), ("scan.pdf", hostile.pdf())).status_code == 404
    assert stored_files(case) == []


def test_a_link_of_a_deleted_case_answers_404_like_an_unknown_one(anonymous, admin, case, make_link):
    _, token = make_link(case)
    cases.delete_case(case, by=admin)
    db.session.commit()
    page = anonymous.get(f"/u/{token}")
    assert page.status_code == 404
    assert "not valid" in text_of(page)
    assert send(anonymous, token, line_of(case, "passport"), ("scan.pdf", hostile.pdf())).status_code == 404
    assert stored_files(case) == []
    assert events("upload_link.open") == []


def _expired(case: Case, link: UploadLink, token: str, admin: User) -> str:
    expire(link)
    return token


def _revoked(case: Case, link: UploadLink, token: str, admin: User) -> str:
    upload_links.revoke(link, by=case.advisor)
    db.session.commit()
    return token


def _submitted(case: Case, link: UploadLink, token: str, admin: User) -> str:
    case.status = CaseStatus.SUBMITTED
    db.session.commit()
    return token


def _deleted(case: Case, link: UploadLink, token: str, admin: User) -> str:
    cases.delete_case(case, by=admin)
    db.session.commit()
    return token


def _unknown(case: Case, link: UploadLink, token: str, admin: User) -> str:
    return "unknown-" + token


# Each failure state: its status, and the same thing said in English and in Chinese.
CLOSED_STATES = [
    (_expired, 410, "This link expired on", "过期。请向您的顾问索取新的链接"),
    (_revoked, 410, "withdrawn by your advisor", "已被您的顾问撤销"),
    (_submitted, 410, "has been submitted or closed", "已提交或已结案"),
    (_deleted, 404, "This link is not valid", "此链接无效"),
    (_unknown, 404, "This link is not valid", "此链接无效"),
]


@pytest.mark.parametrize("close, status, english, chinese", CLOSED_STATES,
                         ids=["expired", "revoked", "closed-case", "deleted-case", "unknown-token"])
def test_a_closed_link_is_a_bilingual_html_page(anonymous, admin, case, make_link, close, status, english, chinese):
    link, token = make_link(case)
    token = close(case, link, token, admin)
    for response in (anonymous.get(f"/u/{token}"),
                     send(anonymous, token, line_of(case, "passport"), ("scan.pdf", hostile.pdf()))):
        assert response.status_code == status
        assert response.content_type == "text/html; charset=utf-8"
        soup = BeautifulSoup(response.data, "html.parser")
        assert soup.find("h1") is not None and soup.find("main") is not None  # a page, not its source as text
        messages = soup.select("main section p")
        assert english in messages[0].get_text()
        assert messages[1]["lang"] == "zh" and chinese in messages[1].get_text()
    assert stored_files(case) == []


def test_the_expiry_date_is_the_same_in_both_languages(anonymous, case, make_link):
    link, token = make_link(case)
    expire(link)
    on = link.expires_at
    text = text_of(anonymous.get(f"/u/{token}"))
    assert f"expired on {on:%d %B %Y}" in text
    assert f"已于{on.year}年{on.month:02d}月{on.day:02d}日过期" in text


@pytest.mark.parametrize("offset, revoked, closed", [
    (dt.timedelta(days=-1), False, None),
    (dt.timedelta(seconds=-1), False, None),
    (dt.timedelta(0), False, "expired on"),
    (dt.timedelta(days=1), False, "expired on"),
    (dt.timedelta(days=-1), True, "withdrawn"),
])
def test_open_link(app, case, make_link, offset, revoked, closed):
    """`offset` is how far past the expiry the link is opened."""
    link, token = make_link(case, days=3)
    if revoked:
        upload_links.revoke(link, by=case.advisor)
    now = link.expires_at + offset
    if closed is None:
        assert upload_links.open_link(token, now=now) is link
    else:
        with pytest.raises(LinkClosed, match=closed):
            upload_links.open_link(token, now=now)


# The hourly allowance --------------------------------------------------------------------------------

@pytest.mark.parametrize("app_config", [{"UPLOAD_LINK_FILES_PER_HOUR": 3}])
def test_a_link_takes_a_limited_number_of_files_an_hour(anonymous, case, make_link):
    link, token = make_link(case)
    passport = line_of(case, "passport")
    assert send(anonymous, token, passport, ("a.pdf", hostile.pdf(text="a")), ("b.pdf", hostile.pdf(text="b"))
                ).status_code == 302
    keys = storage_keys()

    refused = send(anonymous, token, passport, ("c.pdf", hostile.pdf(text="c")), ("d.pdf", hostile.pdf(text="d")))
    assert refused.status_code == 429
    minutes = re.search(r"Try again in (\d+) minutes", text_of(refused))
    assert minutes is not None and 1 <= int(minutes.group(1)) <= 60
    assert [f.original_name for f in stored_files(case)] == ["a.pdf", "b.pdf"]
    assert storage_keys() == keys
    assert events("document.upload")[-1].changes["files"][-1]["name"] == "b.pdf"

    # One more file still fits; then the link is full.
    assert send(anonymous, token, passport, ("c.pdf", hostile.pdf(text="c"))).status_code == 302
    assert send(anonymous, token, passport, ("d.pdf", hostile.pdf(text="d"))).status_code == 429

    # An hour later the allowance is back.
    db.session.expire_all()
    row = db.session.get(UploadLink, link.id)
    row.window_started_at -= dt.timedelta(hours=1)
    db.session.commit()
    assert send(anonymous, token, passport, ("d.pdf", hostile.pdf(text="d"))).status_code == 302
    assert [f.original_name for f in stored_files(case)] == ["a.pdf", "b.pdf", "c.pdf", "d.pdf"]


@pytest.mark.parametrize("app_config", [{"UPLOAD_LINK_FILES_PER_HOUR": 3}])
def test_refused_files_count_against_the_allowance(anonymous, case, make_link):
    _, token = make_link(case)
    passport = line_of(case, "passport")
    for _ in range(3):
        response = send(anonymous, token, passport, ("passport.pdf", hostile.renamed_html()))
        assert response.status_code == 422
    response = send(anonymous, token, passport, ("scan.pdf", hostile.pdf()))
    assert response.status_code == 429
    assert "Try again in" in text_of(response)
    assert stored_files(case) == []
    assert fresh(passport).state == DocumentState.REQUESTED


@pytest.mark.parametrize("app_config", [{"UPLOAD_LINK_FILES_PER_HOUR": 3}])
def test_a_refused_batch_over_the_allowance_is_still_charged(anonymous, case, make_link):
    _, token = make_link(case)
    passport = line_of(case, "passport")
    batch = [(f"bad{n}.pdf", hostile.renamed_text()) for n in range(3)]
    assert send(anonymous, token, passport, *batch).status_code == 422
    assert send(anonymous, token, passport, ("scan.pdf", hostile.pdf())).status_code == 429
    assert stored_files(case) == []


@pytest.mark.parametrize("app_config", [{"UPLOAD_LINK_FILES_PER_HOUR": 3}])
@pytest.mark.parametrize("started, used, count, allowed, minutes", [
    (None, 0, 3, True, None),
    (None, 0, 4, False, 60),
    (dt.timedelta(minutes=10), 2, 1, True, None),
    (dt.timedelta(minutes=10, seconds=30), 2, 2, False, 50),
    (dt.timedelta(minutes=59, seconds=30), 3, 1, False, 1),
    (dt.timedelta(hours=1), 3, 3, True, None),
    (dt.timedelta(days=2), 3, 3, True, None),
])
def test_charge(app, case, make_link, started, used, count, allowed, minutes):
    """`started` is how long ago the link's current window began; `used` files were taken in it."""
    link, _ = make_link(case)
    now = utcnow()
    link.window_started_at = now - started if started is not None else None
    link.window_uploads = used
    if allowed:
        upload_links.charge(link, count, now=now)
        fresh_window = started is None or started >= dt.timedelta(hours=1)
        assert link.window_uploads == (count if fresh_window else used + count)
    else:
        with pytest.raises(TooManyUploads, match=f"Try again in {minutes} minutes"):
            upload_links.charge(link, count, now=now)
        assert link.window_uploads == (0 if started is None else used)


# Hostile files ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, make, reason", [
    ("passport.pdf", hostile.renamed_html, "Only PDF, JPEG and PNG files are accepted"),
    ("passport.pdf", hostile.encrypted_pdf, "password-protected"),
    ("photo.jpg", hostile.jpeg_zip_polyglot, "another file hidden inside it"),
    ("scan.pdf", hostile.javascript_pdf, "scripts or actions that run when it is opened"),
    ("photo.png", hostile.png_bomb, "too large"),
])
def test_a_hostile_file_through_the_link_is_refused_with_its_reason(anonymous, case, make_link, name, make, reason):
    link, token = make_link(case)
    passport = line_of(case, "passport")
    keys = storage_keys()
    response = send(anonymous, token, passport, (name, make()))

    assert response.status_code == 422
    page = text_of(response)
    assert "Nothing was saved" in page and name in page and reason in page
    assert stored_files(case) == [] and storage_keys() == keys
    assert fresh(passport).state == DocumentState.REQUESTED
    assert events("document.upload") == []
    db.session.expire_all()
    assert db.session.get(UploadLink, link.id).window_uploads == 1


def test_one_hostile_file_in_a_batch_stores_none_of_it(anonymous, case, make_link):
    _, token = make_link(case)
    degree = line_of(case, "degree_certificate")
    response = send(anonymous, token, degree, ("page1.pdf", hostile.pdf()), ("page2.pdf", hostile.truncated_pdf()))
    assert response.status_code == 422
    assert "page2.pdf" in text_of(response)
    assert stored_files(case) == []


@pytest.mark.parametrize("app_config", [{"UPLOAD_MAX_FILE_MB": 1}])
def test_a_file_over_the_size_limit_answers_413(anonymous, case, make_link):
    _, token = make_link(case)
    response = send(anonymous, token, line_of(case, "passport"), ("big.pdf", hostile.oversize(1024 * 1024)))
    assert response.status_code == 413
    assert "1 MB limit" in text_of(response)
    assert stored_files(case) == []


@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True}])
def test_an_upload_without_the_pages_csrf_token_is_refused(anonymous, case, make_link):
    _, token = make_link(case)
    passport = line_of(case, "passport")
    assert send(anonymous, token, passport, ("scan.pdf", hostile.pdf())).status_code == 400
    assert stored_files(case) == []

    form = BeautifulSoup(anonymous.get(f"/u/{token}").data, "html.parser").select_one(
        f'form[action="/u/{token}/{passport.id}"]')
    response = send(anonymous, token, passport, ("scan.pdf", hostile.pdf()),
                    csrf_token=form.select_one("input[name=csrf_token]")["value"])
    assert response.status_code == 302
    assert len(stored_files(case)) == 1


def test_take_upload_stays_within_the_link(app, advisor, case, make_case, make_link):
    link, _ = make_link(case, codes=("passport",))
    other = make_case(advisor, family_name="Second")
    for line in (line_of(case, "photo"), line_of(other, "passport")):
        with pytest.raises(DomainError, match="cannot upload that document"):
            upload_links.take_upload(link, line, [Incoming("scan.pdf", hostile.pdf())], limits=LIMITS)
    assert stored_files(case) == [] and stored_files(other) == []


@pytest.mark.parametrize("status", [CaseStatus.SUBMITTED, CaseStatus.APPROVED, CaseStatus.REFUSED,
                                    CaseStatus.WITHDRAWN])
def test_a_link_stops_working_once_the_case_is_submitted_or_closed(anonymous, case, make_link, status):
    _, token = make_link(case)
    passport = line_of(case, "passport")
    case.status = status
    db.session.commit()
    page = anonymous.get(f"/u/{token}")
    assert page.status_code == 410
    assert "no longer takes documents" in page.get_data(as_text=True)
    assert send(anonymous, token, passport, ("scan.pdf", hostile.pdf())).status_code == 410
    assert stored_files(case) == []
