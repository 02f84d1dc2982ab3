"""A case's documents: the checklist, one line with its files, uploads, review, downloads and the request letter.

Everything hangs off a case the user may see (404 otherwise); a line or file of another case is missing too.
"""
from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from advisor import documents, upload_links
from advisor.documents import Details, Incoming, Limits
from advisor.errors import DomainError
from advisor.storage import MissingFile
from models import Case, CaseDocument, db

from .access import get_case_or_404, require_login, user
from .downloads import send_stored
from .editing import apply, begin_write, commit
from .forms.common import ActionForm, choices
from .forms.documents import DecisionForm, DetailsForm, RequestForm, UploadForm

bp = Blueprint("documents", __name__, url_prefix="/cases/<int:case_id>/documents")
bp.before_request(require_login)


def upload_limits() -> Limits:
    config = current_app.config
    return Limits(max_bytes=int(config["UPLOAD_MAX_FILE_MB"]) * 1024 * 1024,
                  max_pixels=int(config["UPLOAD_MAX_PIXELS"]), max_pages=int(config["UPLOAD_MAX_PAGES"]))


def incoming_files() -> list[Incoming]:
    return [Incoming(f.filename or "", f.read()) for f in request.files.getlist("files") if f.filename]


def _line_or_404(case: Case, document_id: int) -> CaseDocument:
    line = documents.get_line(case, document_id)
    if line is None:
        abort(404)
    return line


def request_choices(case: Case) -> list:  # type: ignore[type-arg]
    return choices([(line.id, documents.requirement_of(line).title) for line in upload_links.linkable_lines(case)])


@bp.get("")
def index(case_id: int) -> str:
    case = get_case_or_404(case_id)
    lines = documents.lines_of(case)
    form = RequestForm()
    form.documents.choices = request_choices(case)
    return render_template(
        "documents/index.html", case=case, lines=[(line, documents.requirement_of(line)) for line in lines],
        status=documents.completeness(lines), request_form=form, action=ActionForm(),
        links=upload_links.links_of(case))


