"""The case workflow and its readiness check: every transition guard over every pair of statuses, the
readiness problem for each kind of defect (each alone, with a link that really fixes it), and the status
form, readiness list and timeline on the case page."""
from __future__ import annotations

import calendar
import datetime as dt
import itertools
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from flask import url_for
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from advisor import assessments, institutions, packets, readiness, records, workflow
from advisor.errors import DomainError
from models import AuditEvent, Case, CaseStatus, CaseTransition, DegreeLevel, db, utcnow

from .conftest import settle_documents

S = CaseStatus
RULES = Path(__file__).resolve().parent.parent / "rules"

# The workflow as the design describes it, written out rather than read back from `workflow.ALLOWED`.
DESIGNED = {
    (S.INTAKE, S.COLLECTING), (S.INTAKE, S.WITHDRAWN),
    (S.COLLECTING, S.READY), (S.COLLECTING, S.INTAKE), (S.COLLECTING, S.WITHDRAWN),
    (S.READY, S.SUBMITTED), (S.READY, S.COLLECTING), (S.READY, S.WITHDRAWN),
    (S.SUBMITTED, S.APPROVED), (S.SUBMITTED, S.REFUSED), (S.SUBMITTED, S.WITHDRAWN),
}
PAIRS = list(itertools.product(S, S))
ALLOWED_PAIRS = [pair for pair in PAIRS if pair in DESIGNED]
REFUSED_PAIRS = [pair for pair in PAIRS if pair not in DESIGNED]
CLOSED = [S.APPROVED, S.REFUSED, S.WITHDRAWN]
NOTE = "Consulate letter of 2 March"


def pair_id(pair: tuple[CaseStatus, CaseStatus]) -> str:
    return f"{pair[0].value}->{pair[1].value}"


# Fixtures and helpers ---------------------------------------------------------------------------------

@pytest.fixture
def make_case(make_case):
    """Cases whose documents are settled: the problems these tests look at are the others
    (tests/test_documents.py covers the document problems)."""
    def make(*args, **kwargs):
        case = make_case(*args, **kwargs)
        settle_documents(case, case.advisor)
        return case

    return make


@pytest.fixture
def app_config(rules_folder):
    return {"RULES_FOLDER": str(rules_folder)}


def save_institution(admin, name, *, renowned):
    return institutions.save(None, institutions.InstitutionData(
        name=name, country="CH", aliases=[], rank=None, renowned=renowned, source="Practice list"), by=admin)


@pytest.fixture
def eth(app, admin):
    institution = save_institution(admin, "ETH Zurich", renowned=True)
    db.session.commit()
    return institution


@pytest.fixture
def unjudged(app, admin):
    """A verified institution the registry has no renowned judgement on: the advisor must decide."""
    institution = save_institution(admin, "Institut Obscur", renowned=None)
    db.session.commit()
    return institution


def give_degree(case, institution, by, *, level=DegreeLevel.MASTER, field_code="0533"):
    records.add_education(case.applicant, records.EducationData(
        level=level, field_code=field_code, institution=institution, awarded_on=dt.date(2015, 6, 30),
        pending=False), by=by)


@pytest.fixture
def make_ready_case(make_case, advisor, eth):
    """A case with nothing blocking it: an eligible assessment under the rules in force, a planned
    submission date and a passport valid long after it."""
    def make(status=S.INTAKE, *, owner=None, final_packet=False):
        case = make_case(owner or advisor, status=status)
        give_degree(case, eth, owner or advisor)
        assessments.run(case, by=owner or advisor)
        settle_documents(case, owner or advisor)
        if final_packet:  # what submitting needs
            packets.export_final(case, by=owner or advisor)
            db.session.commit()
        assert readiness.problems(case) == []
        return case

    return make


def second_version(rules_folder):
    """A later rule-set version, in force since 1 June 2026, otherwise the same rules."""
    text = (rules_folder / "k-2025-10.toml").read_text()
    text = text.replace('id = "k-2025-10"', 'id = "k-2026-06"').replace(
        "effective_from = 2025-10-01", "effective_from = 2026-06-01")
    (rules_folder / "k-2026-06.toml").write_text(text)


