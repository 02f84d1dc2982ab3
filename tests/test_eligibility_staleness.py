"""Eligibility that follows its evidence: every change an assessment rests on (a degree deleted, its field made
non-STEM, another date of birth, the institution verified or judged otherwise, the planned date moved past a
birthday) makes it out of date on the case page, in readiness (with a link to re-run), on the dashboard, in
the workflow's guards and for a final packet; re-running clears it. Assessments are made for the day the
application is made, and the whole app counts days in UTC through `advisor.dates.today`."""
from __future__ import annotations

import ast
import dataclasses
import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup

from advisor import applicants, assessments, cases, dates, institutions, packets, readiness, records, workflow
from advisor.dashboard import dashboard_for
from models import Case, CaseStatus, DegreeLevel, Education, Institution, User, db

from .conftest import settle_documents

ROOT = Path(__file__).resolve().parent.parent
S = CaseStatus


@pytest.fixture
def app_config(rules_folder):
    return {"RULES_FOLDER": str(rules_folder)}


def save_institution(admin: User, name: str, *, renowned: bool | None, institution: Institution | None = None,
                     rank: int | None = None) -> Institution:
    return institutions.save(institution, institutions.InstitutionData(
        name=name, country="CH", aliases=[], rank=rank, renowned=renowned, source="Practice list"), by=admin)


@pytest.fixture
def eth(app, admin):
    institution = save_institution(admin, "ETH Zurich", renowned=True)
    db.session.commit()
    return institution


def give_degree(case: Case, institution: Institution, by: User) -> Education:
    return records.add_education(case.applicant, records.EducationData(
        level=DegreeLevel.MASTER, field_code="0533", institution=institution, awarded_on=dt.date(2015, 6, 30),
        pending=False), by=by)


def education_data(education: Education, **changes: Any) -> records.EducationData:
    return dataclasses.replace(records.EducationData(
        level=education.level, field_code=education.field_code, institution=education.institution,
        awarded_on=education.awarded_on, pending=education.pending), **changes)


def applicant_data(case: Case, **changes: Any) -> applicants.ApplicantData:
    applicant = case.applicant
    values = {f.name: getattr(applicant, f.name) for f in dataclasses.fields(applicants.ApplicantData)}
    return applicants.ApplicantData(**{**values, **changes})


def case_data(case: Case, **changes: Any) -> cases.CaseData:
    return dataclasses.replace(cases.CaseData(case.consulate_code, case.planned_submission_on,
                                              case.intended_entry_on, case.notes, case.pathway), **changes)


def birthday_between(first: dt.date, second: dt.date, age: int) -> dt.date:
    """A date of birth that makes someone `age` on `first` and `age + 1` on `second`."""
    return dates.add_months(first + (second - first) / 2, -12 * (age + 1))


def codes(case: Case, **options: Any) -> list[str]:
    return [problem.code for problem in readiness.problems(case, **options)]


def text(response: Any) -> str:
    return " ".join(BeautifulSoup(response.data, "html.parser").get_text(" ", strip=True).split())


def flag_of(case: Case) -> bool:
    db.session.expire_all()
    return db.session.get(Case, case.id).assessment_out_of_date


# The changes ------------------------------------------------------------------------------------------
# Each takes the case (eligible, nothing else blocking), its advisor and the admin, and changes what the
# assessment rests on through the operation the app itself uses.

def delete_the_degree(case: Case, advisor: User, admin: User) -> None:
    records.delete_education(records.education_of(case.applicant)[0], by=advisor)


def make_the_field_non_stem(case: Case, advisor: User, admin: User) -> None:
    education = records.education_of(case.applicant)[0]
    records.update_education(education, education_data(education, field_code="0311"),  # economics
                             version=education.version, by=advisor)


def change_the_date_of_birth(case: Case, advisor: User, admin: User) -> None:
    applicants.update_applicant(case.applicant, applicant_data(case, born_on=case.applicant.born_on
                                                               - dt.timedelta(days=400)),
                                version=case.applicant.version, by=advisor)


