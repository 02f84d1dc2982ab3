"""Packets of a case: the list (with staleness), a draft download, a final export, stored finals' downloads.

Exports hand personal data out of the system, so they ask for a recent login like the user-admin pages.
"""
from __future__ import annotations

import re

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import IntegrityError
from werkzeug.wrappers import Response

from advisor import jobs, packets, readiness
from advisor.errors import DomainError
from advisor.packet_pdf import PacketError
from advisor.storage import MissingFile
from models import db

from .access import get_case_or_404, recent_login_required, require_login, user
from .downloads import send
from .editing import begin_write, commit, read_only
from .forms.packets import PacketForm

bp = Blueprint("packets", __name__, url_prefix="/cases/<int:case_id>/packets")
bp.before_request(require_login)


@bp.get("")
@recent_login_required
def index(case_id: int) -> str:
    case = get_case_or_404(case_id)
    stored = packets.packets_of(case)
    latest_stale = packets.is_stale(stored[0], case) if stored else False
    blocking = readiness.problems(case, packets=False) if case.status.is_open else []
    return render_template("packets/index.html", case=case, packets=stored, latest_stale=latest_stale,
                           problems=blocking, form=PacketForm(), exhibits=packets.accepted_lines(case))


@bp.post("/draft")
@recent_login_required
def draft(case_id: int) -> Response:
    case = get_case_or_404(case_id)
    form = PacketForm()
    if not form.validate_on_submit():
        abort(400)
    read_only()
    case = get_case_or_404(case_id)
    try:
        built = packets.build_packet(case, draft=True, cover_letter=form.cover_letter.data or "",
                                     eligibility_page=form.eligibility_page)
    except (DomainError, PacketError, MissingFile) as problem:
        db.session.rollback()
        flash(_why(problem), "error")
        return redirect(url_for("packets.index", case_id=case.id))
    begin_write()
    packets.record_draft(case, built, by=user(), eligibility_page=form.eligibility_page)
    commit()
    return send(built.pdf, mimetype="application/pdf", name=f"{case.reference}-draft.pdf")


@bp.post("/final")
@recent_login_required
def final(case_id: int) -> Response:
    case = get_case_or_404(case_id)
    form = PacketForm()
    if not form.validate_on_submit():
        abort(400)
    if jobs.enabled():
        blocking = readiness.problems(case, packets=False)
        if blocking:
            flash(str(packets.NotReady(blocking)), "error")
            return redirect(url_for("packets.index", case_id=case.id))
        job_id = jobs.enqueue_final(case.id, user().id, form.cover_letter.data or "",
                                    eligibility_page=form.eligibility_page)
        return redirect(url_for("packets.job", case_id=case.id, job_id=job_id))
    cover_letter = form.cover_letter.data or ""
    read_only()
    case = get_case_or_404(case_id)
    try:
        built, state = packets.build_final(case, cover_letter=cover_letter, eligibility_page=form.eligibility_page)
        begin_write()
        packet = packets.record_final(case, built, state, by=user(), cover_letter=cover_letter,
                                      eligibility_page=form.eligibility_page)
        commit()
    except (DomainError, PacketError, MissingFile) as problem:
        db.session.rollback()
        flash(_why(problem), "error")
    except IntegrityError:  # two finals of the case at once took the same number: the other one is kept
        db.session.rollback()
        flash("Another final packet of this case was exported at the same moment; it is listed below.", "error")
    else:
        flash(f"Final packet {packet.number} exported: {packet.page_count} pages. It is kept as it is now.",
              "success")
    return redirect(url_for("packets.index", case_id=case.id))


def _why(problem: Exception) -> str:
    if isinstance(problem, MissingFile):
        return ("A stored file of an accepted document is missing, so the packet cannot be built. An administrator "
                "can run the storage check; upload the document again meanwhile.")
    return str(problem)


@bp.get("/<int:packet_id>")
@recent_login_required
def download(case_id: int, packet_id: int) -> ResponseReturnValue:
    """A stored final, sent only when its bytes still have the SHA-256 recorded at its export."""
    case = get_case_or_404(case_id)
    packet = packets.get_packet(case, packet_id)
    if packet is None:
        abort(404)
    try:
        data = packets.read_final(packet, by=user())
    except MissingFile:
        flash(f"The stored file of packet {packet.number} is missing. An administrator can run the storage check.",
              "error")
        return redirect(url_for("packets.index", case_id=case.id))
    except packets.Damaged as damaged:
        begin_write()
        commit()  # the refusal stays in the audit log
        return render_template("errors/error.html", code=500, title="Packet damaged",
                               message=f"{damaged} An administrator can restore it from a backup, or export a "
                                       f"new final packet."), 500
    return send(data, mimetype="application/pdf", name=packet.filename)


JOB_ID = re.compile(r"[0-9a-f-]{8,64}")


@bp.get("/jobs/<job_id>")
def job(case_id: int, job_id: str):  # type: ignore[no-untyped-def]
    """A background export's progress; the page refreshes itself (a meta refresh: no script) until done."""
    case = get_case_or_404(case_id)
    if not jobs.enabled() or not JOB_ID.fullmatch(job_id):
        abort(404)
    state = jobs.state(job_id, case.id)
    if state.status == "missing":
        abort(404)
    packet = packets.get_packet(case, state.packet_id) if state.packet_id else None
    return render_template("packets/job.html", case=case, state=state, packet=packet)