@bp.post("/checklist")
def sync(case_id: int) -> Response:
    case = get_case_or_404(case_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    return apply(lambda: documents.sync_checklist(case, by=user()), "The checklist is up to date.",
                  url_for("documents.index", case_id=case.id))


@bp.post("/request")
def ask(case_id: int) -> Response:
    case = get_case_or_404(case_id)
    form = RequestForm()
    form.documents.choices = request_choices(case)
    back = url_for("documents.index", case_id=case.id)
    if not form.validate_on_submit():
        flash(" ".join(error for errors in form.errors.values() for error in errors), "error")
        return redirect(back)
    lines = [_line_or_404(case, document_id) for document_id in form.documents.data]
    return apply(lambda: documents.request(lines, by=user(), due_on=form.due_on.data),
                  f"Marked {len(lines)} {'document' if len(lines) == 1 else 'documents'} as requested.", back)


@bp.get("/letter")
def letter(case_id: int) -> str:
    case = get_case_or_404(case_id)
    lines = [line for line in upload_links.linkable_lines(case)]
    return render_template("documents/letter.html", case=case, applicant=case.applicant, link_url=None,
                           lines=[(line, documents.requirement_of(line)) for line in lines], expires_at=None)


@bp.get("/<int:document_id>")
def detail(case_id: int, document_id: int) -> str:
    case = get_case_or_404(case_id)
    line = _line_or_404(case, document_id)
    return _render_detail(case, line)


def _render_detail(case: Case, line: CaseDocument, *, details: DetailsForm | None = None,
                   refused: list[tuple[str, str]] | None = None, status: int = 200):  # type: ignore[no-untyped-def]
    revisions: dict[int, list] = {}  # type: ignore[type-arg]
    for stored in line.files:
        if stored.deleted_at is None:
            revisions.setdefault(stored.revision, []).append(stored)
    page = render_template(
        "documents/detail.html", case=case, line=line, requirement=documents.requirement_of(line),
        checks=documents.checks(line, case), revisions=sorted(revisions.items(), reverse=True),
        upload=UploadForm(), decision=DecisionForm(version=line.version),
        details=details or DetailsForm(obj=line, version=line.version), refused=refused or [])
    return page, status


@bp.post("/<int:document_id>/upload")
def upload(case_id: int, document_id: int):  # type: ignore[no-untyped-def]
    case = get_case_or_404(case_id)
    line = _line_or_404(case, document_id)
    if not UploadForm().validate_on_submit():
        abort(400)
    incoming, requirement = incoming_files(), documents.requirement_of(line)
    try:
        # slow: in the read phase, holding no lock
        prepared = documents.prepare(incoming, limits=upload_limits(), requirement=requirement)
        begin_write()
        result = documents.store(line, prepared, by=user())
        commit()
    except documents.Refused as refused:
        db.session.rollback()
        return _render_detail(case, line, refused=refused.reasons, status=413 if refused.too_large else 422)
    except DomainError as problem:
        db.session.rollback()
        flash(str(problem), "error")
        return redirect(url_for("documents.detail", case_id=case.id, document_id=line.id))
    for notice in result.notices:
        flash(notice, "warning")
    if result.saved:
        flash(f"Uploaded {len(result.saved)} {'file' if len(result.saved) == 1 else 'files'} as version "
              f"{line.revision}: ready for review.", "success")
    return redirect(url_for("documents.detail", case_id=case.id, document_id=line.id))


def _decision(case_id: int, document_id: int, operation: str, done: str) -> Response:
    case = get_case_or_404(case_id)
    line = _line_or_404(case, document_id)
    form = DecisionForm()
    if not form.validate_on_submit():
        abort(400)
    me, version, reason = user(), form.version.data, form.reason.data or ""
    actions: dict[str, Callable[[], None]] = {
        "accept": lambda: documents.accept(line, by=me, version=version),
        "reject": lambda: documents.reject(line, reason, by=me, version=version),
        "waive": lambda: documents.waive(line, reason, by=me, version=version),
        "reopen": lambda: documents.reopen(line, by=me, version=version),
    }
    title = documents.requirement_of(line).title
    return apply(actions[operation], done.format(title=title),
                  url_for("documents.detail", case_id=case.id, document_id=line.id))


@bp.post("/<int:document_id>/accept")
def accept(case_id: int, document_id: int) -> Response:
    return _decision(case_id, document_id, "accept", "Accepted: {title}.")


@bp.post("/<int:document_id>/reject")
def reject(case_id: int, document_id: int) -> Response:
    return _decision(case_id, document_id, "reject", "Rejected: {title}. Ask the applicant for a new version.")


@bp.post("/<int:document_id>/waive")
def waive(case_id: int, document_id: int) -> Response:
    return _decision(case_id, document_id, "waive", "Waived: {title}.")


@bp.post("/<int:document_id>/reopen")
def reopen(case_id: int, document_id: int) -> Response:
    return _decision(case_id, document_id, "reopen", "Reopened: {title}.")


@bp.post("/<int:document_id>/details")
def details(case_id: int, document_id: int):  # type: ignore[no-untyped-def]
    case = get_case_or_404(case_id)
    line = _line_or_404(case, document_id)
    form = DetailsForm()
    if not form.validate_on_submit():
        return _render_detail(case, line, details=form, status=422)
    recorded = Details(number=form.number.data, issued_on=form.issued_on.data, expires_on=form.expires_on.data,
                       language=form.language.data, translation_attached=form.translation_attached.data)
    return apply(lambda: documents.update_details(line, recorded, by=user(), version=form.version.data),
                  "Details saved.", url_for("documents.detail", case_id=case.id, document_id=line.id))


# Files: only through these views, the original as an attachment, the thumbnail as a PNG we made ourselves.

def _send(case_id: int, file_id: int, *, thumbnail: bool) -> Response:
    case = get_case_or_404(case_id)
    stored = documents.get_file(case, file_id)
    if stored is None:
        abort(404)
    try:
        if thumbnail:
            return send_stored(stored.thumbnail_key, mimetype="image/png")
        return send_stored(stored.storage_key, mimetype=stored.content_type, name=stored.original_name)
    except MissingFile:
        if thumbnail:
            abort(404)
        flash(f"The stored file of {stored.original_name} is missing. An administrator can run the storage "
              f"check to find out what happened.", "error")
        return redirect(url_for("documents.detail", case_id=case.id, document_id=stored.case_document_id))


@bp.get("/files/<int:file_id>")
def download(case_id: int, file_id: int) -> Response:
    return _send(case_id, file_id, thumbnail=False)


@bp.get("/files/<int:file_id>/thumbnail")
def thumbnail(case_id: int, file_id: int) -> Response:
    return _send(case_id, file_id, thumbnail=True)
