"""Eligibility on a case, through the web and the CLI: records, institutions, assessments, judgements,
superseded rule sets, re-assessment and the printable summary."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from sqlalchemy import select

from advisor import assessments, institutions, records
from models import Assessment, AuditEvent, CaseStatus, DegreeLevel, Education, Institution, Position, db

RULES = Path(__file__).resolve().parent.parent / "rules"


@pytest.fixture
def app_config(rules_folder):
    return {"RULES_FOLDER": str(rules_folder)}


@pytest.fixture
def eth(app, admin):
    institution = institutions.save(None, institutions.InstitutionData(
        name="ETH Zurich", country="CH", aliases=["ETHZ"], rank=7, renowned=True, source="Practice list"), by=admin)
    db.session.commit()
    return institution


def add_degree(client, applicant_id, **overrides):
    data = {"level": "master", "field_code": "0533", "institution": "ETH Zurich", "awarded_on": "2020-06-30",
            "version": "0", **overrides}
    return client.post(f"/applicants/{applicant_id}/education/new", data=data)


def give_degree(case, institution, by):
    records.add_education(case.applicant, records.EducationData(
        level=DegreeLevel.MASTER, field_code="0533", institution=institution, awarded_on=dt.date(2015, 6, 30),
        pending=False), by=by)


def text(response):
    return BeautifulSoup(response.data, "html.parser").get_text(" ", strip=True)


def test_record_a_degree_assess_and_print(client, auth, advisor, make_case, eth):
    case = make_case(advisor, born_on=dt.date(1995, 4, 2))
    auth.login(advisor.email)
    response = add_degree(client, case.applicant_id, institution="  ethz ")  # an alias, any case and spacing
    assert response.status_code == 302
    education = db.session.scalar(select(Education))
    assert education.institution_id == eth.id and education.level == DegreeLevel.MASTER

    page = client.get(f"/applicants/{case.applicant_id}")
    assert "Physics (0533)" in text(page) and "ETH Zurich" in text(page)

    assert client.post(f"/cases/{case.id}/eligibility/run").status_code == 302
    assessment = db.session.scalar(select(Assessment))
    assert assessment.outcome == "eligible" and assessment.rule_set_id == "k-2025-10"
    assert assessment.pathway == "degree"
    assert assessment.inputs["education"][0]["institution"]["name"] == "ETH Zurich"
    assert {c["code"]: c["result"] for c in assessment.criteria} == {
        "age": "pass", "qualification": "pass", "stem_field": "pass", "renowned_institution": "pass",
        "no_sponsor": "pass"}
    page = text(client.get(f"/cases/{case.id}/eligibility"))
    assert "Eligible" in page and "Reported" in page and "Official" in page and "Assumed" in page

    summary = client.get(f"/cases/{case.id}/eligibility/summary")
    assert summary.status_code == 200
    printed = text(summary)
    assert "Eligibility summary 资格评估摘要" in printed and "申请人" in printed and "Eligible" in printed
    assert case.reference in printed and "k-2025-10" in printed
    assert "print.css" in summary.get_data(as_text=True)


def test_assessment_is_an_immutable_snapshot(client, auth, advisor, make_case, eth):
    case = make_case(advisor)
    auth.login(advisor.email)
    add_degree(client, case.applicant_id)
    client.post(f"/cases/{case.id}/eligibility/run")
    first = db.session.scalar(select(Assessment))
    snapshot = (first.inputs, first.criteria, first.outcome)
    education = db.session.scalar(select(Education))
    client.post(f"/applicants/{case.applicant_id}/education/{education.id}/edit",
                data={"level": "bachelor", "field_code": "0311", "institution": "ETH Zurich",
                      "awarded_on": "2019-06-30", "version": str(education.version)})
    client.post(f"/cases/{case.id}/eligibility/run")
    db.session.expire_all()
    first = db.session.get(Assessment, first.id)
    assert (first.inputs, first.criteria, first.outcome) == snapshot
    latest = assessments.latest(case)
    assert latest.id != first.id and latest.outcome == "needs_review"  # economics is not a STEM field
    history = text(client.get(f"/cases/{case.id}/eligibility"))
    assert "Earlier assessments" in history
    assert client.get(f"/cases/{case.id}/eligibility/{first.id}").status_code == 200


def test_unknown_institution_is_offered_then_added_unverified(client, auth, advisor, make_case, eth):
    case = make_case(advisor)
    auth.login(advisor.email)
    response = add_degree(client, case.applicant_id, institution="ETH Zurch")
    assert response.status_code == 200
    assert "is not in the registry" in text(response)
    soup = BeautifulSoup(response.data, "html.parser")
    assert [r["value"] for r in soup.select("input[name=institution_pick]")] == ["ETH Zurich"]
    assert db.session.scalar(select(Education)) is None

    picked = add_degree(client, case.applicant_id, institution="ETH Zurch", institution_pick="ETH Zurich")
    assert picked.status_code == 302
    assert db.session.scalar(select(Education)).institution_id == eth.id

    new = add_degree(client, case.applicant_id, institution="Kwame Nkrumah University of Science and Technology",
                     institution_country="GH", confirm_new="y")
    assert new.status_code == 302
    added = db.session.scalar(select(Institution).where(Institution.country == "GH"))
    assert added is not None and added.verified is False and added.renowned is None
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "institution.create",
                                                      AuditEvent.object_id == added.id)) is not None


def test_unverified_institution_needs_a_judgement_which_settles_the_outcome(client, auth, advisor, make_case, app):
    case = make_case(advisor)
    auth.login(advisor.email)
    add_degree(client, case.applicant_id, institution="Unheard-of Institute of Technology",
               institution_country="DE", confirm_new="y")
    client.post(f"/cases/{case.id}/eligibility/run")
    assessment = assessments.latest(case)
    assert assessment.outcome == "needs_review"
    assert [c.code for c in assessments.open_judgements(assessment)] == ["renowned_institution"]
    page = BeautifulSoup(client.get(f"/cases/{case.id}/eligibility").data, "html.parser")
    assert page.select("form.judge-form input[name=criterion][value=renowned_institution]")

    missing_note = client.post(f"/cases/{case.id}/eligibility/{assessment.id}/judge",
                               data={"criterion": "renowned_institution", "decision": "pass", "note": ""},
                               follow_redirects=True)
    assert "say why" in text(missing_note).lower()
    settled = client.post(f"/cases/{case.id}/eligibility/{assessment.id}/judge", follow_redirects=True,
                          data={"criterion": "stem_field", "decision": "fail", "note": "try"})
    assert "settled by the rules" in text(settled)
    ok = client.post(f"/cases/{case.id}/eligibility/{assessment.id}/judge", follow_redirects=True,
                     data={"criterion": "renowned_institution", "decision": "pass",
                           "note": "Top-50 in physics per the 2026 subject ranking"})
    assert "Outcome: eligible" in text(ok)
    db.session.expire_all()
    assert assessments.final_outcome(db.session.get(Assessment, assessment.id)) == "eligible"
    again = client.post(f"/cases/{case.id}/eligibility/{assessment.id}/judge", follow_redirects=True,
                        data={"criterion": "renowned_institution", "decision": "fail", "note": "changed mind"})
    assert "judged already" in text(again)
    summary = text(client.get(f"/cases/{case.id}/eligibility/summary"))
    assert "Advisor's judgement: met — Top-50 in physics" in summary


def test_positions_and_the_research_path(client, auth, advisor, make_case, eth):
    case = make_case(advisor)
    auth.login(advisor.email)
    response = client.post(f"/applicants/{case.applicant_id}/positions/new", data={
        "role": "research", "field_code": "0613", "institution": "ETH Zurich", "started_on": "2023-09-01",
        "version": "0"})
    assert response.status_code == 302
    bad = client.post(f"/applicants/{case.applicant_id}/positions/new", data={
        "role": "research", "field_code": "0613", "institution": "ETH Zurich", "started_on": "2023-09-01",
        "ended_on": "2022-01-01", "version": "0"})
    assert "cannot end before it starts" in text(bad)
    assert db.session.scalar(select(db.func.count()).select_from(Position)) == 1
    client.post(f"/cases/{case.id}/eligibility/run")
    assessment = assessments.latest(case)
    assert assessment.outcome == "eligible" and assessment.pathway == "teaching_research"

    position = db.session.scalar(select(Position))
    assert client.get(f"/applicants/{case.applicant_id}/positions/{position.id}/delete").status_code == 200
    assert client.post(f"/applicants/{case.applicant_id}/positions/{position.id}/delete").status_code == 302
    assert db.session.scalar(select(Position)) is None


def test_degree_form_checks_pending_and_award_date(client, auth, advisor, make_case, eth):
    case = make_case(advisor)
    auth.login(advisor.email)
    both = add_degree(client, case.applicant_id, pending="y")
    assert "pending degree has no award date" in text(both)
    neither = add_degree(client, case.applicant_id, awarded_on="")
    assert "Enter the award date" in text(neither)
    future = add_degree(client, case.applicant_id, awarded_on="2999-01-01")
    assert "cannot be in the future" in text(future)
    bad_field = add_degree(client, case.applicant_id, field_code="9999")
    assert "Not a valid choice" in text(bad_field)
    assert db.session.scalar(select(Education)) is None
    assert add_degree(client, case.applicant_id, awarded_on="", pending="y").status_code == 302
    client.post(f"/cases/{case.id}/eligibility/run")
    assert assessments.latest(case).outcome == "needs_review"


def test_a_record_of_another_applicant_answers_404(client, auth, advisor, make_case, eth):
    mine, theirs = make_case(advisor), make_case(advisor)
    auth.login(advisor.email)
    add_degree(client, theirs.applicant_id)
    education = db.session.scalar(select(Education))
    assert client.get(f"/applicants/{mine.applicant_id}/education/{education.id}/edit").status_code == 404
    assert client.post(f"/applicants/{mine.applicant_id}/education/{education.id}/delete").status_code == 404
    assert client.get(f"/applicants/{mine.applicant_id}/diplomas/new").status_code == 404
    client.post(f"/cases/{theirs.id}/eligibility/run")
    assessment = assessments.latest(theirs)
    assert client.get(f"/cases/{mine.id}/eligibility/{assessment.id}").status_code == 404
    assert client.post(f"/cases/{mine.id}/eligibility/{assessment.id}/judge",
                       data={"criterion": "age", "decision": "pass", "note": "x"}).status_code == 404


def test_another_advisors_case_answers_404_on_every_eligibility_route(client, auth, advisor, other_advisor,
                                                                      make_case, eth):
    case = make_case(other_advisor)
    assessments.run(case, by=other_advisor)
    db.session.commit()
    assessment = assessments.latest(case)
    auth.login(advisor.email)
    for method, path in [("GET", f"/cases/{case.id}/eligibility"), ("POST", f"/cases/{case.id}/eligibility/run"),
                         ("GET", f"/cases/{case.id}/eligibility/{assessment.id}"),
                         ("POST", f"/cases/{case.id}/eligibility/{assessment.id}/judge"),
                         ("GET", f"/cases/{case.id}/eligibility/summary"),
                         ("GET", f"/applicants/{case.applicant_id}/education/new"),
                         ("POST", f"/applicants/{case.applicant_id}/positions/new")]:
        assert client.open(path, method=method).status_code == 404, path
    assert len(assessments.history(case)) == 1


def test_rules_page_shows_status_and_sources(client, auth, advisor):
    auth.login(advisor.email)
    page = text(client.get("/rules"))
    assert "k-2025-10" in page and "In force" in page and "18–45 years" in page
    assert "World Journal" in page and "Physics" not in page
    assert "Natural sciences, mathematics and statistics (05)" in page
    assert client.post("/rules/reassess").status_code == 403


def second_version(rules_folder: Path, **replacements: str) -> None:
    text_ = (rules_folder / "k-2025-10.toml").read_text()
    text_ = text_.replace('id = "k-2025-10"', 'id = "k-2026-06"').replace("effective_from = 2025-10-01",
                                                                        "effective_from = 2026-06-01")
    for old, new in replacements.items():
        text_ = text_.replace(old, new)
    (rules_folder / "k-2026-06.toml").write_text(text_)


def test_new_rule_set_supersedes_and_reassess_reports_changes(app, client, auth, admin, advisor, make_case, eth,
                                                              rules_folder, runner):
    young = make_case(advisor, born_on=dt.date(1995, 1, 1))
    older = make_case(advisor, born_on=dt.date(1984, 1, 1))  # 42: inside 18–45, outside a new 18–40
    closed = make_case(advisor, born_on=dt.date(1984, 1, 1), status=CaseStatus.APPROVED)
    never = make_case(advisor)
    for case in (young, older, closed):
        give_degree(case, eth, advisor)
        assessments.run(case, by=advisor, on=dt.date(2026, 3, 1))
    db.session.commit()
    with open(rules_folder / "k-2025-10.toml") as handle:
        assert "max = 45" in handle.read()
    second_version(rules_folder, **{"max = 45": "max = 40"})
    assessments.load_into(app)
    assert assessments.current_rule_set().id == "k-2026-06"
    assert assessments.is_superseded(assessments.latest(young))

    auth.login(advisor.email)
    assert "re-run the assessment" in text(client.get(f"/cases/{older.id}"))
    assert "older rule set" in text(client.post(
        f"/cases/{older.id}/eligibility/{assessments.latest(older).id}/judge", follow_redirects=True,
        data={"criterion": "age", "decision": "pass", "note": "x"}))

    result = runner.invoke(args=["reassess"])
    assert result.exit_code == 0, result.output
    assert "Re-assessed 2 open case(s) under k-2026-06; 1 changed outcome." in result.output
    assert f"{older.reference}: eligible -> needs_review (was k-2025-10)" in result.output
    assert assessments.latest(closed).rule_set_id == "k-2025-10"
    assert assessments.latest(never) is None
    again = runner.invoke(args=["reassess"])
    assert "Re-assessed 0 open case(s)" in again.output


def test_admin_reassess_button(app, client, auth, admin, advisor, make_case, eth, rules_folder):
    case = make_case(advisor, born_on=dt.date(1984, 1, 1))
    give_degree(case, eth, advisor)
    assessments.run(case, by=advisor, on=dt.date(2026, 3, 1))
    db.session.commit()
    second_version(rules_folder, **{"max = 45": "max = 40"})
    assessments.load_into(app)
    auth.login(admin.email)
    page = text(client.post("/rules/reassess"))
    assert "1 open case(s) re-assessed; 1 changed outcome." in page and case.reference in page


def test_a_broken_rule_file_stops_start_up(rules_folder, tmp_path):
    from advisor import create_app
    from advisor.eligibility import RuleSetError

    from .conftest import base_config

    (rules_folder / "k-2025-10.toml").write_text(
        (RULES / "k-2025-10.toml").read_text().replace('status = "reported"', 'status = "rumoured"'))
    with pytest.raises(RuleSetError, match=r"k-2025-10.toml: age.status"):
        create_app(base_config(f"sqlite:///{tmp_path / 'x.sqlite3'}", RULES_FOLDER=str(rules_folder)))
