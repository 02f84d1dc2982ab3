"""Assessing a case: run the engine on the applicant's records, keep an immutable snapshot, record the
advisor's judgements, and re-assess open cases when a new rule-set version comes into force.

Whether an assessment is superseded is derived, never stored: it is when its rule set is no longer
the one in force. An assessment is out of date when its snapshot no longer matches the applicant's
records as they are now, or when the application date has moved to a day that changes a result (a
birthday). That too is derived, by `out_of_date`; the case keeps a copy of the answer
(`Case.assessment_out_of_date`) for the dashboard, which every operation that changes the evidence
refreshes through `refresh_out_of_date`.

The age window applies on the day the application is made: an assessment is made for the planned
submission date when that is later than today (`application_date`), and records that date as `assessed_on`.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import select, union, update

from models import Assessment, Case, CaseStatus, Education, Judgement, Position, User, db

from . import audit, dates, isced, records
from . import eligibility as engine
from .errors import DomainError

OPEN_STATUSES = [s for s in CaseStatus if s.is_open]


# Rule sets ---------------------------------------------------------------------------------------

def load_into(app: Any) -> None:
    """Load and validate every rule-set file at start; a broken file stops the app with its message."""
    folder = Path(app.config["RULES_FOLDER"])
    app.extensions["advisor.rule_sets"] = engine.load_rule_sets(folder)


def rule_sets() -> dict[str, engine.RuleSet]:
    return current_app.extensions["advisor.rule_sets"]  # type: ignore[no-any-return]


def current_rule_set(on: dt.date | None = None) -> engine.RuleSet:
    return engine.current_rule_set(rule_sets(), on or dates.today())


def is_superseded(assessment: Assessment) -> bool:
    return assessment.rule_set_id != current_rule_set().id


# Inputs and results ---------------------------------------------------------------------------------

def institution_input(institution: Any) -> engine.Institution:
    return engine.Institution(name=institution.name, country=institution.country, renowned=institution.renowned,
                              rank=institution.rank, verified=institution.verified)


def inputs_for(case: Case) -> engine.Inputs:
    applicant = case.applicant
    education = tuple(
        engine.Education(level=e.level.value, field_code=e.field_code, field_name=isced.name(e.field_code),
                         institution=institution_input(e.institution), awarded_on=e.awarded_on, pending=e.pending,
                         ref=f"education:{e.id}")
        for e in records.education_of(applicant))
    positions = tuple(
        engine.Position(role=p.role.value, field_code=p.field_code, field_name=isced.name(p.field_code),
                        institution=institution_input(p.institution), started_on=p.started_on, ended_on=p.ended_on,
                        ref=f"position:{p.id}")
        for p in records.positions_of(applicant))
    return engine.Inputs(born_on=applicant.born_on, education=education, positions=positions)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def criteria_of(assessment: Assessment) -> tuple[engine.Criterion, ...]:
    return tuple(engine.Criterion(code=c["code"], result=c["result"], reason=c["reason"], status=c["status"],
                                  evidence=tuple(c.get("evidence", ())), documents=tuple(c.get("documents", ())),
                                  statement=c.get("statement", ""))
                 for c in assessment.criteria)


def final_outcome(assessment: Assessment) -> str:
    """The outcome once the advisor's judgements are applied to the criteria that need one."""
    judgements = {j.criterion: j.decision for j in assessment.judgements}
    return engine.outcome_of(criteria_of(assessment), judgements)


def open_judgements(assessment: Assessment) -> list[engine.Criterion]:
    judged = {j.criterion for j in assessment.judgements}
    return [c for c in criteria_of(assessment) if c.needs_judgement and c.code not in judged]


# Operations ---------------------------------------------------------------------------------------

def snapshot(inputs: engine.Inputs, rules: engine.RuleSet, on: dt.date) -> dict[str, Any]:
    """The columns of an assessment of `inputs` under `rules` on `on`: the engine's result and what it
    rested on, as plain JSON, so the record never changes when the applicant's records do."""
    result = engine.assess(inputs, rules, on)
    return dict(
        rule_set_id=rules.id, assessed_on=on, outcome=result.outcome, pathway=result.pathway,
        inputs=_jsonable(asdict(inputs)),
        criteria=[_jsonable({**asdict(c), "evidence": list(c.evidence), "documents": list(c.documents)})
                  for c in result.criteria],
    )


def application_date(case: Case, today: dt.date | None = None) -> dt.date:
    """The day the application is made, on which the age window applies: the planned submission date when
    it is later than today, else today."""
    today = today or dates.today()
    planned = case.planned_submission_on
    return planned if planned is not None and planned > today else today


def run(case: Case, *, by: User | None, on: dt.date | None = None) -> Assessment:
    """Assess the case under the rule set in force today (`on`), for the day the application is made, and
    keep the snapshot."""
    today = on or dates.today()
    rules = current_rule_set(today)
    assessment = Assessment(case=case, created_by_id=by.id if by else None,
                            **snapshot(inputs_for(case), rules, application_date(case, today)))
    db.session.add(assessment)
    db.session.flush()
    case.outcome, case.rule_set_id = assessment.outcome, rules.id
    case.assessment_out_of_date = False
    audit.record("assessment.create", actor=by, obj=assessment, case_id=case.id,
                 details={"rule_set": rules.id, "outcome": assessment.outcome})
    return assessment