def transitions_of(case):
    return list(db.session.scalars(select(CaseTransition).where(CaseTransition.case_id == case.id)))


def transition_events(case):
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == "case.transition",
                                                            AuditEvent.case_id == case.id)))


def assert_unchanged(case, status, version):
    """Nothing was written: the refused move left no status change, no history row and no audit event."""
    db.session.commit()  # even a caller that commits after the error writes nothing
    db.session.expire_all()
    fresh = db.session.get(Case, case.id)
    assert (fresh.status, fresh.version) == (status, version)
    assert transitions_of(fresh) == [] and transition_events(fresh) == []


def codes(case):
    return [p.code for p in readiness.problems(case)]


def only_problem(case):
    found = readiness.problems(case)
    assert len(found) == 1, [p.code for p in found]
    return found[0]


def assert_fix_links_answer(app, client, auth, owner, problems):
    """Every problem's endpoint and arguments build a real URL, and the owner can open it."""
    assert problems
    auth.login(owner.email)
    with app.test_request_context():
        hrefs = [url_for(p.endpoint, **p.args) for p in problems]
    for href in hrefs:
        assert client.get(href).status_code == 200, href


def soup(response):
    return BeautifulSoup(response.data, "html.parser")


def text(response):
    return soup(response).get_text(" ", strip=True)


def flashes(page):
    return [p.get_text(" ", strip=True) for p in page.select(".flashes .flash")]


# The workflow table -------------------------------------------------------------------------------------

def test_the_workflow_is_the_designed_one():
    assert {(a, b) for a in S for b in workflow.ALLOWED[a]} == DESIGNED
    assert set(workflow.ALLOWED) == set(S)
    for status in S:
        assert (S.WITHDRAWN in workflow.ALLOWED[status]) == status.is_open == (status not in CLOSED)
    assert set(workflow.GUARDED) == {S.READY, S.SUBMITTED}
    assert set(workflow.NOTE_REQUIRED) == {S.WITHDRAWN, S.APPROVED, S.REFUSED}


@pytest.mark.parametrize(("start", "target"), ALLOWED_PAIRS, ids=[pair_id(p) for p in ALLOWED_PAIRS])
def test_an_allowed_move_is_made_and_recorded(start, target, make_ready_case, advisor):
    case = make_ready_case(start, final_packet=target == S.SUBMITTED)
    before = utcnow()
    transition = workflow.move(case, target, by=advisor, note=f"  {NOTE}\n")
    db.session.commit()
    after = utcnow()

    db.session.expire_all()
    case = db.session.get(Case, case.id)
    assert case.status == target
    [row] = transitions_of(case)
    assert row.id == transition.id
    assert (row.from_status, row.to_status, row.by_id, row.note) == (start, target, advisor.id, NOTE)
    assert row.at.utcoffset() == dt.timedelta(0)
    assert before - dt.timedelta(seconds=1) <= row.at <= after + dt.timedelta(seconds=1)
    [event] = transition_events(case)
    assert (event.actor_id, event.object_type, event.object_id) == (advisor.id, "case", case.id)
    assert event.changes == {"status": [start.value, target.value], "note": NOTE}
    assert event.at.utcoffset() == dt.timedelta(0)
    assert workflow.timeline(case) == [row]


@pytest.mark.parametrize(("start", "target"), REFUSED_PAIRS, ids=[pair_id(p) for p in REFUSED_PAIRS])
def test_a_move_outside_the_workflow_is_refused_and_changes_nothing(start, target, make_ready_case, advisor):
    case = make_ready_case(start)  # every guard would pass: only the workflow itself refuses
    version = case.version
    with pytest.raises(DomainError, match=f"cannot go from {start.value} to {target.value}") as refused:
        workflow.move(case, target, by=advisor, note=NOTE)
    assert not isinstance(refused.value, workflow.Blocked)
    assert_unchanged(case, start, version)


@pytest.mark.parametrize("closed", CLOSED)
def test_a_closed_case_allows_nothing(closed, make_ready_case, advisor):
    case = make_ready_case(closed)
    version = case.version
    assert workflow.next_statuses(case) == ()
    for target in S:
        with pytest.raises(DomainError, match="cannot go from"):
            workflow.move(case, target, by=advisor, note=NOTE)
    assert_unchanged(case, closed, version)


