"""Documents as operations: the checklist per pathway, residence and consulate; keeping a case's lines in step;
review states with their guards and audit events; the automatic checks and the readiness problems they raise;
the storage check; the dashboard's review and overdue sections. The web pages are in test_documents_views.py.
"""
from __future__ import annotations

import copy
import datetime as dt
import io
import tomllib
from importlib import resources
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import delete, select, update

from advisor import applicants, cases, checklist, documents, filestore, readiness
from advisor.checklist import ChecklistError
from advisor.dashboard import dashboard_for
from advisor.dates import add_months
from advisor.documents import Details, Incoming, Limits, UploadResult
from advisor.errors import Conflict, DomainError
from models import AuditEvent, Case, CaseDocument, DocumentFile, DocumentState, Pathway, User, db, utcnow

from . import hostile
from .conftest import applicant_data

MB = 1024 * 1024
LIMITS = Limits(max_bytes=25 * MB, max_pixels=60_000_000, max_pages=300)

# The checklist of the data file, in packet order, before any consulate profile.
ALWAYS = ["passport", "photo", "application_form"]
DEGREE = ["passport", "photo", "application_form", "degree_certificate", "transcript", "cv", "previous_visa"]
RESEARCH = ["passport", "photo", "application_form", "transcript", "proof_of_research", "cv", "previous_visa"]
BOTH = ["passport", "photo", "application_form", "degree_certificate", "transcript", "proof_of_research", "cv",
        "previous_visa"]
OPTIONAL = {"transcript", "cv", "previous_visa"}


# Helpers ------------------------------------------------------------------------------------------------

def codes(lines: list[checklist.Needed]) -> list[str]:
    return [line.requirement.code for line in lines]


def required_codes(lines: list[checklist.Needed]) -> set[str]:
    return {line.requirement.code for line in lines if line.required}


def checklist_data() -> dict[str, Any]:
    source = resources.files("advisor") / "data" / "checklist.toml"
    return tomllib.loads(source.read_text(encoding="utf-8"))


def line_of(case: Case, code: str) -> CaseDocument:
    return db.session.scalars(select(CaseDocument).where(CaseDocument.case_id == case.id,
                                                         CaseDocument.requirement_code == code)).one()


def receive(line: CaseDocument, by: User, *data: bytes, name: str = "scan.pdf") -> UploadResult:
    """Upload files to a line as an advisor would, and commit."""
    result = documents.upload(line, [Incoming(name, item) for item in data or (hostile.pdf(),)], limits=LIMITS,
                              by=by)
    db.session.commit()
    return result