def judge(assessment: Assessment, criterion: str, decision: str, note: str, *, by: User) -> Judgement:
    """Record the advisor's decision on a criterion the engine left open, on the latest assessment."""
    if decision not in (engine.PASS, engine.FAIL):
        raise DomainError("Decide pass or fail.")
    if not note.strip():
        raise DomainError("Say why: the note is what the decision rests on.")
    if latest(assessment.case) is not assessment:
        raise DomainError("Only the latest assessment can be judged.")
    if is_superseded(assessment):
        raise DomainError("This assessment was made under an older rule set. Re-run it first.")
    if out_of_date(assessment) is not None:
        raise DomainError("This assessment is out of date: the applicant's records have changed since. "
                          "Re-run it first.")
    target = next((c for c in criteria_of(assessment) if c.code == criterion), None)
    if target is None or not target.needs_judgement:
        raise DomainError("This criterion was settled by the rules and cannot be judged.")
    if any(j.criterion == criterion for j in assessment.judgements):
        raise DomainError("This criterion has been judged already. Re-run the assessment to judge it again.")
    judgement = Judgement(assessment=assessment, criterion=criterion, decision=decision, note=note.strip(),
                          created_by_id=by.id)
    db.session.add(judgement)
    db.session.flush()
    db.session.refresh(assessment, ["judgements"])
    assessment.case.outcome = final_outcome(assessment)
    audit.record("assessment.judge", actor=by, obj=assessment, case_id=assessment.case_id,
                 details={"criterion": criterion, "decision": decision, "note": note.strip()})
    return judgement


# Out of date -------------------------------------------------------------------------------------

def _results(criteria: Iterable[engine.Criterion]) -> dict[str, str]:
    return {c.code: c.result for c in criteria}


def out_of_date(assessment: Assessment, *, today: dt.date | None = None) -> str | None:
    """Why the assessment no longer holds for the applicant as recorded now, or None while it does.

    It no longer holds when its snapshot of the inputs differs from what `inputs_for` gives now (a degree
    deleted or changed, another date of birth, an institution verified, judged or renamed), or when the
    application date is no longer the one it was made for and some criterion would come out differently
    on the new date (the planned date moved past a birthday)."""
    case = assessment.case
    inputs = inputs_for(case)
    if _jsonable(asdict(inputs)) != assessment.inputs:
        return "the applicant's date of birth, degrees, positions or their institutions have changed since."
    on = application_date(case, today)
    rules = rule_sets().get(assessment.rule_set_id)
    if on != assessment.assessed_on and rules is not None:
        if _results(engine.assess(inputs, rules, on).criteria) != _results(criteria_of(assessment)):
            return (f"it was made for an application on {assessment.assessed_on.isoformat()}; on "
                    f"{on.isoformat()} the result differs.")
    return None


def refresh_out_of_date(cases: Iterable[Case]) -> None:
    """Set each case's out-of-date flag to what `out_of_date` finds now, for the dashboard.

    Every operation that changes what assessments rest on calls this for the cases concerned once its
    change is made. The flag is written without touching the case's version or update time: a change of
    an applicant's records is no edit of the case, and must not turn a save of the case form into a
    conflict."""
    db.session.flush()
    flags: dict[bool, list[int]] = {True: [], False: []}
    for case in cases:
        if case.deleted_at is not None:
            continue
        assessment = latest(case)
        flags[assessment is not None and out_of_date(assessment) is not None].append(case.id)
    for flag, ids in flags.items():
        if ids:
            db.session.execute(update(Case).where(Case.id.in_(ids), Case.assessment_out_of_date.is_not(flag))
                               .values(assessment_out_of_date=flag, updated_at=Case.updated_at)
                               .execution_options(synchronize_session="fetch"))


def cases_resting_on(institution_ids: Iterable[int]) -> list[Case]:
    """The cases whose applicant has a degree or position at one of these institutions."""
    ids = list(institution_ids)
    if not ids:
        return []
    applicants = union(select(Education.applicant_id).where(Education.institution_id.in_(ids)),
                       select(Position.applicant_id).where(Position.institution_id.in_(ids)))
    return list(db.session.scalars(select(Case).where(Case.applicant_id.in_(applicants),
                                                      Case.deleted_at.is_(None)).order_by(Case.id)))


def latest(case: Case) -> Assessment | None:
    return db.session.scalar(select(Assessment).where(Assessment.case_id == case.id)
                             .order_by(Assessment.id.desc()).limit(1))


def history(case: Case) -> list[Assessment]:
    return list(db.session.scalars(select(Assessment).where(Assessment.case_id == case.id)
                                   .order_by(Assessment.id.desc())))


@dataclass(frozen=True)
class Reassessed:
    case: Case
    before: str
    after: str
    previous_rule_set: str

    @property
    def changed(self) -> bool:
        return self.before != self.after


def reassess_open_cases(*, by: User | None, on: dt.date | None = None) -> list[Reassessed]:
    """Re-run every open case whose latest assessment was made under a rule set no longer in force.

    Returns one row per re-run case, with the final outcome before (judgements included) and the
    engine's outcome after; judgements do not carry over to the new rule set.
    """
    rules = current_rule_set(on)
    report = []
    cases = db.session.scalars(select(Case).where(Case.deleted_at.is_(None), Case.status.in_(OPEN_STATUSES))
                               .order_by(Case.id))
    for case in cases:
        previous = latest(case)
        if previous is None or previous.rule_set_id == rules.id:
            continue
        before = final_outcome(previous)
        fresh = run(case, by=by, on=on)
        report.append(Reassessed(case=case, before=before, after=fresh.outcome,
                                 previous_rule_set=previous.rule_set_id))
    audit.record("assessment.reassess", actor=by, details={"rule_set": rules.id, "cases": len(report),
                                                           "changed": sum(r.changed for r in report)})
    return report

