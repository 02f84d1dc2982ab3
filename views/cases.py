"""Cases: list, search, open another case for an applicant, view, edit, reassign, delete."""
from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for

from advisor import (
    assessments,
    audit,
    case_export,
    cases,
    consulates,
    dates,
    documents,
    readiness,
    tasks,
    workflow,
)
from advisor.errors import Conflict, DomainError
from models import CaseStatus, User, db

from .access import (
    admin_required,
    get_applicant_or_404,
    get_case_or_404,
    recent_login_required,
    require_login,
    user,
)
from .applicants import advisor_choices
from .editing import begin_write, commit, show_conflict
from .forms.cases import CaseFilterForm, CaseForm, OpenCaseForm, ReassignForm, StatusForm
from .forms.common import ActionForm, choices
from .listing import in_own_context, list_args, paginate

bp = Blueprint("cases", __name__, url_prefix="/cases")
bp.before_request(require_login)

EDITABLE = {"consulate_code": "consulate_code", "planned_submission_on": "planned_submission_on",
            "intended_entry_on": "intended_entry_on", "notes": "case_notes"}


@bp.get("/")
def index():  # type: ignore[no-untyped-def]
    args = list_args("-updated")
    filters = cases.case_filters(user(), request.args)
    page = paginate(cases.search_cases(user(), q=args.q, sort=args.sort, **filters))
    form = CaseFilterForm(formdata=None, data={**filters, "q": args.q, "sort": args.sort},
                          advisors=cases.filter_advisors() if user().is_admin else None)
    return render_template("cases/index.html", page=page, args=args, form=form, filtered=bool(filters),
                           completeness=documents.counts_for([case.id for case in page.items]))


@bp.get("/export.csv")
@recent_login_required  # every visible case with full passport numbers leaves the system: as the packet pages do
def export():  # type: ignore[no-untyped-def]
    args = list_args("-updated")
    filters = cases.case_filters(user(), request.args)
    query = cases.search_cases(user(), q=args.q, sort=args.sort, **filters)
    rows = case_export.count(query)
    begin_write()
    case_export.record_export(by=user(), filters=filters, q=args.q, sort=args.sort, rows=rows)
    commit()
    disposition = f'attachment; filename="{case_export.filename(dates.today())}"'
    return Response(in_own_context(case_export.lines(query)), mimetype="text/csv",
                    headers={"Content-Disposition": disposition})


@bp.route("/new/<int:applicant_id>", methods=["GET", "POST"])
def new(applicant_id: int):  # type: ignore[no-untyped-def]
    applicant = get_applicant_or_404(applicant_id)
    form = OpenCaseForm()
    advisor_choices(form)
    if form.validate_on_submit():
        try:
            begin_write()
            case = cases.open_case(applicant, form.case_data(), by=user(),
                                   advisor=db.session.get(User, form.advisor_id.data))
        except DomainError as refused:
            db.session.rollback()
            flash(str(refused), "error")
        else:
            commit()
            flash(f"Case {case.reference} opened.", "success")
            return redirect(url_for("cases.detail", case_id=case.id))
    return render_template("cases/new.html", form=form, applicant=applicant)


@bp.get("/<int:case_id>")
def detail(case_id: int):  # type: ignore[no-untyped-def]
    case = get_case_or_404(case_id)
    reassign = None
    if user().is_admin:
        reassign = ReassignForm(version=case.version, advisor_id=case.advisor_id)
        reassign.advisor_id.choices = choices([(p.id, p.name) for p in cases.assignable_advisors()])
    latest = assessments.latest(case)
    lines = documents.lines_of(case)
    status_form = StatusForm()
    status_form.status.choices = choices([(s.value, s.value.capitalize()) for s in workflow.next_statuses(case)])
    return render_template("cases/detail.html", case=case, applicant=case.applicant, reassign=reassign,
                           problems=[(p, url_for(p.endpoint, **p.args)) for p in readiness.problems(case)]
                           if case.status.is_open else None,
                           status_form=status_form, transitions=workflow.timeline(case),
                           assessment=latest, final=assessments.final_outcome(latest) if latest else None,
                           superseded=assessments.is_superseded(latest) if latest else False,
                           out_of_date=assessments.out_of_date(latest) if latest else None,
                           consulate=consulates.get(case.consulate_code), history=audit.case_history(case.id),
                           tasks=tasks.open_and_recent(case), documents=documents.completeness(lines),
                           titles={line.id: documents.requirement_of(line).title for line in lines})


@bp.route("/<int:case_id>/edit", methods=["GET", "POST"])
def edit(case_id: int):  # type: ignore[no-untyped-def]
    case = get_case_or_404(case_id)
    form = CaseForm(obj=case if request.method == "GET" else None)
    if request.method == "GET":
        form.case_notes.data = case.notes
    differences: list[tuple[str, str, str]] = []
    if form.validate_on_submit():
        try:
            begin_write()
            cases.update_case(case, form.case_data(), version=form.version.data, by=user())
            commit()
        except Conflict as conflict:
            flash(str(conflict), "error")
            differences = show_conflict(form, case, EDITABLE)
        except DomainError as refused:
            db.session.rollback()
            flash(str(refused), "error")
        else:
            flash("Case saved.", "success")
            return redirect(url_for("cases.detail", case_id=case.id))
    return render_template("cases/edit.html", form=form, case=case, differences=differences)


@bp.post("/<int:case_id>/status")
def change_status(case_id: int):  # type: ignore[no-untyped-def]
    case = get_case_or_404(case_id)
    form = StatusForm()
    form.status.choices = choices([(s.value, s.value) for s in workflow.next_statuses(case)])
    if not form.validate_on_submit():
        errors = form.note.errors or ["Choose one of the next statuses offered."]
        flash(" ".join(errors), "error")
        return redirect(url_for("cases.detail", case_id=case.id))
    try:
        begin_write()
        workflow.move(case, CaseStatus(form.status.data), by=user(), note=form.note.data or "")
    except DomainError as refused:
        db.session.rollback()
        flash(str(refused), "error")
    else:
        commit()
        flash(f"{case.reference} is now {case.status.value}.", "success")
    return redirect(url_for("cases.detail", case_id=case.id))


@bp.post("/<int:case_id>/reassign")
@admin_required
def reassign(case_id: int):  # type: ignore[no-untyped-def]
    case = get_case_or_404(case_id)
    form = ReassignForm()
    form.advisor_id.choices = choices([(p.id, p.name) for p in cases.assignable_advisors()])
    if form.validate_on_submit():
        try:
            begin_write()
            cases.reassign_case(case, db.session.get(User, form.advisor_id.data),
                                version=form.version.data, by=user())
            commit()
        except DomainError as refused:
            db.session.rollback()
            flash(str(refused), "error")
        else:
            flash(f"{case.reference} is now assigned to {case.advisor.name}.", "success")
    else:
        flash("Choose an advisor from the list.", "error")
    return redirect(url_for("cases.detail", case_id=case.id))


@bp.route("/<int:case_id>/delete", methods=["GET", "POST"])
@admin_required
def delete(case_id: int):  # type: ignore[no-untyped-def]
    case = get_case_or_404(case_id)
    form = ActionForm()
    if request.method == "GET":
        return render_template("cases/delete.html", case=case, form=form)
    if not form.validate_on_submit():
        abort(400)
    begin_write()
    cases.delete_case(case, by=user())
    commit()
    flash(f"Case {case.reference} was deleted.", "success")
    return redirect(url_for("cases.index"))
