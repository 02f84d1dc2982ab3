"""Documents through the web: uploads (good, hostile, mixed, renamed, repeated), a batch stored whole or not
at all even when the commit or a write fails, downloads with safe headers, the S3 backend end to end, and the
pages: checklist, line, request letter, the case's Documents card and the dashboard sections.
"""
from __future__ import annotations

import datetime as dt
import io
import re
import sqlite3
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup
from flask import has_request_context, request
from PIL import Image
from sqlalchemy import delete, event, select
from sqlalchemy.orm import Session
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.http import parse_options_header
from werkzeug.test import encode_multipart

from advisor import documents, filestore, packet_pdf
from advisor.storage import StorageError
from models import Case, CaseDocument, DocumentFile, DocumentState, User, db, utcnow

from . import hostile
from .test_documents import events, line_of, receive
from .test_files import REFUSED

MB = 1024 * 1024
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
KEY = re.compile(r"(uploads|pages|thumbnails)/\d{4}/\d{2}/[0-9a-f]{32}")


# Helpers ------------------------------------------------------------------------------------------------

def page(response: Any) -> BeautifulSoup:
    return BeautifulSoup(response.data, "html.parser")


def flashes(response: Any, category: str = "") -> list[str]:
    """The flashed messages on a page, of one category ("success", "warning", "error") if given."""
    selector = f".flash-{category}" if category else ".flash"
    return [flash.get_text(" ", strip=True) for flash in page(response).select(selector)]


def text_of(element: Any) -> str:
    return " ".join(element.get_text(" ").split())


def refusals(response: Any) -> list[tuple[str, str]]:
    """(file name, reason) of each file the upload form lists as refused."""
    found = []
    for item in page(response).select("[role=alert] li"):
        name = item.select_one(".mono").get_text()
        found.append((name, item.get_text().removeprefix(name).removeprefix(": ")))
    return found


def upload_url(case: Case, line: CaseDocument) -> str:
    return f"/cases/{case.id}/documents/{line.id}/upload"


def post_files(client: Any, case: Case, line: CaseDocument, *files: tuple[bytes, str], **options: Any) -> Any:
    """One upload request with several files in the `files` field, as the form sends them.

    The body is encoded in memory: given the files themselves, the test client spools a body over 500 KB to a
    temporary file it never closes, and `filterwarnings = error` turns that ResourceWarning into a failure.
    """
    parts = MultiDict([("files", FileStorage(io.BytesIO(data), filename=name)) for data, name in files])
    boundary, body = encode_multipart(parts)
    return client.post(upload_url(case, line), data=body, content_type=f"multipart/form-data; boundary={boundary}",
                       **options)


def stored_keys() -> set[str]:
    return set(filestore.current().keys())


def file_rows(line: CaseDocument | None = None) -> list[DocumentFile]:
    query = select(DocumentFile).order_by(DocumentFile.revision, DocumentFile.position, DocumentFile.id)
    if line is not None:
        query = query.where(DocumentFile.case_document_id == line.id)
    return list(db.session.scalars(query))


def browser_name(name: str) -> str:
    """A file name as a browser puts it into a multipart header (HTML's form-data encoding)."""
    return name.replace("\r", "%0D").replace("\n", "%0A").replace('"', "%22")


@pytest.fixture
def logged_in(auth, advisor: User) -> User:  # type: ignore[no-untyped-def]
    auth.login(advisor.email)
    return advisor


# 5. Uploads ------------------------------------------------------------------------------------------------

