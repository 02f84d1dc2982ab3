"""The readiness check: every problem that blocks a case from being ready, with a plain message and
where it is fixed. One function, used by the case page, the workflow's guards and the dashboard.

The packet's own problems come last: a final packet older than the latest change, and for submitting,
no final packet at all.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from models import Case, CaseDocument, CaseStatus, DocumentState

from . import assessments, dates, documents
from . import eligibility as engine
from .dates import add_months

PASSPORT_VALID_MONTHS = 6
NO_DOCUMENT = (DocumentState.MISSING, DocumentState.REQUESTED, DocumentState.WAIVED)  # nothing to check yet


@dataclass(frozen=True)
class Problem:
    code: str
    message: str
    endpoint: str  # where it is fixed: a view name and its arguments, turned into a link by the view
    args: dict[str, Any] = field(default_factory=dict)


def passport_too_short(expires_on: dt.date, submission_on: dt.date) -> bool:
    """Chinese missions want the passport valid at least six months after the application date."""
    return expires_on < add_months(submission_on, PASSPORT_VALID_MONTHS)


def problems(case: Case, *, today: dt.date | None = None, packets: bool = True,
             submission: bool = False) -> list[Problem]:
    """What stops this case from being ready, in the order an advisor fixes things.

    `packets=False` leaves out the packet's own problems (a final packet is built when all else is fixed);
    `submission=True` also asks for a final packet of the case as it is now, which submitting needs."""
    found: list[Problem] = []
    applicant = case.applicant
    today = today or dates.today()
    eligibility = ("eligibility.case", {"case_id": case.id})
    latest = assessments.latest(case)
    if latest is None:
        found.append(Problem("no_assessment", "Eligibility has not been assessed yet.", *eligibility))
    elif assessments.is_superseded(latest):
        found.append(Problem(
            "superseded_rules",
            f"Eligibility was assessed under {latest.rule_set_id}; the rules in force are now "
            f"{assessments.current_rule_set().id}. Re-run the assessment.", *eligibility))
    elif (why := assessments.out_of_date(latest, today=today)) is not None:
        found.append(Problem("assessment_out_of_date", f"The eligibility assessment is out of date: {why} "
                             "Re-run the assessment.", *eligibility))
    else:
        outcome = assessments.final_outcome(latest)
        if outcome == engine.NOT_ELIGIBLE:
            found.append(Problem("not_eligible", "The latest assessment finds the applicant not eligible.",
                                 *eligibility))
        elif outcome == engine.NEEDS_REVIEW:
            count = len(assessments.open_judgements(latest))
            what = f"{count} criterion needs" if count == 1 else f"{count} criteria need"
            found.append(Problem("needs_review", f"{what} your judgement before the case can be ready.",
                                 *eligibility))
    lines = documents.lines_of(case)
    found.extend(document_problems(case, lines))
    planned = case.planned_submission_on
    if planned is None:
        found.append(Problem("no_submission_date", "Set the planned submission date: the passport check "
                             "counts from it.", "cases.edit", {"case_id": case.id}))
        return found
    not_yet_submitted = case.status in (CaseStatus.INTAKE, CaseStatus.COLLECTING, CaseStatus.READY)
    if not_yet_submitted and planned < today:
        found.append(Problem("submission_date_passed",
                             f"The planned submission date {planned.isoformat()} has passed: set a new one.",
                             "cases.edit", {"case_id": case.id}))
    # Until the application is filed, the passport must last six months past whichever comes later.
    submission_on = max(planned, today) if not_yet_submitted else planned
    if passport_too_short(applicant.passport_expires_on, submission_on):
        found.append(Problem(
            "passport_expiring",
            f"The passport expires on {applicant.passport_expires_on.isoformat()}, less than "
            f"{PASSPORT_VALID_MONTHS} months after the "
            f"{'planned submission' if submission_on == planned else 'earliest possible submission'} on "
            f"{submission_on.isoformat()}.",
            "applicants.edit", {"applicant_id": applicant.id}))
    # A document rule can repeat a finding above (the passport line checks the same expiry): report it once.
    codes = {problem.code for problem in found}
    found.extend(problem for problem in rule_problems(case, lines) if problem.code not in codes)
    if packets:
        found.extend(packet_problems(case, submission=submission))
    return found


def packet_problems(case: Case, *, submission: bool) -> list[Problem]:
    """A final packet older than the latest change; for submitting, no final packet at all."""
    from . import packets

    latest = packets.latest_final(case)
    where = ("packets.index", {"case_id": case.id})
    if latest is None:
        if submission:
            return [Problem("no_final_packet", "Export a final packet: it is what goes to the consulate.", *where)]
        return []
    if packets.is_stale(latest, case):
        return [Problem("packet_stale", f"The final packet {latest.number} is older than the latest change to the "
                                        f"case: export a new one.", *where)]
    return []


def document_problems(case: Case, lines: list[CaseDocument] | None = None) -> list[Problem]:
    """Required documents missing, waiting for review, or rejected; a case without a checklist says so."""
    lines = documents.lines_of(case) if lines is None else lines
    where = ("documents.index", {"case_id": case.id})
    if not lines:
        return [Problem("no_checklist", "This case has no document checklist yet: create it.", *where)]
    status = documents.completeness(lines)
    found = []
    for code, group, wording in (
        ("document_missing", status.missing, "not received yet"),
        ("document_unreviewed", status.awaiting_review, "received, waiting for your review"),
        ("document_rejected", status.rejected, "rejected; a new version is needed"),
    ):
        for line in group:
            found.append(Problem(code, f"{documents.requirement_of(line).title}: {wording}.", "documents.detail",
                                 {"case_id": case.id, "document_id": line.id}))
    return found


def rule_problems(case: Case, lines: list[CaseDocument] | None = None) -> list[Problem]:
    """Automatic document checks that fail or cannot be made, on required lines that have a document."""
    lines = documents.lines_of(case) if lines is None else lines
    found = []
    for line in lines:
        if not (line.applies and line.required) or line.state in NO_DOCUMENT:
            continue
        title = documents.requirement_of(line).title
        for check in documents.checks(line, case):
            if check.ok is not True and not (check.ok is None and case.planned_submission_on is None):
                found.append(Problem(check.problem_code, f"{title}: {check.message}", "documents.detail",
                                     {"case_id": case.id, "document_id": line.id}))
    return found
