"""Applicants: list, search, create (with the first case), view, edit, delete."""
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from advisor import applicants, cases, records
from advisor.errors import Conflict, DomainError
from models import db

from .access import admin_required, get_applicant_or_404, require_login, user
from .editing import begin_write, commit, show_conflict
from .forms.applicants import ApplicantForm, NewApplicantForm
from .forms.common import ActionForm, choices
from .listing import list_args, paginate

bp = Blueprint("applicants", __name__, url_prefix="/applicants")

EDITABLE = {name: name for name in applicants.ApplicantData.__dataclass_fields__}


bp.before_request(require_login)


def advisor_choices(form) -> None:  # type: ignore[no-untyped-def]
    """Admins assign anyone active; an advisor opens cases for themselves only."""
    me = user()
    people = cases.assignable_advisors() if me.is_admin else [me]
    form.advisor_id.choices = choices([(person.id, person.name) for person in people])
    if form.advisor_id.data is None:
        form.advisor_id.data = me.id


@bp.get("/")
def index():  # type: ignore[no-untyped-def]
    args = list_args("name")
    page = paginate(applicants.search_applicants(user(), q=args.q, sort=args.sort))
    return render_template("applicants/index.html", page=page, args=args)


@bp.route("/new", methods=["GET", "POST"])
def new():  # type: ignore[no-untyped-def]
    form = NewApplicantForm()
    advisor_choices(form)
    if form.validate_on_submit():
        me = user()
        try:
            begin_write()
            applicant = applicants.create_applicant(form.applicant_data(), by=me)
            advisor = db.session.get(type(me), form.advisor_id.data)
            case = cases.open_case(applicant, form.case_data(), advisor=advisor, by=me)
        except DomainError as refused:
            db.session.rollback()
            flash(str(refused), "error")
        else:
            commit()
            flash(f"Applicant saved and case {case.reference} opened.", "success")
            return redirect(url_for("cases.detail", case_id=case.id))
    return render_template("applicants/new.html", form=form)


@bp.get("/<int:applicant_id>")
def detail(applicant_id: int):  # type: ignore[no-untyped-def]
    applicant = get_applicant_or_404(applicant_id)
    return render_template("applicants/detail.html", applicant=applicant,
                           cases=cases.cases_of_applicant(user(), applicant),
                           education=records.education_of(applicant), positions=records.positions_of(applicant))


@bp.route("/<int:applicant_id>/edit", methods=["GET", "POST"])
def edit(applicant_id: int):  # type: ignore[no-untyped-def]
    applicant = get_applicant_or_404(applicant_id)
    form = ApplicantForm(obj=applicant if request.method == "GET" else None)
    differences: list[tuple[str, str, str]] = []
    if form.validate_on_submit():
        try:
            begin_write()
            applicants.update_applicant(applicant, form.applicant_data(), version=form.version.data, by=user())
            commit()
        except Conflict as conflict:
            flash(str(conflict), "error")
            differences = show_conflict(form, applicant, EDITABLE)
        else:
            flash("Applicant saved.", "success")
            return redirect(url_for("applicants.detail", applicant_id=applicant.id))
    return render_template("applicants/edit.html", form=form, applicant=applicant, differences=differences)


@bp.route("/<int:applicant_id>/delete", methods=["GET", "POST"])
@admin_required
def delete(applicant_id: int):  # type: ignore[no-untyped-def]
    applicant = get_applicant_or_404(applicant_id)
    form = ActionForm()
    if request.method == "GET":
        open_count = sum(1 for case in applicant.cases if case.deleted_at is None)
        return render_template("applicants/delete.html", applicant=applicant, form=form, case_count=open_count)
    if not form.validate_on_submit():
        abort(400)
    begin_write()
    references = ", ".join(case.reference for case in applicant.cases if case.deleted_at is None)
    applicants.delete_applicant(applicant, by=user())
    commit()
    # Flashes ride in the (signed, readable) session cookie: the references, not the applicant's name.
    flash(f"The applicant and their cases ({references or 'none'}) were deleted.", "success")
    return redirect(url_for("applicants.index"))