def judge_the_institution_otherwise(case: Case, advisor: User, admin: User) -> None:
    institution = records.education_of(case.applicant)[0].institution
    save_institution(admin, institution.name, renowned=False, institution=institution)


def verify_the_institution(case: Case, advisor: User, admin: User) -> None:
    institution = records.education_of(case.applicant)[0].institution
    assert institution.verified is False
    save_institution(admin, institution.name, renowned=True, institution=institution)


def move_the_planned_date_past_a_birthday(case: Case, advisor: User, admin: User) -> None:
    later = case.planned_submission_on + dt.timedelta(days=60)
    cases.update_case(case, case_data(case, planned_submission_on=later), version=case.version, by=advisor)


CHANGES = [delete_the_degree, make_the_field_non_stem, change_the_date_of_birth, judge_the_institution_otherwise,
           verify_the_institution, move_the_planned_date_past_a_birthday]


@pytest.fixture
def make_eligible_case(make_case, advisor, admin, eth):
    """An eligible case with nothing blocking it, set up so that `change` has something to change: for
    `verify_the_institution` the degree is at an unverified institution the advisor judged renowned; for the
    planned date, the applicant turns 46 (beyond the window) between the planned date and 60 days later."""
    def make(change: Callable[..., None], status: CaseStatus = S.COLLECTING) -> Case:
        overrides = {}
        if change is move_the_planned_date_past_a_birthday:
            planned = dates.today() + dt.timedelta(days=30)
            overrides["born_on"] = birthday_between(planned, planned + dt.timedelta(days=60), 45)
        case = make_case(advisor, **overrides)
        institution = eth
        if change is verify_the_institution:
            institution = institutions.add_unverified("Unheard-of Institute of Technology", "DE", by=advisor)
        give_degree(case, institution, advisor)
        assessment = assessments.run(case, by=advisor)
        for criterion in assessments.open_judgements(assessment):
            assessments.judge(assessment, criterion.code, "pass", "Top-50 in physics per the 2026 subject ranking",
                              by=advisor)
        settle_documents(case, advisor)
        case.status = status
        db.session.commit()
        assert assessments.final_outcome(assessments.latest(case)) == "eligible"
        assert codes(case, packets=False) == [] and flag_of(case) is False
        return case

    return make


@pytest.mark.parametrize("change", CHANGES, ids=lambda change: change.__name__)
def test_a_change_of_the_evidence_makes_the_assessment_out_of_date_everywhere(
        change, client, auth, advisor, admin, make_eligible_case):
    case = make_eligible_case(change)
    change(case, advisor, admin)
    db.session.commit()

    # The operation itself: the assessment no longer holds, and says why.
    latest = assessments.latest(case)
    assert assessments.out_of_date(latest) is not None
    # Readiness: a blocking problem that leads to the assessment, where it is re-run.
    problem = next(p for p in readiness.problems(case) if p.code == "assessment_out_of_date")
    assert (problem.endpoint, problem.args) == ("eligibility.case", {"case_id": case.id})
    assert "out of date" in problem.message and "Re-run the assessment" in problem.message

    auth.login(advisor.email)
    detail = client.get(f"/cases/{case.id}")
    assert detail.status_code == 200 and detail.content_type.startswith("text/html")
    soup = BeautifulSoup(detail.data, "html.parser")
    assert soup.select_one("[data-out-of-date]") is not None
    link = soup.select_one(".problems li[data-code=assessment_out_of_date] a")
    assert link["href"].endswith(f"/cases/{case.id}/eligibility")
    eligibility = client.get(link["href"])
    assert eligibility.status_code == 200 and "This assessment is out of date" in text(eligibility)
    assert BeautifulSoup(eligibility.data, "html.parser").select("form.judge-form") == []

    # The dashboard: the case is listed with the superseded ones, with a way to re-assess.
    assert flag_of(case) is True
    board = dashboard_for(db.session.get(User, advisor.id))
    assert case.reference in {row.reference for row in board.superseded.rows}
    home = BeautifulSoup(client.get("/").data, "html.parser")
    row = next(tr for tr in home.select("#superseded tbody tr") if case.reference in tr.get_text())
    assert "The records have changed" in row.get_text(" ", strip=True)
    assert row.select_one(f'a[href$="/cases/{case.id}/eligibility"]') is not None

    # The workflow and the packet refuse.
    with pytest.raises(workflow.Blocked) as blocked:
        workflow.move(case, S.READY, by=advisor)
    assert "assessment_out_of_date" in [p.code for p in blocked.value.problems]
    db.session.rollback()
    with pytest.raises(packets.NotReady) as refused:
        packets.build_final(case)
    assert "out of date" in str(refused.value)

    # Re-running clears it everywhere.
    db.session.rollback()
    assert client.post(f"/cases/{case.id}/eligibility/run").status_code == 302
    db.session.expire_all()
    case = db.session.get(Case, case.id)
    assert assessments.out_of_date(assessments.latest(case)) is None
    assert "assessment_out_of_date" not in codes(case) and flag_of(case) is False
    assert case.reference not in {row.reference for row in dashboard_for(db.session.get(User, advisor.id))
                                  .superseded.rows}