NOTE_PAIRS = [pair for pair in ALLOWED_PAIRS if pair[1] in (S.WITHDRAWN, S.APPROVED, S.REFUSED)]


@pytest.mark.parametrize(("start", "target"), NOTE_PAIRS, ids=[pair_id(p) for p in NOTE_PAIRS])
@pytest.mark.parametrize("note", ["", "  \n\t "], ids=["empty", "blank"])
def test_a_decision_or_a_withdrawal_needs_a_note(start, target, note, make_ready_case, advisor):
    case = make_ready_case(start)
    version = case.version
    with pytest.raises(DomainError, match=f"Say why the case is {target.value}"):
        workflow.move(case, target, by=advisor, note=note)
    assert_unchanged(case, start, version)


QUIET_PAIRS = [pair for pair in ALLOWED_PAIRS if pair not in NOTE_PAIRS]


@pytest.mark.parametrize(("start", "target"), QUIET_PAIRS, ids=[pair_id(p) for p in QUIET_PAIRS])
def test_other_moves_need_no_note(start, target, make_ready_case, advisor):
    case = make_ready_case(start, final_packet=target == S.SUBMITTED)
    workflow.move(case, target, by=advisor)
    db.session.commit()
    assert case.status == target and transitions_of(case)[0].note == ""


GUARDED_PAIRS = [pair for pair in ALLOWED_PAIRS if pair[1] in (S.READY, S.SUBMITTED)]


@pytest.mark.parametrize(("start", "target"), GUARDED_PAIRS, ids=[pair_id(p) for p in GUARDED_PAIRS])
def test_ready_and_submitted_need_an_empty_readiness_list(start, target, make_case, advisor):
    case = make_case(advisor, status=start)  # never assessed
    case.planned_submission_on = None
    db.session.commit()
    version = case.version
    expected = readiness.problems(case)
    assert [p.code for p in expected] == ["no_assessment", "no_submission_date"]
    with pytest.raises(workflow.Blocked) as blocked:
        workflow.move(case, target, by=advisor, note=NOTE)
    assert blocked.value.problems == expected
    assert str(blocked.value).startswith(f"The case cannot be {target.value} yet:")
    assert all(p.message in str(blocked.value) for p in expected)
    assert_unchanged(case, start, version)


UNGUARDED_PAIRS = [pair for pair in ALLOWED_PAIRS if pair not in GUARDED_PAIRS]


@pytest.mark.parametrize(("start", "target"), UNGUARDED_PAIRS, ids=[pair_id(p) for p in UNGUARDED_PAIRS])
def test_other_moves_are_not_held_up_by_readiness_problems(start, target, make_case, advisor):
    case = make_case(advisor, status=start)
    case.planned_submission_on = None
    db.session.commit()
    assert readiness.problems(case)
    workflow.move(case, target, by=advisor, note=NOTE)
    db.session.commit()
    assert case.status == target and len(transitions_of(case)) == 1


def test_the_timeline_lists_every_move_newest_first(make_ready_case, advisor, admin):
    case = make_ready_case(final_packet=True)
    steps = [(S.COLLECTING, advisor), (S.READY, advisor), (S.SUBMITTED, admin), (S.APPROVED, admin)]
    for target, who in steps:
        workflow.move(case, target, by=who, note=f"to {target.value}")
        db.session.commit()
    timeline = workflow.timeline(case)
    assert [(t.from_status, t.to_status) for t in timeline] == [
        (S.SUBMITTED, S.APPROVED), (S.READY, S.SUBMITTED), (S.COLLECTING, S.READY), (S.INTAKE, S.COLLECTING)]
    assert [t.by_id for t in timeline] == [admin.id, admin.id, advisor.id, advisor.id]
    assert [t.at for t in timeline] == sorted((t.at for t in timeline), reverse=True)


# Readiness: each kind of defect alone ------------------------------------------------------------------

def test_a_fully_ready_case_has_no_problem(make_ready_case):
    assert readiness.problems(make_ready_case()) == []


def test_no_assessment(app, client, auth, make_case, advisor):
    case = make_case(advisor)
    problem = only_problem(case)
    assert problem.code == "no_assessment" and "not been assessed" in problem.message
    assert (problem.endpoint, problem.args) == ("eligibility.case", {"case_id": case.id})
    assert_fix_links_answer(app, client, auth, advisor, [problem])