def events(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def case_data(case: Case, **overrides: Any) -> cases.CaseData:
    values: dict[str, Any] = dict(consulate_code=case.consulate_code, planned_submission_on=case.planned_submission_on,
                                  intended_entry_on=case.intended_entry_on, notes=case.notes, pathway=case.pathway)
    values.update(overrides)
    return cases.CaseData(**values)


def move_residence(case: Case, country: str, by: User) -> None:
    applicant = case.applicant
    applicants.update_applicant(applicant, applicant_data(passport_number=applicant.passport_number,
                                                          residence_country=country),
                                version=applicant.version, by=by)
    db.session.commit()


# 1. The checklist as data ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("pathway", "expected"), [("degree", DEGREE), ("research", RESEARCH), ("both", BOTH)])
def test_checklist_follows_the_pathway(pathway: str, expected: list[str]):
    lines = checklist.requirements_for(pathway=pathway, nationality="NG", residence_country="NG",
                                       consulate_code="GB-LON")
    assert codes(lines) == expected
    assert required_codes(lines) == set(expected) - OPTIONAL


def test_living_outside_the_country_of_nationality_requires_proof_of_residence():
    at_home = checklist.requirements_for(pathway="degree", nationality="NG", residence_country="NG",
                                         consulate_code="GB-LON")
    abroad = checklist.requirements_for(pathway="degree", nationality="NG", residence_country="GB",
                                        consulate_code="GB-LON")
    assert "residence_proof" not in codes(at_home)
    assert codes(abroad) == [*DEGREE[:-1], "residence_proof", "previous_visa"]
    assert "residence_proof" in required_codes(abroad)
    assert codes(abroad)[:-2] == codes(at_home)[:-1]


def test_optional_items_are_offered_but_never_required():
    lines = {line.requirement.code: line for line in checklist.requirements_for(
        pathway="both", nationality="US", residence_country="DE", consulate_code="GB-LON")}
    assert OPTIONAL <= lines.keys()
    assert not any(lines[code].required for code in OPTIONAL)
    assert all(line.required for code, line in lines.items() if code not in OPTIONAL)


def test_a_consulate_profile_changes_what_is_required_and_the_order():
    data = checklist_data()
    data["consulate"] = [{"code": "XX-TST", "add": ["transcript"], "optional": ["photo", "proof_of_research"],
                          "order": ["application_form", "passport"], "note": "Test mission"}]
    custom = checklist.parse(data)
    profiled = checklist.requirements_for(pathway="degree", nationality="NG", residence_country="NG",
                                          consulate_code="XX-TST", checklist=custom)
    assert codes(profiled) == ["application_form", "passport", "photo", "degree_certificate", "transcript", "cv",
                               "previous_visa"]
    required = required_codes(profiled)
    assert "transcript" in required and "photo" not in required
    # Relaxing an item the case does not need does not put it on the list.
    assert "proof_of_research" not in codes(profiled)
    # Other missions keep the file's checklist.
    elsewhere = checklist.requirements_for(pathway="degree", nationality="NG", residence_country="NG",
                                           consulate_code="GB-LON", checklist=custom)
    assert codes(elsewhere) == DEGREE and required_codes(elsewhere) == set(DEGREE) - OPTIONAL
    assert custom.profiles["XX-TST"].note == "Test mission"


def _requirement(data: dict[str, Any], code: str) -> dict[str, Any]:
    return next(entry for entry in data["requirement"] if entry["code"] == code)


def _unknown_key(data: dict[str, Any]) -> None:
    _requirement(data, "photo")["colour"] = "white"


def _bad_condition(data: dict[str, Any]) -> None:
    _requirement(data, "cv")["required_when"] = "sometimes"


def _rule_without_field(data: dict[str, Any]) -> None:
    _requirement(data, "photo")["fields"] = []


def _unknown_rule(data: dict[str, Any]) -> None:
    _requirement(data, "passport")["rules"]["valid_years"] = 1


def _unknown_code_in_profile(data: dict[str, Any]) -> None:
    data["consulate"] = [{"code": "XX-TST", "add": ["visa_photo"]}]


def _unknown_key_in_profile(data: dict[str, Any]) -> None:
    data["consulate"] = [{"code": "XX-TST", "remove": ["cv"]}]


def _twice(data: dict[str, Any]) -> None:
    data["requirement"].append(copy.deepcopy(_requirement(data, "cv")))


def _no_sources(data: dict[str, Any]) -> None:
    _requirement(data, "transcript")["sources"] = []


def _print_size(value: object):  # type: ignore[no-untyped-def]
    def break_it(data: dict[str, Any]) -> None:
        _requirement(data, "photo")["print_size_mm"] = value

    break_it.__name__ = f"_print_size_{value!r}"
    return break_it


PRINT_SIZE = "requirement 'photo': `print_size_mm` must be [width, height] in millimetres, at most 180 × 250"


@pytest.mark.parametrize(("break_it", "message"), [
    *[(_print_size(value), PRINT_SIZE) for value in (33, [33], [33, 48, 1], ["33", 48], [0, 48], [33, -1],
                                                         [True, 48], [200, 48], [33, 260])],
    (_unknown_key, "requirement 'photo' has unknown keys ['colour']"),
    (_bad_condition, "requirement 'cv': `required_when` must be one of always, degree_path"),
    (_rule_without_field, "requirement 'photo': rule 'taken_within_months' needs the field 'issued_on'"),
    (_unknown_rule, "requirement 'passport': unknown rule 'valid_years'"),
    (_unknown_code_in_profile, "consulate profile 'XX-TST': `add` names unknown requirement 'visa_photo'"),
    (_unknown_key_in_profile, "consulate profile 'XX-TST' has unknown keys ['remove']"),
    (_twice, "requirement 'cv' appears twice"),
    (_no_sources, "requirement 'transcript': `sources` must list at least one source"),
], ids=lambda value: getattr(value, "__name__", "")[1:] or None)
def test_parse_refuses_broken_data_naming_the_entry_and_field(break_it, message: str):
    data = checklist_data()
    break_it(data)
    with pytest.raises(ChecklistError) as refused:
        checklist.parse(data)
    assert message in str(refused.value)


def test_the_shipped_checklist_parses_and_every_rule_has_its_field():
    current = checklist.current()
    assert current.version and set(current.requirements) == set(BOTH) | {"residence_proof"}
    assert current.get("passport").rules == {"valid_months_after_submission": 6}
    assert current.get("photo").rules == {"taken_within_months": 6}
    assert current.get("residence_proof").rules == {"valid_on_submission": True}
    # The visa photo is printed at its real size (width × height); everything else is fitted to A4.
    assert current.get("photo").print_size_mm == (33.0, 48.0)
    assert {code for code, r in current.requirements.items() if r.print_size_mm} == {"photo"}


# 2. Keeping a case's lines in step ---------------------------------------------------------------------------

def test_opening_a_case_creates_its_checklist(make_case, advisor):
    case = make_case(advisor)  # Nigerian living in the UK, degree pathway
    lines = documents.lines_of(case)
    assert [line.requirement_code for line in lines] == [*DEGREE[:-1], "residence_proof", "previous_visa"]
    assert all(line.applies and line.state == DocumentState.MISSING and line.revision == 0 for line in lines)
    assert {line.requirement_code for line in lines if line.required} == {
        "passport", "photo", "application_form", "degree_certificate", "residence_proof"}
    assert documents.sync_checklist(case, by=advisor) is False  # already in step


def test_changing_the_pathway_drops_lines_but_keeps_their_files_and_brings_them_back(make_case, advisor):
    case = make_case(advisor)
    degree = line_of(case, "degree_certificate")
    receive(degree, advisor, hostile.pdf(text="Diploma"))
    degree_id, keys = degree.id, [f.keys() for f in degree.current_files()]

    cases.update_case(case, case_data(case, pathway=Pathway.RESEARCH), version=case.version, by=advisor)
    db.session.commit()
    degree = line_of(case, "degree_certificate")
    assert (degree.applies, degree.state, degree.revision) == (False, DocumentState.RECEIVED, 1)
    assert [f.keys() for f in degree.current_files()] == keys
    research = line_of(case, "proof_of_research")
    assert research.applies and research.required and research.state == DocumentState.MISSING
    shown = [line.requirement_code for line in documents.lines_of(case)]
    assert shown[-1] == "degree_certificate" and "proof_of_research" in shown  # kept for its files, shown last
    assert "degree_certificate" not in {line.requirement_code for line in
                                        documents.completeness(documents.lines_of(case)).awaiting_review}
    [dropped] = events("documents.checklist")
    assert dropped.case_id == case.id and dropped.actor_id == advisor.id
    assert dropped.changes == {"added": ["proof_of_research"], "no_longer_required": ["degree_certificate"]}

    cases.update_case(case, case_data(case, pathway=Pathway.DEGREE), version=case.version, by=advisor)
    db.session.commit()
    back = line_of(case, "degree_certificate")
    assert back.id == degree_id
    assert (back.applies, back.required, back.state, back.revision) == (True, True, DocumentState.RECEIVED, 1)
    assert [f.keys() for f in back.current_files()] == keys
    assert not line_of(case, "proof_of_research").applies
    assert "proof_of_research" not in [line.requirement_code for line in documents.lines_of(case)]  # no files: hidden
    assert events("documents.checklist")[-1].changes == {"added": ["degree_certificate"],
                                                         "no_longer_required": ["proof_of_research"]}


def test_changing_the_residence_drops_and_restores_the_proof_of_residence(make_case, advisor):
    case = make_case(advisor)
    proof = line_of(case, "residence_proof")
    documents.waive(proof, "Seen in person", by=advisor)
    db.session.commit()

    move_residence(case, "NG", advisor)  # now lives in the country of nationality
    proof = line_of(case, "residence_proof")
    assert not proof.applies and proof.state == DocumentState.WAIVED and proof.reason == "Seen in person"
    assert documents.completeness(documents.lines_of(case)).total == 4
    assert events("documents.checklist")[-1].changes == {"added": [], "no_longer_required": ["residence_proof"]}

    move_residence(case, "GB", advisor)
    again = line_of(case, "residence_proof")
    assert again.id == proof.id and again.applies and again.state == DocumentState.WAIVED
    assert len(events("documents.checklist")) == 2


def test_a_pathway_change_to_both_adds_only_the_proof_of_research(make_case, advisor):
    case = make_case(advisor)
    before = {line.requirement_code: line.id for line in documents.lines_of(case)}
    cases.update_case(case, case_data(case, pathway=Pathway.BOTH), version=case.version, by=advisor)
    db.session.commit()
    after = {line.requirement_code: line.id for line in documents.lines_of(case)}
    assert set(after) - set(before) == {"proof_of_research"}
    assert all(after[code] == line_id for code, line_id in before.items())


def test_creating_the_checklist_of_a_case_without_one_is_audited(make_case, advisor):
    """A case opened before checklists existed gets its lines from "Create the checklist": a change like any
    other, so it leaves an audit event (SECURITY.md: an audit event for every change)."""
    case = make_case(advisor)
    db.session.execute(delete(CaseDocument).where(CaseDocument.case_id == case.id))
    db.session.commit()
    assert documents.sync_checklist(case, by=advisor) is True
    db.session.commit()
    assert len(documents.lines_of(case)) == 8
    created = events("documents.checklist")
    assert len(created) == 1, "creating the checklist left no audit event"
    assert created[0].case_id == case.id and created[0].actor_id == advisor.id
    assert created[0].changes["added"] == [line.requirement_code for line in documents.lines_of(case)]


# 3. States ------------------------------------------------------------------------------------------------

def test_accept_needs_a_received_line_with_files_and_no_failing_check(make_case, advisor):
    case = make_case(advisor)
    photo = line_of(case, "photo")
    with pytest.raises(DomainError, match="Only a received document can be accepted; this one is missing"):
        documents.accept(photo, by=advisor)
    photo.state = DocumentState.RECEIVED  # as if its files were gone: the guard still holds
    with pytest.raises(DomainError, match="There is no file to accept"):
        documents.accept(photo, by=advisor)
    db.session.rollback()

    receive(photo, advisor, hostile.jpeg())
    photo.issued_on = add_months(case.planned_submission_on, -7)
    with pytest.raises(DomainError, match="It cannot be accepted: Taken on .* more than 6 months"):
        documents.accept(photo, by=advisor)
    assert photo.state == DocumentState.RECEIVED and not events("document.accept")

    photo.issued_on = case.planned_submission_on - dt.timedelta(days=40)
    documents.accept(photo, by=advisor)
    db.session.commit()
    assert photo.state == DocumentState.ACCEPTED and photo.reviewed_by_id == advisor.id and photo.reviewed_at
    [accepted] = events("document.accept")
    assert (accepted.object_id, accepted.case_id, accepted.actor_id) == (photo.id, case.id, advisor.id)
    assert accepted.changes == {"document": "photo", "revision": 1}


def test_accept_allows_a_check_that_cannot_be_made_yet(make_case, advisor):
    case = make_case(advisor)
    photo = line_of(case, "photo")
    receive(photo, advisor, hostile.jpeg())
    assert [check.ok for check in documents.checks(photo, case)] == [None]
    documents.accept(photo, by=advisor)
    assert photo.state == DocumentState.ACCEPTED


def test_reject_and_waive_need_a_reason(make_case, advisor):
    case = make_case(advisor)
    line = line_of(case, "passport")
    receive(line, advisor)
    for operation, message in (("reject", "Say why the document is rejected"),
                               ("waive", "Say why this document is not needed")):
        for reason in ("", "   \n "):
            with pytest.raises(DomainError, match=message):
                getattr(documents, operation)(line, reason, by=advisor)
    db.session.commit()
    assert line.state == DocumentState.RECEIVED and line.reason == ""
    assert not events("document.reject") and not events("document.waive")


def test_reject_keeps_the_reason_for_the_applicant(make_case, advisor):
    case = make_case(advisor)
    line = line_of(case, "photo")
    with pytest.raises(DomainError, match="Only a received or accepted document can be rejected; this one is "
                                          "missing"):
        documents.reject(line, "Blurred", by=advisor)
    receive(line, advisor, hostile.jpeg())
    documents.reject(line, "  The background is not white.  ", by=advisor)
    db.session.commit()
    assert (line.state, line.reason, line.reviewed_by_id) == (DocumentState.REJECTED, "The background is not white.",
                                                              advisor.id)
    [rejected] = events("document.reject")
    assert rejected.changes == {"document": "photo", "revision": 1, "reason": "The background is not white."}


def test_waive_settles_any_line_but_an_accepted_one(make_case, advisor):
    case = make_case(advisor)
    form = line_of(case, "application_form")
    documents.waive(form, "The consulate fills it in on site", by=advisor)
    db.session.commit()
    assert form.state == DocumentState.WAIVED and form.state.is_settled
    assert events("document.waive")[0].changes == {"document": "application_form",
                                                   "reason": "The consulate fills it in on site"}
    passport = line_of(case, "passport")
    receive(passport, advisor)
    documents.accept(passport, by=advisor)
    with pytest.raises(DomainError, match="An accepted document cannot be waived; reject it first"):
        documents.waive(passport, "No longer needed", by=advisor)
    assert passport.state == DocumentState.ACCEPTED


def test_reopen_returns_a_line_to_where_its_files_leave_it(make_case, advisor):
    case = make_case(advisor)
    cv = line_of(case, "cv")
    with pytest.raises(DomainError, match="Only a waived, accepted or rejected document can be reopened"):
        documents.reopen(cv, by=advisor)
    documents.waive(cv, "Not needed", by=advisor)
    documents.reopen(cv, by=advisor)
    assert (cv.state, cv.reason) == (DocumentState.MISSING, "")

    passport = line_of(case, "passport")
    receive(passport, advisor)
    documents.reject(passport, "Corner cut off", by=advisor)
    documents.reopen(passport, by=advisor)
    db.session.commit()
    assert (passport.state, passport.reason) == (DocumentState.RECEIVED, "")
    assert [event.changes for event in events("document.reopen")] == [{"document": "cv"}, {"document": "passport"}]


def test_request_marks_missing_lines_requested_with_a_due_date(make_case, advisor):
    case = make_case(advisor)
    photo, passport, cv, form = (line_of(case, code) for code in ("photo", "passport", "cv", "application_form"))
    receive(passport, advisor)
    documents.waive(form, "Filled in on site", by=advisor)
    receive(cv, advisor, hostile.pdf(text="An old CV"))
    documents.reject(cv, "Out of date", by=advisor)
    due = dt.date.today() + dt.timedelta(days=10)
    asked = documents.request([photo, passport, cv, form], by=advisor, due_on=due)
    db.session.commit()
    assert asked == [photo, cv]
    assert (photo.state, photo.request_due_on) == (DocumentState.REQUESTED, due) and photo.requested_at
    assert (cv.state, cv.request_due_on) == (DocumentState.REJECTED, due)  # stays rejected, now with a due date
    assert passport.state == DocumentState.RECEIVED and passport.request_due_on is None
    assert form.state == DocumentState.WAIVED and form.requested_at is None
    [requested] = events("documents.request")
    assert requested.case_id == case.id and requested.actor_id == advisor.id
    assert requested.changes == {"documents": ["photo", "cv"], "due_on": due.isoformat(), "link": None}
    # Asked again: still requested, the new due date wins.
    documents.request([photo], by=advisor, due_on=None)
    assert photo.state == DocumentState.REQUESTED and photo.request_due_on is None


def test_request_of_settled_lines_only_changes_nothing(make_case, advisor):
    case = make_case(advisor)
    form = line_of(case, "application_form")
    documents.waive(form, "Filled in on site", by=advisor)
    assert documents.request([form], by=advisor, due_on=None) == []
    db.session.commit()
    assert not events("documents.request")


def test_a_stale_version_is_a_conflict_and_changes_nothing(make_case, advisor):
    case = make_case(advisor)
    line = line_of(case, "passport")
    receive(line, advisor)
    seen = line.version
    documents.update_details(line, Details(number="X1234567"), by=advisor)  # someone else saves first
    db.session.commit()
    before = len(db.session.scalars(select(AuditEvent)).all())
    for operation in (
        lambda: documents.accept(line, by=advisor, version=seen),
        lambda: documents.reject(line, "Blurred", by=advisor, version=seen),
        lambda: documents.waive(line, "Not needed", by=advisor, version=seen),
        lambda: documents.reopen(line, by=advisor, version=seen),  # the version is checked before the state
        lambda: documents.update_details(line, Details(number="Y7654321"), by=advisor, version=seen),
    ):
        with pytest.raises(Conflict, match="Someone else changed this document"):
            operation()
    db.session.commit()
    assert (line.state, line.number, line.version) == (DocumentState.RECEIVED, "X1234567", seen + 1)
    assert len(db.session.scalars(select(AuditEvent)).all()) == before


def test_details_are_recorded_and_audited(make_case, advisor):
    case = make_case(advisor)
    line = line_of(case, "residence_proof")
    with pytest.raises(DomainError, match="expiry date cannot be before the issue date"):
        documents.update_details(line, Details(issued_on=dt.date(2025, 5, 1), expires_on=dt.date(2025, 4, 1)),
                                 by=advisor)
    documents.update_details(line, Details(number="  BRP 123  ", issued_on=dt.date(2024, 1, 2),
                                           expires_on=dt.date(2029, 1, 1), language=" ", translation_attached=True),
                             by=advisor)
    db.session.commit()
    assert (line.number, line.language, line.translation_attached) == ("BRP 123", None, True)
    [recorded] = events("document.details")
    assert recorded.changes["document"] == "residence_proof"
    assert recorded.changes["expires_on"] == [None, "2029-01-01"]


# 4. Automatic checks, and the readiness problems they raise ---------------------------------------------------

def test_passport_check_falls_back_to_the_applicants_passport(make_case, advisor):
    case = make_case(advisor)  # passport valid until 2032
    passport = line_of(case, "passport")
    [check] = documents.checks(passport, case)
    assert check.ok is True and "2032-02-28" in check.message

    case.applicant.passport_expires_on = add_months(case.planned_submission_on, 3)
    [check] = documents.checks(passport, case)
    assert check.ok is False and check.problem_code == "passport_expiring"
    assert f"at least 6 months after the planned submission on {case.planned_submission_on}" in check.message

    passport.expires_on = add_months(case.planned_submission_on, 6)  # the line's own date wins, and suffices
    [check] = documents.checks(passport, case)
    assert check.ok is True


def test_photo_must_be_taken_within_six_months_of_submission(make_case, advisor):
    case = make_case(advisor)
    photo = line_of(case, "photo")
    for months_before, ok in ((7, False), (6, True), (1, True)):
        photo.issued_on = add_months(case.planned_submission_on, -months_before)
        [check] = documents.checks(photo, case)
        assert check.ok is ok, months_before
    photo.issued_on = add_months(case.planned_submission_on, -6) - dt.timedelta(days=1)
    [check] = documents.checks(photo, case)
    assert check.ok is False and check.problem_code == "photo_too_old"
    assert "more than 6 months before the planned submission" in check.message


def test_residence_permit_must_be_valid_on_the_submission_date(make_case, advisor):
    case = make_case(advisor)
    proof = line_of(case, "residence_proof")
    for days_after_submission, ok in ((-1, False), (0, True), (90, True)):
        proof.expires_on = case.planned_submission_on + dt.timedelta(days=days_after_submission)
        [check] = documents.checks(proof, case)
        assert check.ok is ok, days_after_submission
        assert check.problem_code == "residence_permit_expired" or ok


def test_missing_dates_mean_the_check_cannot_be_made(make_case, advisor):
    case = make_case(advisor)
    for code, message in (("photo", "Record the date it was taken"), ("residence_proof", "Record the expiry date")):
        [check] = documents.checks(line_of(case, code), case)
        assert check.ok is None and check.problem_code == "document_details_missing" and message in check.message
    assert documents.checks(line_of(case, "cv"), case) == []  # no rule, nothing to check
    case.planned_submission_on = None
    for code in ("passport", "photo", "residence_proof"):
        [check] = documents.checks(line_of(case, code), case)
        assert check.ok is None and "Set the planned submission date" in check.message


def _problems(case: Case, code: str) -> list[readiness.Problem]:
    return [problem for problem in readiness.problems(case) if problem.code == code]


def test_readiness_reports_failing_and_unknown_checks_of_received_lines(make_case, advisor):
    case = make_case(advisor)
    photo, proof = line_of(case, "photo"), line_of(case, "residence_proof")
    receive(photo, advisor, hostile.jpeg())
    receive(proof, advisor, hostile.pdf(text="Residence permit"))
    photo.issued_on = add_months(case.planned_submission_on, -8)
    db.session.commit()
    assert [(p.code, p.endpoint, p.args) for p in readiness.rule_problems(case)] == [
        ("photo_too_old", "documents.detail", {"case_id": case.id, "document_id": photo.id}),
        ("document_details_missing", "documents.detail", {"case_id": case.id, "document_id": proof.id}),
    ]
    proof.expires_on = case.planned_submission_on - dt.timedelta(days=1)
    [expired] = _problems(case, "residence_permit_expired")
    assert expired.message.startswith("Proof of legal residence: Expires on")
    assert expired.args == {"case_id": case.id, "document_id": proof.id}


def test_readiness_reports_a_short_passport_once(make_case, advisor):
    case = make_case(advisor)
    passport = line_of(case, "passport")
    receive(passport, advisor)
    case.applicant.passport_expires_on = add_months(case.planned_submission_on, 2)
    db.session.commit()
    [short] = _problems(case, "passport_expiring")
    assert short.endpoint == "applicants.edit"


def test_readiness_ignores_checks_of_lines_without_a_document(make_case, advisor):
    case = make_case(advisor)
    line_of(case, "photo").issued_on = add_months(case.planned_submission_on, -9)  # missing: nothing to check
    documents.waive(line_of(case, "residence_proof"), "Not needed at this mission", by=advisor)
    assert readiness.rule_problems(case) == []
    case.planned_submission_on = None
    receive(line_of(case, "photo"), advisor, hostile.jpeg())
    assert readiness.rule_problems(case) == []  # "no_submission_date" says it once instead
    assert _problems(case, "no_submission_date")


def test_readiness_ignores_checks_of_lines_only_requested(make_case, advisor):
    """A requested line has no document yet: "document_missing" says so, a check of its dates cannot apply
    (rule_problems' docstring: "on required lines that have a document")."""
    case = make_case(advisor)
    documents.request([line_of(case, "photo"), line_of(case, "residence_proof")], by=advisor,
                      due_on=dt.date.today() + dt.timedelta(days=7))
    db.session.commit()
    assert readiness.rule_problems(case) == []


def test_readiness_lists_missing_unreviewed_and_rejected_documents(make_case, advisor):
    case = make_case(advisor)
    missing = readiness.document_problems(case)
    assert [problem.code for problem in missing] == ["document_missing"] * 5
    assert {problem.args["document_id"] for problem in missing} == {
        line_of(case, code).id for code in ("passport", "photo", "application_form", "degree_certificate",
                                            "residence_proof")}
    assert all(problem.endpoint == "documents.detail" for problem in missing)
    assert missing[0].message == "Passport data page: not received yet."

    passport, photo = line_of(case, "passport"), line_of(case, "photo")
    receive(passport, advisor)
    receive(photo, advisor, hostile.jpeg())
    documents.reject(photo, "Blurred", by=advisor)
    documents.waive(line_of(case, "application_form"), "On site", by=advisor)
    documents.waive(line_of(case, "degree_certificate"), "Seen the original", by=advisor)
    documents.waive(line_of(case, "residence_proof"), "Seen the original", by=advisor)
    db.session.commit()
    found = {(p.code, p.args["document_id"]): p for p in readiness.document_problems(case)}
    assert set(found) == {("document_unreviewed", passport.id), ("document_rejected", photo.id)}
    assert found["document_unreviewed", passport.id].message == \
        "Passport data page: received, waiting for your review."
    assert found["document_rejected", photo.id].endpoint == "documents.detail"

    documents.accept(passport, by=advisor)
    documents.waive(photo, "Taken at the consulate", by=advisor)
    assert readiness.document_problems(case) == []


def test_readiness_says_a_case_without_lines_has_no_checklist(make_case, advisor):
    case = make_case(advisor)
    db.session.execute(delete(CaseDocument).where(CaseDocument.case_id == case.id))
    db.session.commit()
    [problem] = _problems(case, "no_checklist")
    assert (problem.endpoint, problem.args) == ("documents.index", {"case_id": case.id})
    assert not _problems(case, "document_missing")


# Previews --------------------------------------------------------------------------------------------------

def _blue_pixels(png: bytes) -> int:
    with Image.open(io.BytesIO(png)) as image:
        rgb = image.convert("RGB").tobytes()
    return sum(1 for i in range(0, len(rgb), 3) if rgb[i + 2] > 150 and rgb[i] < 100)


@pytest.mark.parametrize(("kind", "shown"), [("stamp", True), ("print-only", True), ("screen-only", False),
                                             ("hidden", False)])
def test_a_pdfs_preview_shows_the_annotations_its_packet_pages_print(kind, shown):
    # pdfium draws an annotation meant for the screen only; the packet leaves it out, so the preview does too.
    data = hostile.annotated_pdf(kind)
    [prepared] = documents.prepare([Incoming("marked.pdf", data)], limits=LIMITS)
    assert (_blue_pixels(prepared.thumbnail) > 1000) == shown
    assert prepared.data == data


def test_a_forms_preview_shows_the_values_its_viewer_was_left_to_draw():
    [prepared] = documents.prepare([Incoming("form.pdf", hostile.form_pdf(need_appearances=True))], limits=LIMITS)
    with Image.open(io.BytesIO(prepared.thumbnail)) as image:
        scale = image.height / hostile.A4[1]
        x0, y0, x1, y1 = (round(v * scale) for v in hostile.ANNOTATION_RECT)
        field = image.convert("L").crop((x0, image.height - y1, x1, image.height - y0))
    assert field.getextrema()[0] < 128  # the value's letters


# Storage check (flask storage-check) ----------------------------------------------------------------------

def test_storage_check_is_clean_after_uploads(runner, make_case, advisor):
    case = make_case(advisor)
    receive(line_of(case, "passport"), advisor)
    result = runner.invoke(args=["storage-check"])
    assert result.exit_code == 0, result.output
    assert "3 files stored, 3 named by the database" in result.output
    assert "0 orphans, 0 missing." in result.output


def test_storage_check_lists_orphans_and_deletes_them_on_request(runner, make_case, advisor):
    case = make_case(advisor)
    receive(line_of(case, "passport"), advisor)
    store = filestore.current()
    orphan = "uploads/2026/01/" + "0" * 32
    store.put(orphan, b"left by a crash between a write and its commit")

    listed = runner.invoke(args=["storage-check"])
    assert listed.exit_code == 0, listed.output
    assert f"orphan  {orphan}" in listed.output and "1 orphans, 0 missing." in listed.output
    assert store.exists(orphan)

    deleted = runner.invoke(args=["storage-check", "--delete-orphans"])
    assert deleted.exit_code == 0 and "Deleted 1 orphan files." in deleted.output
    assert not store.exists(orphan)
    [stored] = db.session.scalars(select(DocumentFile)).all()
    assert all(store.exists(key) for key in stored.keys())
    assert "0 orphans, 0 missing." in runner.invoke(args=["storage-check"]).output


def test_storage_check_reports_a_lost_file_and_fails(runner, make_case, advisor):
    case = make_case(advisor)
    receive(line_of(case, "passport"), advisor)
    [stored] = db.session.scalars(select(DocumentFile)).all()
    filestore.current().delete(stored.pages_key)
    result = runner.invoke(args=["storage-check", "--delete-orphans"])
    assert result.exit_code == 1
    assert f"missing {stored.storage_key}" not in result.output
    assert f"missing {stored.pages_key}" in result.output and "0 orphans, 1 missing." in result.output
    assert filestore.current().exists(stored.storage_key)  # a missing file is reported, nothing else removed


# 10. Dashboard: uploads to review and overdue requests ------------------------------------------------------

def test_dashboard_counts_uploads_waiting_for_review_of_the_users_cases(make_case, advisor, other_advisor, admin):
    mine, theirs = make_case(advisor), make_case(other_advisor)
    receive(line_of(mine, "passport"), advisor)
    receive(line_of(theirs, "photo"), other_advisor, hostile.jpeg())
    documents.waive(line_of(mine, "photo"), "On site", by=advisor)  # settled lines are not waiting
    db.session.commit()
    board = dashboard_for(advisor)
    assert board.reviews.count == 1 and [line.id for line in board.reviews.rows] == [line_of(mine, "passport").id]
    assert {line.id for line in dashboard_for(other_advisor).reviews.rows} == {line_of(theirs, "photo").id}
    assert dashboard_for(admin).reviews.count == 2

    documents.accept(line_of(mine, "passport"), by=advisor)
    db.session.commit()
    assert dashboard_for(advisor).reviews.count == 0


def test_dashboard_counts_requests_past_their_due_date(make_case, advisor, other_advisor, admin):
    case, theirs = make_case(advisor), make_case(other_advisor)
    today = utcnow().date()
    late, on_time, due_today = line_of(case, "photo"), line_of(case, "passport"), line_of(case, "cv")
    documents.request([late], by=advisor, due_on=today - dt.timedelta(days=1))
    documents.request([on_time], by=advisor, due_on=today + dt.timedelta(days=3))
    documents.request([due_today], by=advisor, due_on=today)
    documents.request([line_of(theirs, "photo")], by=other_advisor, due_on=today - dt.timedelta(days=5))
    db.session.commit()
    board = dashboard_for(advisor)
    assert board.overdue.count == 1 and [line.id for line in board.overdue.rows] == [late.id]
    assert dashboard_for(admin).overdue.count == 2

    receive(late, advisor, hostile.jpeg())  # received: no longer overdue, now waiting for review
    board = dashboard_for(advisor)
    assert board.overdue.count == 0 and board.reviews.count == 1


def test_an_upload_racing_another_change_of_the_line_is_a_conflict_and_stores_nothing(make_case, advisor):
    """Someone else's save lands between loading the line and writing the new version: the version column
    catches it, the upload is refused as a conflict, and the files it wrote go away with the rollback."""
    case = make_case(advisor)
    line = line_of(case, "passport")
    keys_before = set(filestore.current().keys())
    db.session.execute(update(CaseDocument).where(CaseDocument.id == line.id)
                       .values(version=CaseDocument.version + 1)
                       .execution_options(synchronize_session=False))  # the other save, behind the ORM's back
    with pytest.raises(Conflict, match="changed while your files were being checked"):
        documents.upload(line, [Incoming("scan.pdf", hostile.pdf())], limits=LIMITS, by=advisor)
    db.session.rollback()
    assert set(filestore.current().keys()) == keys_before
    assert db.session.scalars(select(DocumentFile)).all() == []


def test_document_numbers_are_masked_in_the_audit_log(make_case, advisor):
    case = make_case(advisor)
    line = line_of(case, "passport")
    documents.update_details(line, Details(number="PA4815162"), by=advisor)
    db.session.commit()
    [event] = events("document.details")
    assert event.changes["number"] == [None, "••••••162"]
    assert "PA4815162" not in str(event.changes)