@pytest.mark.parametrize("change", [delete_the_degree, change_the_date_of_birth],
                         ids=lambda change: change.__name__)
def test_a_ready_case_out_of_date_cannot_be_submitted(change, advisor, admin, make_eligible_case):
    case = make_eligible_case(change, status=S.READY)
    change(case, advisor, admin)
    db.session.commit()
    with pytest.raises(workflow.Blocked) as blocked:
        workflow.move(case, S.SUBMITTED, by=advisor)
    assert "assessment_out_of_date" in [p.code for p in blocked.value.problems]
    db.session.rollback()
    db.session.expire_all()
    assert db.session.get(Case, case.id).status == S.READY


def test_undoing_the_change_makes_the_assessment_current_again(advisor, admin, make_eligible_case):
    case = make_eligible_case(make_the_field_non_stem)
    make_the_field_non_stem(case, advisor, admin)
    db.session.commit()
    assert flag_of(case) is True
    education = records.education_of(case.applicant)[0]
    records.update_education(education, education_data(education, field_code="0533"), version=education.version,
                             by=advisor)
    db.session.commit()
    assert flag_of(case) is False and assessments.out_of_date(assessments.latest(case)) is None


def test_changes_that_leave_the_inputs_alone_keep_the_assessment(advisor, admin, make_eligible_case):
    case = make_eligible_case(move_the_planned_date_past_a_birthday)
    # Ten days later is still before the birthday; the applicant's phone is no input.
    cases.update_case(case, case_data(case, planned_submission_on=case.planned_submission_on + dt.timedelta(days=10)),
                      version=case.version, by=advisor)
    applicants.update_applicant(case.applicant, applicant_data(case, phone="+44 20 7946 0999"),
                                version=case.applicant.version, by=advisor)
    db.session.commit()
    assert assessments.out_of_date(assessments.latest(case)) is None
    assert codes(case, packets=False) == [] and flag_of(case) is False


def test_an_institution_change_flags_the_case_without_touching_its_version_or_update_time(
        advisor, admin, make_eligible_case):
    """The flag is no edit of the case: a case form opened before must still save, and the case is not
    'changed' for the idle section."""
    case = make_eligible_case(judge_the_institution_otherwise)
    version, updated_at = case.version, case.updated_at
    judge_the_institution_otherwise(case, advisor, admin)
    db.session.commit()
    db.session.expire_all()
    fresh = db.session.get(Case, case.id)
    assert fresh.assessment_out_of_date is True
    assert (fresh.version, fresh.updated_at) == (version, updated_at)
    cases.update_case(fresh, case_data(fresh, notes="Called the applicant"), version=version, by=advisor)
    db.session.commit()


