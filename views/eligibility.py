"""Eligibility on a case: run an assessment, judge what the rules leave open, read the history,
print the summary; the rule sets themselves; re-assessment when the rules change."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for

from advisor import assessments, isced, records
from advisor import eligibility as engine
from advisor.errors import DomainError
from models import Assessment, db

from .access import admin_required, get_case_or_404, require_login, user
from .editing import begin_write, commit
from .forms.common import ActionForm
from .forms.records import JudgementForm

bp = Blueprint("eligibility", __name__)
bp.before_request(require_login)


def _assessment_or_404(case_id: int, assessment_id: int) -> Assessment:
    case = get_case_or_404(case_id)
    assessment = db.session.get(Assessment, assessment_id)
    if assessment is None or assessment.case_id != case.id:
        abort(404)
    return assessment


def _page(case_id: int, assessment: Assessment | None):  # type: ignore[no-untyped-def]
    case = get_case_or_404(case_id)
    latest = assessments.latest(case)
    shown = assessment or latest
    return render_template(
        "eligibility/case.html", case=case, applicant=case.applicant, assessment=shown,
        is_latest=shown is not None and latest is not None and shown.id == latest.id,
        criteria=assessments.criteria_of(shown) if shown else (),
        judgements={j.criterion: j for j in shown.judgements} if shown else {},
        final=assessments.final_outcome(shown) if shown else None,
        superseded=assessments.is_superseded(shown) if shown else False,
        out_of_date=assessments.out_of_date(shown) if shown and shown is latest else None,
        for_planned_date=shown is not None and shown.assessed_on > shown.created_at.date(),
        history=assessments.history(case), current=assessments.current_rule_set(),
        rule_set=assessments.rule_sets().get(shown.rule_set_id) if shown else None,
        judgement_form=JudgementForm(), action_form=ActionForm(),
    )


@bp.get("/cases/<int:case_id>/eligibility")
def case(case_id: int):  # type: ignore[no-untyped-def]
    return _page(case_id, None)


@bp.get("/cases/<int:case_id>/eligibility/<int:assessment_id>")
def past(case_id: int, assessment_id: int):  # type: ignore[no-untyped-def]
    return _page(case_id, _assessment_or_404(case_id, assessment_id))


@bp.post("/cases/<int:case_id>/eligibility/run")
def run(case_id: int):  # type: ignore[no-untyped-def]
    case = get_case_or_404(case_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    begin_write()
    assessment = assessments.run(case, by=user())
    commit()
    flash(f"Assessed under {assessment.rule_set_id}: {assessment.outcome.replace('_', ' ')}.", "success")
    return redirect(url_for("eligibility.case", case_id=case.id))


@bp.post("/cases/<int:case_id>/eligibility/<int:assessment_id>/judge")
def judge(case_id: int, assessment_id: int):  # type: ignore[no-untyped-def]
    assessment = _assessment_or_404(case_id, assessment_id)
    form = JudgementForm()
    if not form.validate_on_submit():
        flash("Choose a judgement and say why.", "error")
    else:
        try:
            begin_write()
            assessments.judge(assessment, form.criterion.data, form.decision.data, form.note.data, by=user())
        except DomainError as refused:
            db.session.rollback()
            flash(str(refused), "error")
        else:
            commit()
            flash(f"Judgement recorded. Outcome: {assessments.final_outcome(assessment).replace('_', ' ')}.",
                  "success")
    return redirect(url_for("eligibility.case", case_id=case_id))


@bp.get("/cases/<int:case_id>/eligibility/summary")
def summary(case_id: int):  # type: ignore[no-untyped-def]
    case = get_case_or_404(case_id)
    assessment = assessments.latest(case)
    if assessment is None:
        flash("Run an assessment first; the summary prints its result.", "info")
        return redirect(url_for("eligibility.case", case_id=case.id))
    return render_template("packets/eligibility_summary.html", case=case, applicant=case.applicant,
                           assessment=assessment, criteria=assessments.criteria_of(assessment),
                           judgements={j.criterion: j for j in assessment.judgements},
                           final=assessments.final_outcome(assessment),
                           rule_set=assessments.rule_sets().get(assessment.rule_set_id),
                           education=records.education_of(case.applicant),
                           positions=records.positions_of(case.applicant))


@bp.get("/rules")
def rules():  # type: ignore[no-untyped-def]
    sets = sorted(assessments.rule_sets().values(), key=lambda r: r.effective_from, reverse=True)
    return render_template("eligibility/rules.html", rule_sets=sets, current=assessments.current_rule_set(),
                           fields=isced.fields(), titles=engine.TITLES, action_form=ActionForm())


@bp.post("/rules/reassess")
@admin_required
def reassess():  # type: ignore[no-untyped-def]
    if not ActionForm().validate_on_submit():
        abort(400)
    begin_write()
    report = assessments.reassess_open_cases(by=user())
    commit()
    return render_template("eligibility/reassessed.html", report=report, current=assessments.current_rule_set())