def test_assessed_under_a_superseded_rule_set(app, client, auth, make_case, advisor, eth, rules_folder):
    case = make_case(advisor)
    give_degree(case, eth, advisor)
    assessments.run(case, by=advisor, on=dt.date(2026, 3, 1))
    db.session.commit()
    assert readiness.problems(case) == []
    second_version(rules_folder)
    assessments.load_into(app)

    problem = only_problem(case)
    assert problem.code == "superseded_rules"
    assert "k-2025-10" in problem.message and "k-2026-06" in problem.message
    assert problem.endpoint == "eligibility.case"
    assert_fix_links_answer(app, client, auth, advisor, [problem])
    assessments.run(case, by=advisor)  # re-running under the rules in force clears it
    assert readiness.problems(case) == []


@pytest.mark.parametrize("records_of", ["nothing", "below_minimum"])
def test_not_eligible(app, client, auth, make_case, advisor, eth, records_of):
    case = make_case(advisor)
    if records_of == "below_minimum":
        give_degree(case, eth, advisor, level=DegreeLevel.OTHER)
    assessments.run(case, by=advisor)
    db.session.commit()
    problem = only_problem(case)
    assert problem.code == "not_eligible" and "not eligible" in problem.message
    assert problem.endpoint == "eligibility.case"
    assert_fix_links_answer(app, client, auth, advisor, [problem])


def test_needs_review_counts_the_open_criteria(app, client, auth, make_case, advisor, unjudged):
    case = make_case(advisor)
    give_degree(case, unjudged, advisor, field_code="0311")  # economics, at an institution nobody judged
    assessment = assessments.run(case, by=advisor)
    db.session.commit()
    assert {c.code for c in assessments.open_judgements(assessment)} == {"stem_field", "renowned_institution"}
    problem = only_problem(case)
    assert problem.code == "needs_review" and problem.message.startswith("2 criteria need your judgement")
    assert problem.endpoint == "eligibility.case"
    assert_fix_links_answer(app, client, auth, advisor, [problem])

    assessments.judge(assessment, "stem_field", "pass", "Quantitative economics, mostly statistics", by=advisor)
    assert only_problem(case).message.startswith("1 criterion needs your judgement")
    assessments.judge(assessment, "renowned_institution", "pass", "Top-200 in economics", by=advisor)
    assert readiness.problems(case) == []


def test_a_criterion_judged_failed_makes_the_case_not_eligible(make_case, advisor, unjudged):
    case = make_case(advisor)
    give_degree(case, unjudged, advisor)
    assessment = assessments.run(case, by=advisor)
    assert only_problem(case).code == "needs_review"
    assessments.judge(assessment, "renowned_institution", "fail", "Not known in the field", by=advisor)
    assert codes(case) == ["not_eligible"]


def test_no_planned_submission_date(app, client, auth, make_ready_case, advisor):
    case = make_ready_case()
    case.planned_submission_on = None
    db.session.commit()
    problem = only_problem(case)
    assert problem.code == "no_submission_date"
    assert (problem.endpoint, problem.args) == ("cases.edit", {"case_id": case.id})
    assert_fix_links_answer(app, client, auth, advisor, [problem])


PASSPORTS = [
    # planned submission, passport expiry, blocked?
    (dt.date(2027, 3, 15), dt.date(2027, 9, 15), False),  # exactly six months after: fine
    (dt.date(2027, 3, 15), dt.date(2027, 9, 14), True),  # one day less
    (dt.date(2027, 3, 15), dt.date(2027, 3, 14), True),  # expired before the submission
    (dt.date(2027, 7, 15), dt.date(2028, 1, 15), False),  # across the year end
    (dt.date(2027, 7, 15), dt.date(2028, 1, 14), True),
    (dt.date(2027, 8, 31), dt.date(2028, 2, 29), False),  # 31 Aug + 6 months = 29 Feb in a leap year
    (dt.date(2027, 8, 31), dt.date(2028, 2, 28), True),
    (dt.date(2028, 8, 31), dt.date(2029, 2, 28), False),  # = 28 Feb in a common year
    (dt.date(2028, 8, 31), dt.date(2029, 2, 27), True),
    (dt.date(2027, 12, 31), dt.date(2028, 6, 30), False),  # 31 Dec + 6 months = 30 Jun
    (dt.date(2027, 12, 31), dt.date(2028, 6, 29), True),
    (dt.date(2027, 9, 30), dt.date(2028, 3, 30), False),  # 30 Sep + 6 months = 30 Mar, not 31 Mar
    (dt.date(2027, 9, 30), dt.date(2028, 3, 29), True),
]


@pytest.mark.parametrize(("submission_on", "expires_on", "blocked"), PASSPORTS,
                         ids=[f"{s}-{e}" for s, e, _ in PASSPORTS])
def test_passport_too_short(submission_on, expires_on, blocked):
    assert readiness.passport_too_short(expires_on, submission_on) is blocked


@pytest.mark.parametrize(("submission_on", "expires_on", "blocked"), [PASSPORTS[0], PASSPORTS[1], PASSPORTS[6]],
                         ids=["exactly-six-months", "one-day-less", "month-end"])
def test_passport_expiring_within_six_months(app, client, auth, make_ready_case, advisor, submission_on,
                                             expires_on, blocked):
    case = make_ready_case()
    case.planned_submission_on = submission_on
    case.applicant.passport_expires_on = expires_on
    db.session.commit()
    if not blocked:
        assert readiness.problems(case) == []
        return
    problem = only_problem(case)
    assert problem.code == "passport_expiring"
    assert problem.message == (f"The passport expires on {expires_on.isoformat()}, less than 6 months after "
                               f"the planned submission on {submission_on.isoformat()}.")
    assert (problem.endpoint, problem.args) == ("applicants.edit", {"applicant_id": case.applicant_id})
    assert_fix_links_answer(app, client, auth, advisor, [problem])


@pytest.mark.parametrize(("day", "months", "expected"), [
    (dt.date(2025, 8, 31), 6, dt.date(2026, 2, 28)),
    (dt.date(2027, 8, 31), 6, dt.date(2028, 2, 29)),
    (dt.date(2027, 8, 29), 6, dt.date(2028, 2, 29)),
    (dt.date(2027, 8, 30), 6, dt.date(2028, 2, 29)),
    (dt.date(2027, 3, 31), 6, dt.date(2027, 9, 30)),
    (dt.date(2027, 12, 31), 6, dt.date(2028, 6, 30)),
    (dt.date(2027, 7, 31), 6, dt.date(2028, 1, 31)),
    (dt.date(2027, 1, 15), 0, dt.date(2027, 1, 15)),
    (dt.date(2027, 1, 31), 1, dt.date(2027, 2, 28)),
    (dt.date(2027, 1, 15), 12, dt.date(2028, 1, 15)),
    (dt.date(2027, 1, 15), 25, dt.date(2029, 2, 15)),
    (dt.date(2027, 3, 31), -1, dt.date(2027, 2, 28)),
    (dt.date(2027, 1, 31), -2, dt.date(2026, 11, 30)),
])
def test_add_months(day, months, expected):
    assert readiness.add_months(day, months) == expected


@given(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2200, 12, 31)), st.integers(-120, 120))
def test_add_months_keeps_the_day_or_falls_back_to_the_months_last(day, months):
    result = readiness.add_months(day, months)
    assert (result.year * 12 + result.month) - (day.year * 12 + day.month) == months
    assert result.day == min(day.day, calendar.monthrange(result.year, result.month)[1])


# Through the web -----------------------------------------------------------------------------------

def offered(page):
    return [o["value"] for o in page.select("select[name=status] option")]


def test_moving_a_case_through_the_web(client, auth, make_ready_case, advisor):
    case = make_ready_case(final_packet=True)
    auth.login(advisor.email)
    page = soup(client.get(f"/cases/{case.id}"))
    assert page.select_one("h1 .badge.status-intake").get_text(strip=True) == "Intake"
    assert "Nothing blocks this case" in page.select_one(".ready-ok").get_text()
    assert page.select("ul.problems") == []
    assert offered(page) == ["collecting", "withdrawn"]
    assert "Workflow" not in page.get_text()

    for target, note in [("collecting", "Documents requested"), ("ready", ""), ("submitted", ""),
                         ("approved", "Visa issued on 3 May")]:
        response = client.post(f"/cases/{case.id}/status", data={"status": target, "note": note})
        assert response.status_code == 302 and response.location.endswith(f"/cases/{case.id}")
        page = soup(client.get(response.location))
        assert f"{case.reference} is now {target}." in flashes(page)
        assert page.select_one(f"h1 .badge.status-{target}") is not None

    db.session.expire_all()
    assert db.session.get(Case, case.id).status == S.APPROVED
    assert "The case is closed (approved)" in page.get_text()
    assert page.select("select[name=status]") == []
    timeline = page.find("h2", string="Workflow").find_next("ol", class_="timeline").select("li")
    assert len(timeline) == 4
    newest = timeline[0]
    assert [b.get_text(strip=True) for b in newest.select(".badge")] == ["Submitted", "Approved"]
    assert "Visa issued on 3 May" in newest.get_text() and "UTC" in newest.select_one("time").get_text()
    assert [b.get_text(strip=True) for b in timeline[-1].select(".badge")] == ["Intake", "Collecting"]
    assert "Documents requested" in timeline[-1].get_text()


def test_the_case_page_lists_each_problem_with_a_link_to_fix_it(app, client, auth, make_case, advisor):
    case = make_case(advisor, status=S.COLLECTING)
    case.planned_submission_on = None
    db.session.commit()
    auth.login(advisor.email)
    page = soup(client.get(f"/cases/{case.id}"))
    assert "2 things block this case from being ready" in page.get_text(" ")
    assert page.select(".ready-ok") == []
    items = page.select("ul.problems li")
    assert [li["data-code"] for li in items] == ["no_assessment", "no_submission_date"]
    with app.test_request_context():
        expected = [url_for("eligibility.case", case_id=case.id), url_for("cases.edit", case_id=case.id)]
    assert [li.find("a", string="Fix this")["href"] for li in items] == expected
    for href in expected:
        assert client.get(href).status_code == 200


def test_a_blocked_move_flashes_the_problems_and_changes_nothing(client, auth, make_case, advisor):
    case = make_case(advisor, status=S.COLLECTING)
    case.planned_submission_on = None
    db.session.commit()
    version = case.version
    auth.login(advisor.email)
    page = soup(client.post(f"/cases/{case.id}/status", data={"status": "ready", "note": ""},
                            follow_redirects=True))
    [flash] = flashes(page)
    assert flash.startswith("The case cannot be ready yet:")
    assert "Eligibility has not been assessed yet." in flash and "Set the planned submission date" in flash
    assert page.select_one("h1 .badge.status-collecting") is not None
    assert_unchanged(case, S.COLLECTING, version)


@pytest.mark.parametrize("target", ["approved", "submitted", "intake", "lost", ""])
def test_a_target_not_offered_is_refused(client, auth, make_ready_case, advisor, target):
    case = make_ready_case()
    version = case.version
    auth.login(advisor.email)
    page = soup(client.post(f"/cases/{case.id}/status", data={"status": target, "note": NOTE},
                            follow_redirects=True))
    assert flashes(page) == ["Choose one of the next statuses offered."]
    assert_unchanged(case, S.INTAKE, version)


def test_a_withdrawal_without_a_note_is_refused_on_the_page(client, auth, make_ready_case, advisor):
    case = make_ready_case()
    version = case.version
    auth.login(advisor.email)
    page = soup(client.post(f"/cases/{case.id}/status", data={"status": "withdrawn", "note": "  "},
                            follow_redirects=True))
    assert flashes(page) == ["Say why the case is withdrawn: the note goes into its history."]
    assert_unchanged(case, S.INTAKE, version)


def test_another_advisors_case_answers_404_on_the_status_route(client, auth, make_ready_case, advisor,
                                                               other_advisor, admin):
    case = make_ready_case(owner=other_advisor)
    version = case.version
    auth.login(advisor.email)
    assert client.post(f"/cases/{case.id}/status", data={"status": "collecting"}).status_code == 404
    assert client.get(f"/cases/{case.id}").status_code == 404
    assert_unchanged(case, S.INTAKE, version)

    auth.logout()
    auth.login(admin.email)  # an admin may move any case, and is recorded as the one who did
    assert client.post(f"/cases/{case.id}/status", data={"status": "collecting"}).status_code == 302
    [row] = transitions_of(case)
    assert row.by_id == admin.id and db.session.get(Case, case.id).status == S.COLLECTING