def test_an_institution_import_flags_the_cases_resting_on_it(advisor, admin, make_eligible_case):
    case = make_eligible_case(judge_the_institution_otherwise)
    report = institutions.import_csv("name,country,aliases,rank,renowned,source\n"
                                     "ETH Zurich,CH,,,no,Practice list 2027\n", by=admin)
    db.session.commit()
    assert report.updated == 1 and flag_of(case) is True


def test_the_dashboard_lists_an_out_of_date_case_once_with_the_rows_and_count(client, auth, advisor, admin,
                                                                            make_eligible_case):
    cases_ = [make_eligible_case(delete_the_degree) for _ in range(3)]
    for case in cases_[:2]:
        delete_the_degree(case, advisor, admin)
    db.session.commit()
    board = dashboard_for(db.session.get(User, advisor.id))
    assert board.superseded.count == 2
    assert {row.reference for row in board.superseded.rows} == {c.reference for c in cases_[:2]}
    auth.login(advisor.email)
    home = BeautifulSoup(client.get("/").data, "html.parser")
    assert home.select_one("#superseded")["data-count"] == "2"
    assert "Assessments out of date" in home.select_one("#superseded-title").get_text()


# The day the application is made -------------------------------------------------------------------------

def test_an_assessment_is_made_for_a_later_planned_date_and_says_so(client, auth, advisor, make_case, eth):
    planned = dates.today() + dt.timedelta(days=30)
    # 45 today, 46 on the planned date: the window applies on the day the application is made.
    case = make_case(advisor, born_on=birthday_between(dates.today(), planned, 45))
    give_degree(case, eth, advisor)
    assessment = assessments.run(case, by=advisor)
    db.session.commit()
    assert assessment.assessed_on == planned
    age = next(c for c in assessments.criteria_of(assessment) if c.code == "age")
    assert age.result == "fail" and f"Aged 46 on {planned.isoformat()}" in age.reason
    auth.login(advisor.email)
    page = text(client.get(f"/cases/{case.id}/eligibility"))
    assert f"for an application on {planned.isoformat()} (the planned submission date)" in page


@pytest.mark.parametrize("planned", [None, -3], ids=["no planned date", "planned date passed"])
def test_without_a_later_planned_date_the_assessment_is_made_for_today(planned, advisor, make_case, eth):
    case = make_case(advisor)
    case.planned_submission_on = None if planned is None else dates.today() + dt.timedelta(days=planned)
    give_degree(case, eth, advisor)
    assert assessments.run(case, by=advisor).assessed_on == dates.today()
    assert assessments.application_date(case) == dates.today()


# One today ---------------------------------------------------------------------------------------------------

def test_today_is_the_utc_date():
    assert dates.today() == dt.datetime.now(dt.UTC).date()


def test_readiness_counts_from_the_apps_today(monkeypatch, advisor, make_case, eth):
    """Readiness used the server's local date while the rest of the app used UTC; freezing the one today
    moves readiness with it."""
    case = make_case(advisor)
    give_degree(case, eth, advisor)
    assessments.run(case, by=advisor)
    settle_documents(case, advisor)
    assert "submission_date_passed" not in codes(case)
    monkeypatch.setattr(dates, "today", lambda: case.planned_submission_on + dt.timedelta(days=1))
    assert "submission_date_passed" in codes(case)


def test_nothing_in_the_app_reads_the_local_date():
    """`date.today()` (and `datetime.now()` without a zone) give the server's local date."""
    offenders = []
    for folder in ("advisor", "views", "models"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                    continue
                name = node.func.attr
                if name == "today" and ast.unparse(node.func.value).endswith("date"):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
                if name == "now" and not node.args and not node.keywords:
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []

