"""Upload links: the advisor makes and revokes them; the applicant opens one and uploads, without a login.

The applicant's pages are public (listed in PUBLIC_ENDPOINTS), speak English and Chinese, and reach only the
lines their link names. A closed link answers 410 with what to do next; an unknown token 404.
"""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, make_response, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from advisor import documents, links, upload_links
from advisor.errors import DomainError
from advisor.upload_links import LinkClosed, TooManyUploads
from models import UploadLink, db

from .access import get_case_or_404, require_login, user
from .documents import incoming_files, request_choices, upload_limits
from .editing import begin_write, commit
from .forms.common import ActionForm
from .forms.documents import LinkForm, UploadForm

bp = Blueprint("upload_links", __name__)


@bp.route("/cases/<int:case_id>/links/new", methods=["GET", "POST"])
def new(case_id: int):  # type: ignore[no-untyped-def]
    if (refused := require_login()) is not None:
        return refused
    case = get_case_or_404(case_id)
    form = LinkForm()
    if request.method == "GET":
        form.days.data = current_app.config["UPLOAD_LINK_DAYS"]
    form.documents.choices = request_choices(case)
    if form.validate_on_submit():
        lines = [documents.get_line(case, document_id) for document_id in form.documents.data]
        try:
            begin_write()
            link, token = upload_links.create_link(case, [line for line in lines if line], days=form.days.data,
                                                   message=form.message.data or "", by=user())
            # The token exists only in this response: the database keeps its hash. The address is the
            # configured one: a request's Host header could be anyone's.
            url = links.external_url("upload_links.public", token=token)
            commit()  # a document changed in the meantime raises Conflict, told like any refusal
        except DomainError as problem:
            db.session.rollback()
            flash(str(problem), "error")
        else:
            return render_template("documents/letter.html", case=case, applicant=case.applicant, link_url=url,
                                   expires_at=link.expires_at, message=link.message,
                                   lines=[(line, documents.requirement_of(line))
                                          for line in upload_links.lines_in_scope(link)])
    return render_template("upload_links/new.html", case=case, form=form)


@bp.post("/cases/<int:case_id>/links/<int:link_id>/revoke")
def revoke(case_id: int, link_id: int) -> Response:
    if (refused := require_login()) is not None:
        return refused  # type: ignore[no-any-return]
    case = get_case_or_404(case_id)
    link = db.session.get(UploadLink, link_id)
    if link is None or link.case_id != case.id:
        abort(404)
    if not ActionForm().validate_on_submit():
        abort(400)
    begin_write()
    upload_links.revoke(link, by=user())
    commit()
    flash("The link is revoked: it no longer opens.", "success")
    return redirect(url_for("documents.index", case_id=case.id, _anchor="links"))


# The applicant's side ------------------------------------------------------------------------------------

def _open(token: str) -> UploadLink | Response:
    try:
        return upload_links.open_link(token)
    except LinkClosed as closed:
        found = upload_links.find(token)
        known = found is not None and found.case.deleted_at is None
        # Flask's response, not Werkzeug's: Werkzeug's default type is text/plain, which shows the page's source.
        return make_response(render_template("upload_links/closed.html", message=str(closed),
                                             message_zh=closed.chinese), 410 if known else 404)


def _public_page(link: UploadLink, *, refused: list[tuple[str, str]] | None = None,
                 refused_line: int | None = None, status: int = 200):  # type: ignore[no-untyped-def]
    lines = [(line, documents.requirement_of(line)) for line in upload_links.lines_in_scope(link)]
    return render_template("upload_links/public.html", link=link, case=link.case, lines=lines, form=UploadForm(),
                           refused=refused or [], refused_line=refused_line), status


@bp.get("/u/<token>")
def public(token: str):  # type: ignore[no-untyped-def]
    link = _open(token)
    if isinstance(link, Response):
        return link
    begin_write()
    upload_links.record_visit(link)
    commit()
    return _public_page(link)


@bp.post("/u/<token>/<int:document_id>")
def public_upload(token: str, document_id: int):  # type: ignore[no-untyped-def]
    link = _open(token)
    if isinstance(link, Response):
        return link
    line = upload_links.line_in_scope(link, document_id)
    if line is None:
        abort(404)
    if not UploadForm().validate_on_submit():
        abort(400)
    incoming, requirement = incoming_files(), documents.requirement_of(line)  # read before a commit expires line
    try:
        begin_write()
        upload_links.check_scope(link, line)
        upload_links.charge(link, len(incoming))  # refused files count too: checking them costs as much
    except TooManyUploads as limited:
        db.session.rollback()
        flash(str(limited), "error")
        return _public_page(link, status=429)
    except DomainError as problem:
        db.session.rollback()
        flash(str(problem), "error")
        return redirect(url_for("upload_links.public", token=token))
    commit()  # and the files are checked in a read phase: on SQLite a write transaction would hold the lock
    try:
        prepared = documents.prepare(incoming, limits=upload_limits(), requirement=requirement)
        begin_write()
        result = upload_links.store_upload(link, line, prepared)
        commit()
    except documents.Refused as refused:
        db.session.rollback()
        return _public_page(link, refused=refused.reasons, refused_line=line.id,
                            status=413 if refused.too_large else 422)
    except DomainError as problem:
        db.session.rollback()
        flash(str(problem), "error")
        return redirect(url_for("upload_links.public", token=token))
    for notice in result.notices:
        flash(notice, "warning")
    if result.saved:
        flash(f"Thank you — {len(result.saved)} {'file' if len(result.saved) == 1 else 'files'} received. "
              f"已收到文件。", "success")
    return redirect(url_for("upload_links.public", token=token))
