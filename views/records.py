"""An applicant's education and positions: add, edit, delete."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from advisor import institutions, records
from advisor.errors import Conflict, DomainError
from models import Applicant, DegreeLevel, Education, Position, PositionRole, db

from .access import get_applicant_or_404, require_login, user
from .editing import begin_write, commit, show_conflict
from .forms.common import ActionForm
from .forms.records import EducationForm, PositionForm

bp = Blueprint("records", __name__, url_prefix="/applicants/<int:applicant_id>")
bp.before_request(require_login)


@dataclass(frozen=True)
class Kind:
    """What differs between education and positions; the views are the same."""

    name: str
    model: type
    form: type
    add: Any
    update: Any
    delete: Any
    title: str


KINDS = {
    "education": Kind("education", Education, EducationForm, records.add_education, records.update_education,
                      records.delete_education, "degree"),
    "positions": Kind("positions", Position, PositionForm, records.add_position, records.update_position,
                      records.delete_position, "position"),
}


def _kind(kind: str) -> Kind:
    if kind not in KINDS:
        abort(404)
    return KINDS[kind]


def _record_or_404(kind: Kind, applicant: Applicant, record_id: int) -> Any:
    record = db.session.get(kind.model, record_id)
    if record is None or record.applicant_id != applicant.id:
        abort(404)
    return record


def _data(kind: Kind, form: Any) -> Any:
    name = request.form.get("institution_pick") or form.institution.data
    institution = institutions.resolve(name, country=form.institution_country.data or None,
                                       confirm_new=form.confirm_new.data, by=user())
    if kind.name == "education":
        return records.EducationData(level=DegreeLevel(form.level.data), field_code=form.field_code.data,
                                     institution=institution, awarded_on=form.awarded_on.data,
                                     pending=form.pending.data)
    return records.PositionData(role=PositionRole(form.role.data), field_code=form.field_code.data,
                                institution=institution, started_on=form.started_on.data,
                                ended_on=form.ended_on.data)


@bp.route("/<kind>/new", methods=["GET", "POST"])
def new(applicant_id: int, kind: str):  # type: ignore[no-untyped-def]
    return _edit(applicant_id, kind, None)


@bp.route("/<kind>/<int:record_id>/edit", methods=["GET", "POST"])
def edit(applicant_id: int, kind: str, record_id: int):  # type: ignore[no-untyped-def]
    return _edit(applicant_id, kind, record_id)


def _edit(applicant_id: int, kind: str, record_id: int | None):  # type: ignore[no-untyped-def]
    """Add or edit a degree or position; the institution is resolved against the registry."""
    applicant, what = get_applicant_or_404(applicant_id), _kind(kind)
    record = _record_or_404(what, applicant, record_id) if record_id else None
    form = what.form(obj=record if request.method == "GET" else None, version=record.version if record else 0)
    if request.method == "GET" and record is not None:
        form.institution.data = record.institution.name
    candidates: list[Any] = []
    differences: list[tuple[str, str, str]] = []
    if form.validate_on_submit():
        try:
            begin_write()  # resolving the institution may add an unverified one
            data = _data(what, form)
            if record is None:
                what.add(applicant, data, by=user())
            else:
                what.update(record, data, version=form.version.data, by=user())
            commit()
        except institutions.InstitutionNotFound as missing:
            db.session.rollback()
            form.institution.errors.append(str(missing))
            candidates = missing.candidates
        except Conflict as conflict:
            flash(str(conflict), "error")
            differences = show_conflict(form, record, {})
        except DomainError as refused:
            db.session.rollback()
            flash(str(refused), "error")
        else:
            flash(f"The {what.title} is saved.", "success")
            return redirect(url_for("applicants.detail", applicant_id=applicant.id))
    return render_template("records/edit.html", form=form, applicant=applicant, kind=what, record=record,
                           candidates=candidates, differences=differences)


@bp.route("/<kind>/<int:record_id>/delete", methods=["GET", "POST"])
def delete(applicant_id: int, kind: str, record_id: int):  # type: ignore[no-untyped-def]
    applicant, what = get_applicant_or_404(applicant_id), _kind(kind)
    record = _record_or_404(what, applicant, record_id)
    form = ActionForm()
    if request.method == "GET":
        return render_template("records/delete.html", form=form, applicant=applicant, kind=what, record=record)
    if not form.validate_on_submit():
        abort(400)
    begin_write()
    what.delete(record, by=user())
    commit()
    flash(f"The {what.title} was deleted.", "success")
    return redirect(url_for("applicants.detail", applicant_id=applicant.id))
