"""The command-line tools: create-admin and seed-demo."""
from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import func, select

from advisor import assessments, packets, readiness, workflow
from advisor.passwords import verify_password
from models import Applicant, AuditEvent, Case, CaseStatus, CaseTransition, Role, User, db


def test_create_admin_reads_password_from_stdin(runner):
    result = runner.invoke(args=["create-admin", "--email", "Lead@Practice.test", "--name", "Lena Lead",
                                 "--password-stdin"], input="quartz-meadow-river-77\n")
    assert result.exit_code == 0, result.output
    user = db.session.scalar(select(User).where(User.email == "lead@practice.test"))
    assert user is not None and user.role == Role.ADMIN and user.active
    assert verify_password(user.password_hash, "quartz-meadow-river-77")
    assert "quartz" not in result.output
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "user.create"))
    assert event is not None and event.object_id == user.id


def test_create_admin_prompts(runner):
    result = runner.invoke(args=["create-admin"],
                           input="p@practice.test\nPat Prompt\nquartz-meadow-river-77\nquartz-meadow-river-77\n")
    assert result.exit_code == 0, result.output
    assert db.session.scalar(select(User).where(User.email == "p@practice.test")).is_admin


def test_create_admin_refuses_weak_password_and_duplicates(runner, admin):
    weak = runner.invoke(args=["create-admin", "--email", "x@practice.test", "--name", "X", "--password-stdin"],
                         input="password1\n")
    assert weak.exit_code == 1
    assert "Choose a longer or less common password" in weak.output
    short = runner.invoke(args=["create-admin", "--email", "x@practice.test", "--name", "X", "--password-stdin"],
                          input="abc\n")
    assert short.exit_code == 1 and "at least 8 characters" in short.output
    duplicate = runner.invoke(args=["create-admin", "--email", admin.email, "--name", "X", "--password-stdin"],
                              input="quartz-meadow-river-77\n")
    assert duplicate.exit_code == 1 and "already uses this email" in duplicate.output
    assert db.session.scalar(select(func.count()).select_from(User)) == 1


def test_seed_demo_builds_a_realistic_practice_idempotently(runner, client):
    first = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0, first.output
    counts = (db.session.scalar(select(func.count()).select_from(User)),
              db.session.scalar(select(func.count()).select_from(Applicant)),
              db.session.scalar(select(func.count()).select_from(Case)))
    second = runner.invoke(args=["seed-demo"])
    assert second.exit_code == 0, second.output
    assert "(0 new)" in second.output
    assert counts == (db.session.scalar(select(func.count()).select_from(User)),
                      db.session.scalar(select(func.count()).select_from(Applicant)),
                      db.session.scalar(select(func.count()).select_from(Case)))

    users = db.session.scalars(select(User)).all()
    assert sum(u.role == Role.ADVISOR for u in users) == 3
    assert sum(u.role == Role.ADMIN for u in users) >= 1
    assert 38 <= counts[1] <= 45
    assert {c.status for c in db.session.scalars(select(Case))} == set(CaseStatus)
    nationalities = set(db.session.scalars(select(Applicant.nationality)))
    assert len(nationalities) >= 20
    chinese = [name for name in db.session.scalars(select(Applicant.chinese_name)) if name]
    assert chinese and all(re.fullmatch(r"[\u4e00-\u9fff]+", name) for name in chinese)
    assert all(re.fullmatch(r"K-\d{4}-\d{6}", c.reference) for c in db.session.scalars(select(Case)))
    for advisor in (u for u in users if u.role == Role.ADVISOR):
        assert db.session.scalar(select(func.count()).select_from(Case).where(Case.advisor_id == advisor.id)) >= 10

    # Degrees, positions and assessments make the eligibility pages real: every outcome appears.
    from models import Assessment, Education, Position

    assert db.session.scalar(select(func.count()).select_from(Education)) >= 30
    assert db.session.scalar(select(func.count()).select_from(Position)) >= 3
    outcomes = {assessments.final_outcome(a) for a in db.session.scalars(select(Assessment))}
    assert outcomes == {"eligible", "needs_review", "not_eligible"}

    # It prints how to log in, and that login works.
    match = re.search(r"advisor\s+(\S+@\S+)\s+password: (.+)", first.output)
    assert match, first.output
    response = client.post("/auth/login", data={"email": match.group(1), "password": match.group(2).strip()})
    assert response.status_code == 302 and response.headers["Location"].endswith("/")


def test_seed_demo_takes_every_case_through_the_guarded_workflow(runner):

    result = runner.invoke(args=["seed-demo", "--cases", "60"])
    assert result.exit_code == 0, result.output
    today = dt.datetime.now(dt.UTC).date()
    seen = set()
    for case in db.session.scalars(select(Case)):
        moves = db.session.scalars(select(CaseTransition).where(CaseTransition.case_id == case.id)
                                   .order_by(CaseTransition.id)).all()
        path = [CaseStatus.INTAKE, *(move.to_status for move in moves)]
        # A chain of allowed steps from intake to where the case is.
        assert [move.from_status for move in moves] == path[:-1], case.reference
        assert path[-1] == case.status, case.reference
        assert all(after in workflow.ALLOWED[before] for before, after in zip(path, path[1:], strict=False)), path
        if case.status.is_open:
            assert case.planned_submission_on is None or case.planned_submission_on >= today, case.reference
        if case.status == CaseStatus.READY:
            assert readiness.problems(case) == [], case.reference
        if case.status in (CaseStatus.SUBMITTED, CaseStatus.APPROVED, CaseStatus.REFUSED):
            assert CaseStatus.READY in path and CaseStatus.SUBMITTED in path
            assert packets.latest_final(case) is not None, case.reference
            assert assessments.final_outcome(assessments.latest(case)) == "eligible", case.reference
        for move in moves:
            if move.to_status in workflow.NOTE_REQUIRED:
                assert move.note, case.reference
        seen.add(case.status)
    assert seen == set(CaseStatus)