def test_the_status_route_needs_a_login(client, make_ready_case):
    case = make_ready_case()
    response = client.post(f"/cases/{case.id}/status", data={"status": "collecting"})
    assert response.status_code == 302 and "/auth/login" in response.location
    assert transitions_of(case) == []


def test_case_outcome_follows_running_and_judging(app, client, auth, make_case, advisor, admin, unjudged,
                                                  rules_folder):
    case = make_case(advisor)
    give_degree(case, unjudged, advisor)
    db.session.commit()
    assert (case.outcome, case.rule_set_id) == (None, None)
    auth.login(advisor.email)

    def current():
        db.session.expire_all()
        return db.session.get(Case, case.id)

    assert client.post(f"/cases/{case.id}/eligibility/run").status_code == 302
    assert (current().outcome, current().rule_set_id) == ("needs_review", "k-2025-10")
    page = soup(client.get(f"/cases/{case.id}"))
    assert [li["data-code"] for li in page.select("ul.problems li")] == ["needs_review"]
    assert "1 criterion needs your judgement" in page.select_one("ul.problems").get_text()

    first = assessments.latest(current())
    client.post(f"/cases/{case.id}/eligibility/{first.id}/judge",
                data={"criterion": "renowned_institution", "decision": "pass", "note": "Top-100 in physics"})
    assert current().outcome == "eligible"
    assert "Nothing blocks this case" in text(client.get(f"/cases/{case.id}"))

    client.post(f"/cases/{case.id}/eligibility/run")  # a fresh assessment starts without judgements
    assert current().outcome == "needs_review"
    second = assessments.latest(current())
    client.post(f"/cases/{case.id}/eligibility/{second.id}/judge",
                data={"criterion": "renowned_institution", "decision": "fail", "note": "Unknown in the field"})
    assert current().outcome == "not_eligible"
    page = soup(client.get(f"/cases/{case.id}"))
    assert [li["data-code"] for li in page.select("ul.problems li")] == ["not_eligible"]

    second_version(rules_folder)
    assessments.load_into(app)
    assert codes(current()) == ["superseded_rules"]
    auth.logout()
    auth.login(admin.email)
    client.post("/rules/reassess")
    assert (current().outcome, current().rule_set_id) == ("needs_review", "k-2026-06")
    assert db.session.scalar(select(func.count()).select_from(CaseTransition)) == 0


def test_a_planned_date_in_the_past_is_a_problem_until_submission(app, make_ready_case):
    case = make_ready_case()
    today = dt.date.today()
    case.planned_submission_on = today - dt.timedelta(days=3)
    case.applicant.passport_expires_on = readiness.add_months(today, 6) - dt.timedelta(days=1)
    db.session.commit()
    codes = [p.code for p in readiness.problems(case)]
    assert codes == ["submission_date_passed", "passport_expiring"]
    assert "earliest possible submission on " + today.isoformat() in readiness.problems(case)[1].message
    case.status = CaseStatus.SUBMITTED  # filed: the date is history, and the passport counts from it
    db.session.commit()
    assert [p.code for p in readiness.problems(case)] == []


def test_a_too_long_note_is_reported_as_such(app, client, auth, advisor, make_case):
    case = make_case(advisor)
    auth.login(advisor.email)
    response = client.post(f"/cases/{case.id}/status", data={"status": "collecting", "note": "x" * 2001},
                           follow_redirects=True)
    assert "Field cannot be longer than 2000 characters." in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Case, case.id).status == CaseStatus.INTAKE


def test_a_closed_case_shows_no_readiness_problems(app, client, auth, advisor, make_case):
    case = make_case(advisor, status=CaseStatus.WITHDRAWN)
    assert readiness.problems(case)  # not assessed: it would be blocked if it were open
    auth.login(advisor.email)
    page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "The case is closed: nothing more to get ready." in page
    assert "Fix this" not in page