def test_a_pdf_and_a_jpeg_become_one_version(client, logged_in, make_case):
    case = make_case(logged_in)
    line = line_of(case, "degree_certificate")
    pdf, jpeg = hostile.pdf(pages=2, text="Diploma"), hostile.jpeg(80, 60)
    response = post_files(client, case, line, (pdf, "Diploma.pdf"), (jpeg, "Diploma back.jpg"))
    assert response.status_code == 302
    assert response.location.endswith(f"/cases/{case.id}/documents/{line.id}")

    assert (line.state, line.revision) == (DocumentState.RECEIVED, 1)
    first, second = file_rows(line)
    assert [(f.revision, f.position, f.original_name, f.kind, f.content_type, f.page_count, f.width, f.height)
            for f in (first, second)] == [
        (1, 0, "Diploma.pdf", "pdf", "application/pdf", 2, None, None),
        (1, 1, "Diploma back.jpg", "jpeg", "image/jpeg", 1, 80, 60)]
    assert first.uploaded_by_id == logged_in.id and first.size == len(pdf)
    store = filestore.current()
    assert stored_keys() == {key for f in (first, second) for key in f.keys()}
    for stored, original in ((first, pdf), (second, jpeg)):
        assert all(KEY.fullmatch(key) for key in stored.keys())
        assert store.get(stored.storage_key) == original
        assert store.get(stored.pages_key).startswith(b"%PDF-")
        assert store.get(stored.thumbnail_key).startswith(PNG_MAGIC)
    [uploaded] = events("document.upload")
    assert uploaded.changes["revision"] == 1
    assert [f["name"] for f in uploaded.changes["files"]] == ["Diploma.pdf", "Diploma back.jpg"]

    shown = client.get(response.location)
    assert "Uploaded 2 files as version 1: ready for review." in flashes(shown, "success")
    assert "Version 1 (current)" in text_of(page(shown).select_one("#files-title").find_parent("section"))


def test_a_photo_uploaded_for_the_photo_line_is_laid_out_at_its_print_size(client, logged_in, make_case):
    # The line's requirement travels with the files into the checks made outside the transaction.
    case = make_case(logged_in)
    photo, passport = line_of(case, "photo"), line_of(case, "passport")
    jpeg = hostile.jpeg(354, 472)
    for line in (photo, passport):
        response = post_files(client, case, line, (jpeg, "me.jpg"))
        assert response.status_code == 302 and response.location.endswith(f"/documents/{line.id}")
    [on_photo], [on_passport] = file_rows(photo), file_rows(passport)
    store = filestore.current()
    [caption] = packet_pdf.page_texts(store.get(on_photo.pages_key))
    assert caption == "Printed at actual size: 33 × 44 mm (width × height), within the required 33 × 48 mm."
    assert packet_pdf.page_texts(store.get(on_passport.pages_key)) == [""]  # fitted to A4, no caption


def test_every_hostile_file_is_refused_with_its_message_and_nothing_is_stored(client, logged_in, make_case):
    case = make_case(logged_in)
    line = line_of(case, "passport")
    wrong = []
    for param in REFUSED:
        if param.id == "oversize":
            continue  # needs a small limit: test_an_oversize_file_is_refused_with_413
        make, message = param.values
        name = f"{param.id}.pdf"
        response = post_files(client, case, line, (make(), name))
        found = refusals(response)
        if response.status_code != 422 or len(found) != 1 or found[0][0] != name or not re.search(message,
                                                                                                 found[0][1]):
            wrong.append((param.id, response.status_code, found))
        elif "Nothing was saved." not in page(response).select_one("[role=alert]").get_text():
            wrong.append((param.id, "no 'Nothing was saved.'"))
    assert wrong == []
    assert file_rows() == [] and stored_keys() == set()
    assert line.state == DocumentState.MISSING and line.revision == 0
    assert not events("document.upload")


@pytest.mark.parametrize("app_config", [{"UPLOAD_MAX_FILE_MB": 1}])
def test_an_oversize_file_is_refused_with_413(client, logged_in, make_case):
    case = make_case(logged_in)
    line = line_of(case, "passport")
    response = post_files(client, case, line, (hostile.oversize(MB + MB // 2), "big scan.pdf"))
    assert response.status_code == 413
    [(name, why)] = refusals(response)
    assert name == "big scan.pdf" and "larger than the 1 MB limit" in why
    assert "Up to 1 MB a file." in page(response).get_text(" ")
    assert file_rows() == [] and stored_keys() == set()

    at_the_limit = post_files(client, case, line, (hostile.oversize(MB - 1), "just fits.pdf"))  # exactly 1 MB
    assert at_the_limit.status_code == 302 and len(file_rows(line)) == 1


def test_a_batch_with_one_hostile_file_stores_nothing(client, logged_in, make_case):
    case = make_case(logged_in)
    receive(line_of(case, "photo"), logged_in, hostile.jpeg())  # something already stored, which must stay
    before_keys, before_rows = stored_keys(), [f.id for f in file_rows()]
    line = line_of(case, "passport")
    response = post_files(client, case, line, (hostile.pdf(text="Good"), "good.pdf"),
                          (hostile.javascript_pdf(), "bad.pdf"), (hostile.png(), "also good.png"))
    assert response.status_code == 422
    assert [name for name, _ in refusals(response)] == ["bad.pdf"]
    assert stored_keys() == before_keys and [f.id for f in file_rows()] == before_rows
    assert file_rows(line) == [] and (line.state, line.revision) == (DocumentState.MISSING, 0)
    assert len(events("document.upload")) == 1


def test_no_file_chosen_is_a_plain_message(client, logged_in, make_case):
    case = make_case(logged_in)
    line = line_of(case, "passport")
    response = client.post(upload_url(case, line), data={}, content_type="multipart/form-data",
                           follow_redirects=True)
    assert "Choose at least one file to upload." in flashes(response, "error")
    assert file_rows() == []


def test_path_traversal_names_are_kept_only_as_harmless_metadata(client, logged_in, make_case, tmp_path: Path):
    case = make_case(logged_in)
    line = line_of(case, "transcript")
    sent = [(hostile.pdf(text=f"Page {number}"), browser_name(name))
            for number, name in enumerate(hostile.TRAVERSAL_NAMES)]
    response = post_files(client, case, line, *sent)
    assert response.status_code == 302
    stored = file_rows(line)
    assert len(stored) == len([name for name in hostile.TRAVERSAL_NAMES if name])  # a nameless part is no file
    for row in stored:
        name = row.original_name
        assert 0 < len(name) <= 200 and not set(name) & {"/", "\\"} and not name.startswith((".", " ")), name
        assert all(unicodedata.category(c) not in ("Cc", "Cf", "Cs") for c in name), name
        assert all(KEY.fullmatch(key) for key in row.keys())
    by_content = {filestore.current().get(row.storage_key): row.original_name for row in stored}
    assert by_content[sent[0][0]] == "passwd"
    assert by_content[sent[14][0]] == "html.pdf"  # "passport%0D%0AContent-Type: text/html.pdf" as sent
    # Nothing was written anywhere but the storage folder (and the database beside it).
    storage_root = tmp_path / "instance" / "files"
    written = [path for path in tmp_path.rglob("*") if path.is_file() and storage_root not in path.parents
               and not path.name.startswith("advisor.sqlite3")]
    assert written == []


def test_an_upload_before_review_joins_the_version_and_after_a_decision_starts_a_new_one(client, logged_in,
                                                                                         make_case):
    case = make_case(logged_in)
    line = line_of(case, "degree_certificate")
    post_files(client, case, line, (hostile.pdf(text="Front"), "front.pdf"))
    joined = post_files(client, case, line, (hostile.jpeg(), "back.jpg"), follow_redirects=True)
    assert "Uploaded 1 file as version 1: ready for review." in flashes(joined, "success")
    assert [(f.revision, f.position) for f in file_rows(line)] == [(1, 0), (1, 1)]

    accepted = client.post(f"/cases/{case.id}/documents/{line.id}/accept", data={"version": line.version})
    assert accepted.status_code == 302 and line.state == DocumentState.ACCEPTED
    post_files(client, case, line, (hostile.png(), "better scan.png"))
    assert (line.state, line.revision, line.reviewed_by_id) == (DocumentState.RECEIVED, 2, None)
    assert [f.original_name for f in line.current_files()] == ["better scan.png"]

    client.post(f"/cases/{case.id}/documents/{line.id}/reject", data={"version": line.version,
                                                                       "reason": "Cut off"})
    assert (line.state, line.reason) == (DocumentState.REJECTED, "Cut off")
    post_files(client, case, line, (hostile.pdf(text="Third try"), "third.pdf"))
    assert (line.state, line.revision, line.reason) == (DocumentState.RECEIVED, 3, "")
    assert [(f.revision, f.original_name) for f in file_rows(line)] == [
        (1, "front.pdf"), (1, "back.jpg"), (2, "better scan.png"), (3, "third.pdf")]  # nothing overwritten
    assert len(stored_keys()) == 4 * 3


def test_a_file_already_in_the_version_is_skipped_with_a_notice(client, logged_in, make_case):
    case = make_case(logged_in)
    line = line_of(case, "passport")
    scan = hostile.pdf(text="Passport")
    post_files(client, case, line, (scan, "passport.pdf"), follow_redirects=True)
    keys = stored_keys()
    again = post_files(client, case, line, (scan, "passport copy.pdf"), follow_redirects=True)
    assert flashes(again, "warning") == [
        "passport copy.pdf is identical to a file already in this version; it was not added again."]
    assert not flashes(again, "success")
    assert [f.original_name for f in file_rows(line)] == ["passport.pdf"] and stored_keys() == keys

    photo = hostile.jpeg()
    twice = post_files(client, case, line_of(case, "photo"), (photo, "a.jpg"), (photo, "b.jpg"),
                       follow_redirects=True)
    assert [f.original_name for f in file_rows(line_of(case, "photo"))] == ["a.jpg"]
    assert "b.jpg is identical to a file already in this version; it was not added again." in flashes(twice)


def test_a_file_already_on_another_line_is_kept_with_a_notice(client, logged_in, make_case):
    case = make_case(logged_in)
    scan = hostile.pdf(text="Passport")
    post_files(client, case, line_of(case, "passport"), (scan, "passport.pdf"))
    other = line_of(case, "residence_proof")
    response = post_files(client, case, other, (scan, "permit.pdf"), follow_redirects=True)
    assert flashes(response, "warning") == ["permit.pdf is identical to passport.pdf under Passport data page."]
    assert [f.original_name for f in file_rows(other)] == ["permit.pdf"]
    assert other.state == DocumentState.RECEIVED and len(stored_keys()) == 6


# 6. A failure anywhere leaves no file and no row ----------------------------------------------------------

def test_a_failed_commit_leaves_no_file_and_no_row(client, logged_in, make_case):
    case = make_case(logged_in)
    receive(line_of(case, "photo"), logged_in, hostile.jpeg())
    before = stored_keys()
    line = line_of(case, "passport")

    written_before_the_commit: set[str] = set()

    def fail_the_upload(session: Session) -> None:
        written = stored_keys() - before
        # The commit that would keep the new files (the view commits once before, to end its reads).
        if has_request_context() and request.endpoint == "documents.upload" and written:
            written_before_the_commit.update(written)
            raise RuntimeError("the database went away during the commit")

    event.listen(Session, "before_commit", fail_the_upload)
    try:
        response = post_files(client, case, line, (hostile.pdf(), "a.pdf"), (hostile.png(), "b.png"))
    finally:
        event.remove(Session, "before_commit", fail_the_upload)
    assert response.status_code == 500
    assert "nothing was saved" in page(response).get_text()
    assert len(written_before_the_commit) == 2 * 3  # both files were stored when the commit failed...
    assert stored_keys() == before  # ...and are gone again
    assert file_rows(line) == [] and (line.state, line.revision) == (DocumentState.MISSING, 0)
    assert len(events("document.upload")) == 1


@pytest.mark.parametrize("failing_write", [2, 5])
def test_a_failed_write_leaves_no_file_behind(client, logged_in, make_case, monkeypatch, failing_write: int):
    case = make_case(logged_in)
    receive(line_of(case, "photo"), logged_in, hostile.jpeg())
    before = stored_keys()
    store = filestore.current()
    put, written = store.put, []

    def flaky_put(key: str, data: bytes) -> None:
        written.append(key)
        if len(written) == failing_write:
            raise StorageError("could not store: No space left on device")
        put(key, data)

    monkeypatch.setattr(store, "put", flaky_put)
    line = line_of(case, "passport")
    response = post_files(client, case, line, (hostile.pdf(), "a.pdf"), (hostile.png(), "b.png"))
    assert response.status_code == 503  # storage trouble is reported as such (errors.py)
    assert "File storage is not available" in page(response).get_text()
    assert len(written) == failing_write  # the writes before the failure did happen...
    assert stored_keys() == before  # ...and were removed again
    assert file_rows(line) == [] and line.state == DocumentState.MISSING


# 7. Downloads ----------------------------------------------------------------------------------------------

@pytest.fixture
def uploaded(client, logged_in, make_case):  # type: ignore[no-untyped-def]
    """A case of the logged-in advisor with one JPEG uploaded to its passport line under a hostile name."""
    case = make_case(logged_in)
    data = hostile.jpeg(120, 90)
    post_files(client, case, line_of(case, "passport"), (data, "../../etc/passport.pdf"))
    [stored] = file_rows()
    return case, stored, data


def test_download_sends_the_original_as_an_attachment(client, uploaded):
    case, stored, data = uploaded
    response = client.get(f"/cases/{case.id}/documents/files/{stored.id}")
    assert response.status_code == 200 and response.data == data
    disposition, options = parse_options_header(response.headers["Content-Disposition"])
    assert (disposition, options["filename"]) == ("attachment", "passport.pdf")
    assert response.mimetype == "image/jpeg"  # by its content, not its name
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in response.headers["Cache-Control"]


def test_thumbnail_is_a_png(client, uploaded):
    case, stored, _ = uploaded
    response = client.get(f"/cases/{case.id}/documents/files/{stored.id}/thumbnail")
    assert response.status_code == 200 and response.mimetype == "image/png"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    with Image.open(io.BytesIO(response.data)) as preview:
        assert preview.format == "PNG" and max(preview.size) <= 320


def test_a_file_is_reached_only_through_its_own_case(client, auth, uploaded, make_case, logged_in, other_advisor,
                                                     admin):
    case, stored, _ = uploaded
    mine_too = make_case(logged_in)
    for path in (f"/cases/{mine_too.id}/documents/files/{stored.id}",
                 f"/cases/{mine_too.id}/documents/files/{stored.id}/thumbnail",
                 f"/cases/{mine_too.id}/documents/{stored.case_document_id}"):
        assert client.get(path).status_code == 404, path
    auth.logout()
    auth.login(other_advisor.email)
    assert client.get(f"/cases/{case.id}/documents/files/{stored.id}").status_code == 404
    auth.logout()
    auth.login(admin.email)
    assert client.get(f"/cases/{case.id}/documents/files/{stored.id}").status_code == 200


def test_a_lost_stored_file_is_explained_not_a_500(client, uploaded):
    case, stored, _ = uploaded
    filestore.current().delete(stored.storage_key)
    filestore.current().delete(stored.thumbnail_key)
    response = client.get(f"/cases/{case.id}/documents/files/{stored.id}")
    assert response.status_code == 302
    assert response.location.endswith(f"/cases/{case.id}/documents/{stored.case_document_id}")
    shown = client.get(response.location)
    assert shown.status_code == 200
    assert any("The stored file of passport.pdf is missing" in text for text in flashes(shown, "error"))
    assert client.get(f"/cases/{case.id}/documents/files/{stored.id}/thumbnail").status_code == 404


# 8. S3 end to end ------------------------------------------------------------------------------------------

class TestOnS3:
    @pytest.fixture
    def app_config(self, s3_url, s3_bucket: str) -> dict[str, Any]:
        return {"STORAGE_URL": s3_url(s3_bucket, "advisor")}

    def test_upload_download_and_storage_check(self, client, logged_in, make_case, runner, s3_client,
                                               s3_bucket: str):
        case = make_case(logged_in)
        line = line_of(case, "passport")
        scan = hostile.pdf(pages=2, text="Passport on S3")
        assert post_files(client, case, line, (scan, "passport.pdf")).status_code == 302
        [stored] = file_rows(line)
        listed = {item["Key"] for item in s3_client.list_objects_v2(Bucket=s3_bucket)["Contents"]}
        assert listed == {f"advisor/{key}" for key in stored.keys()}

        download = client.get(f"/cases/{case.id}/documents/files/{stored.id}")
        assert download.status_code == 200 and download.data == scan
        assert download.mimetype == "application/pdf"
        thumbnail = client.get(f"/cases/{case.id}/documents/files/{stored.id}/thumbnail")
        assert thumbnail.status_code == 200 and thumbnail.data.startswith(PNG_MAGIC)

        check = runner.invoke(args=["storage-check"])
        assert check.exit_code == 0, check.output
        assert f"s3://{s3_bucket}/advisor" in check.output and "0 orphans, 0 missing." in check.output

        s3_client.delete_object(Bucket=s3_bucket, Key=f"advisor/{stored.storage_key}")
        lost = client.get(f"/cases/{case.id}/documents/files/{stored.id}")
        assert lost.status_code == 302
        assert runner.invoke(args=["storage-check"]).exit_code == 1


# 11. Pages -------------------------------------------------------------------------------------------------

def test_documents_page_lists_the_checklist(client, logged_in, make_case):
    case = make_case(logged_in)
    receive(line_of(case, "passport"), logged_in)
    response = client.get(f"/cases/{case.id}/documents")
    assert response.status_code == 200
    rows = page(response).select("table tbody tr")
    assert [row.select_one("td a").get_text() for row in rows] == [
        "Passport data page", "Passport photo", "Online application form confirmation", "Degree certificate",
        "Academic transcript", "Curriculum vitae", "Proof of legal residence", "Previous Chinese visa"]
    assert rows[0].select_one("td a")["href"] == f"/cases/{case.id}/documents/{line_of(case, 'passport').id}"
    assert "To review" in rows[0].get_text() and "version 1" in rows[0].get_text()
    assert "Optional" in rows[4].get_text() and "Required" in rows[3].get_text()
    assert "0/5" in page(response).select_one(".completeness").get_text()
    assert "Create the checklist" not in response.text


def test_a_case_without_lines_offers_to_create_the_checklist(client, logged_in, make_case):
    case = make_case(logged_in)
    db.session.execute(delete(CaseDocument).where(CaseDocument.case_id == case.id))
    db.session.commit()
    empty = client.get(f"/cases/{case.id}/documents")
    assert empty.status_code == 200 and "Create the checklist" in empty.text
    created = client.post(f"/cases/{case.id}/documents/checklist", follow_redirects=True)
    assert "The checklist is up to date." in flashes(created, "success")
    assert len(page(created).select("table tbody tr")) == 8
    assert len(documents.lines_of(case)) == 8


def test_mark_as_requested_from_the_documents_page(client, logged_in, make_case):
    case = make_case(logged_in)
    photo, cv = line_of(case, "photo"), line_of(case, "cv")
    due = utcnow().date() + dt.timedelta(days=14)
    response = client.post(f"/cases/{case.id}/documents/request",
                           data={"documents": [photo.id, cv.id], "due_on": due.isoformat()}, follow_redirects=True)
    assert "Marked 2 documents as requested." in flashes(response, "success")
    assert (photo.state, photo.request_due_on) == (DocumentState.REQUESTED, due)
    assert f"due {due}" in page(response).select("table tbody tr")[1].get_text()
    assert events("documents.request")[0].changes["due_on"] == due.isoformat()


def test_line_page_shows_files_checks_and_review_actions(client, logged_in, make_case):
    case = make_case(logged_in)
    line = line_of(case, "photo")
    receive(line, logged_in, hostile.jpeg(), name="photo.jpg")
    [stored] = file_rows(line)
    response = client.get(f"/cases/{case.id}/documents/{line.id}")
    assert response.status_code == 200
    html = page(response)
    assert html.select_one("h1").get_text(" ", strip=True) == "Passport photo 证件照片"
    link = html.select_one(f"a[href='/cases/{case.id}/documents/files/{stored.id}']")
    assert link is not None and link.get_text() == "photo.jpg"
    assert html.select_one(f"img[src='/cases/{case.id}/documents/files/{stored.id}/thumbnail']") is not None
    assert "Record the date it was taken" in html.select_one("ul.checks").get_text()
    assert html.select_one(f"form[action='/cases/{case.id}/documents/{line.id}/accept']") is not None
    assert "Files added now join version 1." in html.get_text(" ")


def test_a_decision_on_a_stale_page_is_refused_with_a_conflict(client, logged_in, make_case):
    case = make_case(logged_in)
    line = line_of(case, "passport")
    receive(line, logged_in)
    seen = line.version
    documents.reject(line, "Blurred", by=logged_in)
    db.session.commit()
    response = client.post(f"/cases/{case.id}/documents/{line.id}/accept", data={"version": seen},
                           follow_redirects=True)
    assert any("Someone else changed this document" in text for text in flashes(response, "error"))
    assert line.state == DocumentState.REJECTED
    waived = client.post(f"/cases/{case.id}/documents/{line.id}/waive", data={"version": line.version, "reason": ""},
                         follow_redirects=True)
    assert "Say why this document is not needed." in flashes(waived, "error")
    assert line.state == DocumentState.REJECTED


def test_request_letter_is_in_english_and_chinese(client, logged_in, make_case):
    case = make_case(logged_in)
    receive(line_of(case, "passport"), logged_in)  # received: no longer asked for
    response = client.get(f"/cases/{case.id}/documents/letter")
    assert response.status_code == 200
    letter = page(response).select_one("article.letter")
    text = letter.get_text(" ")
    assert "Documents for your K-visa application" in text and "K字签证申请所需材料" in text
    items = [item.select_one("strong").get_text() for item in letter.select("ol.letter-list > li")]
    assert "Passport data page" not in items
    assert items[:2] == ["Passport photo", "Online application form confirmation"]
    assert "证件照片" in text and "近六个月内拍摄的彩色正面免冠照片" in text
    assert f"Dear {case.applicant.full_name}" in text and "Alex Advisor" in text


def test_case_page_shows_the_documents_card(client, logged_in, make_case):
    case = make_case(logged_in)
    card = page(client.get(f"/cases/{case.id}")).select_one("#documents")
    assert "0/5" in card.get_text() and "5 missing" in card.get_text()
    passport = line_of(case, "passport")
    receive(passport, logged_in)
    card = page(client.get(f"/cases/{case.id}")).select_one("#documents")
    review = card.select_one(f"a[href='/cases/{case.id}/documents/{passport.id}']")
    assert review is not None and review.get_text() == "Review: Passport data page"
    assert card.select_one(f"a[href='/cases/{case.id}/documents']") is not None


# 10. The dashboard's document sections ------------------------------------------------------------------------

def test_dashboard_shows_uploads_to_review_and_overdue_requests(client, logged_in, make_case, other_advisor):
    case, theirs = make_case(logged_in), make_case(other_advisor)
    passport, photo = line_of(case, "passport"), line_of(case, "photo")
    receive(passport, logged_in)
    receive(line_of(theirs, "passport"), other_advisor)
    documents.request([photo], by=logged_in, due_on=utcnow().date() - dt.timedelta(days=2))
    db.session.commit()
    html = page(client.get("/"))
    reviews, overdue = html.select_one("#reviews"), html.select_one("#overdue")
    assert reviews["data-count"] == "1" and overdue["data-count"] == "1"
    assert [a["href"] for a in reviews.select("tbody a[href*='/documents/']")] == [
        f"/cases/{case.id}/documents/{passport.id}"]
    assert [a["href"] for a in overdue.select("tbody a[href*='/documents/']")] == [
        f"/cases/{case.id}/documents/{photo.id}"]
    assert "Passport photo" in overdue.get_text()



def write_lock_is_free() -> bool:
    """Whether another connection could begin writing right now, without waiting (SQLite's one write lock)."""
    if db.engine.dialect.name != "sqlite":
        return True
    other = sqlite3.connect(db.engine.url.database, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        other.close()


def test_files_are_checked_outside_any_write_transaction(client, logged_in, make_case, monkeypatch):
    """On SQLite a write transaction holds the write lock: checking big scans inside one would make every
    other request wait (or fail once the busy timeout is over)."""
    case = make_case(logged_in)
    line = line_of(case, "passport")
    seen: list[bool] = []
    real_prepare = documents.prepare

    def watched(*args, **kwargs):
        seen.append(not write_lock_is_free())
        return real_prepare(*args, **kwargs)

    monkeypatch.setattr(documents, "prepare", watched)
    assert post_files(client, case, line, (hostile.pdf(), "a.pdf")).status_code == 302
    assert seen == [False]
    assert len(file_rows(line)) == 1
