"""The case workflow: intake → collecting → ready → submitted → approved | refused, and withdrawn from
any open state. A case changes status only through `move`, which checks the guards and records who,
when, from, to and why.
"""
from __future__ import annotations

from sqlalchemy import select

from models import Case, CaseStatus, CaseTransition, User, db

from . import audit, readiness
from .errors import DomainError

S = CaseStatus
ALLOWED: dict[CaseStatus, tuple[CaseStatus, ...]] = {
    S.INTAKE: (S.COLLECTING, S.WITHDRAWN),
    S.COLLECTING: (S.READY, S.INTAKE, S.WITHDRAWN),
    S.READY: (S.SUBMITTED, S.COLLECTING, S.WITHDRAWN),
    S.SUBMITTED: (S.APPROVED, S.REFUSED, S.WITHDRAWN),
    S.APPROVED: (),
    S.REFUSED: (),
    S.WITHDRAWN: (),
}
# Moving into these needs an empty readiness list; submitting also needs a current final packet.
GUARDED = (S.READY, S.SUBMITTED)
# A decision or a withdrawal needs a note saying what happened.
NOTE_REQUIRED = (S.WITHDRAWN, S.APPROVED, S.REFUSED)


class Blocked(DomainError):
    """The readiness check found problems; they come with the error."""

    def __init__(self, target: CaseStatus, problems: list[readiness.Problem]) -> None:
        self.problems = problems
        listed = " ".join(p.message for p in problems)
        super().__init__(f"The case cannot be {target.value} yet: {listed}")


def next_statuses(case: Case) -> tuple[CaseStatus, ...]:
    return ALLOWED[case.status]


def move(case: Case, to: CaseStatus, *, by: User, note: str = "") -> CaseTransition:
    """Move the case to `to`, if the workflow allows that step and its guard passes."""
    if to not in ALLOWED[case.status]:
        raise DomainError(f"A case cannot go from {case.status.value} to {to.value}.")
    note = note.strip()
    if to in NOTE_REQUIRED and not note:
        raise DomainError(f"Say why the case is {to.value}: the note goes into its history.")
    if to in GUARDED:
        problems = readiness.problems(case, submission=to == S.SUBMITTED)
        if problems:
            raise Blocked(to, problems)
    transition = CaseTransition(case_id=case.id, from_status=case.status, to_status=to, note=note, by_id=by.id)
    db.session.add(transition)
    previous, case.status = case.status, to
    audit.record("case.transition", actor=by, obj=case, case_id=case.id,
                 details={"status": [previous.value, to.value], "note": note})
    return transition


def timeline(case: Case) -> list[CaseTransition]:
    return list(db.session.scalars(select(CaseTransition).where(CaseTransition.case_id == case.id)
                                   .order_by(CaseTransition.at.desc(), CaseTransition.id.desc())))
