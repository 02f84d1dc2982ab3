"""The dashboard and the tasks behind its deadlines: each section shows the cases it should and no
other (someone else's, closed, deleted), admins see the workload, the task routes, and a query count
that does not grow with the number of cases."""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from bs4 import BeautifulSoup
from sqlalchemy import Date, event, func, literal, select, update

from advisor import cases, dashboard, readiness, tasks
from advisor.dashboard import ROWS, Section, dashboard_for
from advisor.dbutil import add_months
from advisor.errors import DomainError
from models import AuditEvent, Case, CaseStatus, Role, Task, User, db, utcnow


def today() -> dt.date:
    return utcnow().date()


def days(n: int) -> dt.date:
    return today() + dt.timedelta(days=n)


def page(response: Any) -> BeautifulSoup:
    return BeautifulSoup(response.data, "html.parser")


def flashes(response: Any) -> list[str]:
    return [flash.get_text(" ", strip=True) for flash in page(response).select(".flash")]


def references(section: Section[Any]) -> set[str]:
    return {(row.case if isinstance(row, Task) else row).reference for row in section.rows}


def shown(response: Any, key: str) -> set[str]:
    """The case references listed in one section of the dashboard page."""
    return {link.get_text() for link in page(response).select(f"#{key} tbody a.mono")}


def events(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def set_updated_at(case: Case, at: dt.datetime) -> None:
    """Backdate the last change (an ORM save would stamp it with now)."""
    db.session.execute(update(Case).where(Case.id == case.id).values(updated_at=at))


# What puts a case into each section -------------------------------------------------------------

def passport_short(case: Case) -> None:
    case.applicant.passport_expires_on = case.planned_submission_on + dt.timedelta(days=90)


def superseded(case: Case) -> None:
    case.rule_set_id = "k-2000-01"


def idle(case: Case) -> None:
    set_updated_at(case, utcnow() - dt.timedelta(days=20))


def due_soon(case: Case) -> None:
    tasks.add_task(case, "Send the invitation letter", days(2), by=case.advisor)


DEFECTS: dict[str, Callable[[Case], None]] = {
    "passports": passport_short, "superseded": superseded, "idle": idle, "deadlines": due_soon,
}


@pytest.fixture
def defective(make_case, admin):  # type: ignore[no-untyped-def]
    """A case of `advisor` in `status`, with the defect of a section; deleted if asked."""
    def make(advisor: User, key: str, *, status: CaseStatus = CaseStatus.COLLECTING,
             deleted: bool = False) -> Case:
        case = make_case(advisor, status=status)
        if deleted:
            cases.delete_case(case, by=admin)
            db.session.flush()
        DEFECTS[key](case)
        db.session.commit()
        return case

    return make


@pytest.mark.parametrize("key", DEFECTS)
def test_each_section_lists_my_open_cases_only(key, client, auth, advisor, other_advisor, admin, make_case,
                                               defective):
    mine = defective(advisor, key)
    also_mine = defective(advisor, key, status=CaseStatus.SUBMITTED)
    make_case(advisor)  # sound: in no section
    theirs = defective(other_advisor, key)
    for closed in (CaseStatus.APPROVED, CaseStatus.REFUSED, CaseStatus.WITHDRAWN):
        defective(advisor, key, status=closed)
    defective(advisor, key, deleted=True)

    section = getattr(dashboard_for(advisor), key)
    assert references(section) == {mine.reference, also_mine.reference}
    assert section.count == 2 and section.more == 0
    assert references(getattr(dashboard_for(admin), key)) == {mine.reference, also_mine.reference,
                                                              theirs.reference}

    auth.login(advisor.email)
    response = client.get("/")
    assert shown(response, key) == {mine.reference, also_mine.reference}
    assert page(response).select_one(f"#{key}")["data-count"] == "2"
    for other_key in set(DEFECTS) - {key}:
        assert shown(response, other_key) == set(), other_key


def test_every_row_names_the_case_and_the_applicant(client, auth, advisor, make_case):
    case = make_case(advisor, family_name="Zhang", given_names="Wei", chinese_name="张伟")
    for defect in DEFECTS.values():
        defect(case)
    db.session.commit()
    auth.login(advisor.email)
    soup = page(client.get("/"))
    for key in DEFECTS:
        row = soup.select_one(f"#{key} tbody tr")
        assert row is not None, key
        text = row.get_text(" ", strip=True)
        assert case.reference in text and "Wei ZHANG" in text and "张伟" in text, key
        assert row.select_one(f"a[href='/cases/{case.id}']") is not None, key


def test_empty_sections_say_what_would_show_there(client, auth, advisor, make_case):
    make_case(advisor)
    auth.login(advisor.email)
    soup = page(client.get("/"))
    empties = {key: soup.select_one(f"#{key} .empty").get_text(" ", strip=True) for key in DEFECTS}
    assert "Nothing is due in the next 7 days" in empties["deadlines"]
    assert "without a planned submission date are not checked" in empties["passports"]
    assert "rules in force (k-2025-10)" in empties["superseded"]
    assert "changed in the last 14 days" in empties["idle"]
    assert soup.select_one("#workload") is None


def test_a_new_advisor_is_shown_how_to_start(client, auth, advisor):
    auth.login(advisor.email)
    soup = page(client.get("/"))
    assert "No cases yet" in soup.select_one(".empty").get_text()
    assert soup.select_one("#deadlines") is None


def test_a_section_shows_ten_rows_and_counts_them_all(client, auth, advisor, defective):
    for _ in range(ROWS + 2):
        defective(advisor, "superseded")
    board = dashboard_for(advisor)
    assert board.superseded.count == ROWS + 2 and len(board.superseded.rows) == ROWS
    assert board.superseded.more == 2
    auth.login(advisor.email)
    soup = page(client.get("/"))
    assert len(soup.select("#superseded tbody tr")) == ROWS
    assert f"The first {ROWS} of {ROWS + 2}." in soup.select_one("#superseded").get_text()


# Passports ----------------------------------------------------------------------------------------

PASSPORT_CASES = [  # planned submission, passport expiry, too short?
    (dt.date(2026, 3, 15), dt.date(2026, 9, 14), True),
    (dt.date(2026, 3, 15), dt.date(2026, 9, 15), False),  # exactly six months: enough
    (dt.date(2026, 8, 31), dt.date(2027, 2, 27), True),
    (dt.date(2026, 8, 31), dt.date(2027, 2, 28), False),  # no 31 Feb: the month's last day counts
    (dt.date(2027, 8, 31), dt.date(2028, 2, 28), True),  # a leap year has 29 Feb
    (dt.date(2027, 8, 31), dt.date(2028, 2, 29), False),
    (dt.date(2026, 12, 31), dt.date(2027, 6, 29), True),
    (dt.date(2026, 12, 31), dt.date(2027, 6, 30), False),
    (dt.date(2026, 1, 10), dt.date(2025, 12, 1), True),  # already expired
]


def test_passports_section_applies_the_six_month_rule_exactly(advisor, make_case):
    expected = set()
    for planned, expires, too_short in PASSPORT_CASES:
        assert readiness.passport_too_short(expires, planned) is too_short, (planned, expires)
        case = make_case(advisor, passport_expires_on=expires)
        case.planned_submission_on = planned
        if too_short:
            expected.add(case.reference)
    undated = make_case(advisor, passport_expires_on=days(10))
    undated.planned_submission_on = None
    db.session.commit()
    section = dashboard_for(advisor).passports
    assert references(section) == expected and section.count == len(expected)
    # Soonest submission first: the most urgent at the top.
    plans = [case.planned_submission_on for case in section.rows]
    assert plans == sorted(plans)


def test_add_months_in_sql_agrees_with_the_readiness_rule(app):
    starts = [dt.date(year, month, day) for year in (2023, 2024, 2025) for month in range(1, 13)
              for day in (1, 15, 28, 29, 30, 31) if day <= _month_length(year, month)]
    for months in (1, 6, 12):
        row = db.session.execute(select(*[add_months(literal(start, Date), months) for start in starts])).one()
        assert list(row) == [readiness.add_months(start, months) for start in starts], months


def _month_length(year: int, month: int) -> int:
    return ((dt.date(year + month // 12, month % 12 + 1, 1)) - dt.timedelta(days=1)).day


# Superseded rule sets, idle cases, deadlines -----------------------------------------------------------

def test_superseded_means_assessed_under_another_rule_set(advisor, make_case):
    stale, current, never = make_case(advisor), make_case(advisor), make_case(advisor)
    stale.rule_set_id, current.rule_set_id, never.rule_set_id = "k-2000-01", "k-2025-10", None
    db.session.commit()
    board = dashboard_for(advisor)
    assert board.rule_set_id == "k-2025-10"
    assert references(board.superseded) == {stale.reference}


def test_idle_cases_follow_the_setting(app, client, auth, advisor, make_case):
    long_idle, short_idle, fresh = make_case(advisor), make_case(advisor), make_case(advisor)
    set_updated_at(long_idle, utcnow() - dt.timedelta(days=40))
    set_updated_at(short_idle, utcnow() - dt.timedelta(days=20))
    db.session.commit()
    assert app.config["DASHBOARD_IDLE_DAYS"] == 14
    assert [case.reference for case in dashboard_for(advisor).idle.rows] == [long_idle.reference,
                                                                             short_idle.reference]
    app.config["DASHBOARD_IDLE_DAYS"] = 30
    auth.login(advisor.email)
    response = client.get("/")
    assert shown(response, "idle") == {long_idle.reference}
    assert "No change in 30 days" in page(response).select_one("#idle h2").get_text()
    assert fresh.reference not in shown(response, "idle")


def test_deadlines_are_open_tasks_due_within_a_week_or_overdue(client, auth, advisor, make_case):
    case = make_case(advisor)
    overdue = tasks.add_task(case, "Book the appointment", days(-3), by=advisor)
    today_ = tasks.add_task(case, "Call the applicant", days(0), by=advisor)
    in_a_week = tasks.add_task(case, "Collect the photos", days(7), by=advisor)
    tasks.add_task(case, "Next week's task", days(8), by=advisor)
    tasks.add_task(case, "Someday", None, by=advisor)
    done = tasks.add_task(case, "Already done", days(1), by=advisor)
    tasks.complete_task(done, by=advisor)
    db.session.commit()

    board = dashboard_for(advisor)
    assert [task.title for task in board.deadlines.rows] == [overdue.title, today_.title, in_a_week.title]
    assert board.deadlines.count == 3
    assert [board.is_overdue(task) for task in board.deadlines.rows] == [True, False, False]

    auth.login(advisor.email)
    rows = page(client.get("/")).select("#deadlines tbody tr")
    assert ["overdue" in (row.get("class") or []) for row in rows] == [True, False, False]
    assert "Book the appointment" in rows[0].get_text() and "overdue" in rows[0].get_text()
    assert rows[0].select_one(f"a[href='/cases/{case.id}#tasks']") is not None


# Workload (admins) ------------------------------------------------------------------------------------

def test_admin_sees_open_cases_per_advisor_by_status(client, auth, admin, advisor, other_advisor, make_user,
                                                     make_case):
    for status in (CaseStatus.INTAKE, CaseStatus.INTAKE, CaseStatus.READY, CaseStatus.APPROVED):
        make_case(advisor, status=status)
    cases.delete_case(make_case(advisor), by=admin)
    make_case(admin, status=CaseStatus.SUBMITTED)
    make_user(Role.ADVISOR, name="Gone Idle", active=False)  # no cases: not listed
    leaver = make_user(Role.ADVISOR, name="Lee Leaver")
    make_case(leaver, status=CaseStatus.COLLECTING)
    leaver.active = False
    db.session.commit()

    loads = {load.name: (load.by_status, load.total) for load in dashboard_for(admin).workload}
    assert loads == {
        advisor.name: ({CaseStatus.INTAKE: 2, CaseStatus.READY: 1}, 3),
        admin.name: ({CaseStatus.SUBMITTED: 1}, 1),
        leaver.name: ({CaseStatus.COLLECTING: 1}, 1),
        other_advisor.name: ({}, 0),
    }
    assert [load.name for load in dashboard_for(admin).workload][0] == advisor.name  # busiest first

    auth.login(admin.email)
    table = page(client.get("/")).select_one("#workload")
    row = table.select_one(f"tr[data-advisor='{advisor.id}']")
    assert [cell.get_text(strip=True) for cell in row.select("th, td")] == [advisor.name, "2", "0", "1", "0", "3"]
    assert row.select_one("a")["href"] == f"/cases/?advisor={advisor.id}"
    assert "deactivated" in table.select_one(f"tr[data-advisor='{leaver.id}']").get_text()
    assert dashboard_for(advisor).workload is None


def test_advisors_do_not_see_the_workload(client, auth, advisor, make_case):
    make_case(advisor)
    auth.login(advisor.email)
    response = client.get("/")
    assert response.status_code == 200 and page(response).select_one("#workload") is None


# Task operations --------------------------------------------------------------------------------------

def test_task_operations_change_the_task_and_leave_an_audit_trail(advisor, make_case):
    case = make_case(advisor)
    task = tasks.add_task(case, "  Send the invitation  ", days(3), by=advisor)
    assert task.title == "Send the invitation" and task.done_at is None
    tasks.complete_task(task, by=advisor)
    assert task.done_at is not None and task.done_by_id == advisor.id
    with pytest.raises(DomainError, match="already done"):
        tasks.complete_task(task, by=advisor)
    tasks.reopen_task(task, by=advisor)
    assert task.done_at is None and task.done_by_id is None
    with pytest.raises(DomainError, match="still open"):
        tasks.reopen_task(task, by=advisor)
    tasks.delete_task(task, by=advisor)
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(Task)) == 0
    trail = db.session.scalars(select(AuditEvent).where(AuditEvent.object_type == "task")
                               .order_by(AuditEvent.id)).all()
    assert [e.action for e in trail] == ["task.create", "task.done", "task.reopen", "task.delete"]
    assert {e.case_id for e in trail} == {case.id}
    assert trail[-1].changes == {"title": "Send the invitation", "due_on": days(3).isoformat()}


@pytest.mark.parametrize("title", ["", "   ", "x" * 201])
def test_a_task_needs_a_short_title(advisor, make_case, title):
    with pytest.raises(DomainError):
        tasks.add_task(make_case(advisor), title, None, by=advisor)


def test_case_tasks_list_open_ones_by_due_date_then_recently_done(advisor, make_case):
    case = make_case(advisor)
    later = tasks.add_task(case, "Later", days(20), by=advisor)
    undated = tasks.add_task(case, "Undated", None, by=advisor)
    late = tasks.add_task(case, "Late", days(-1), by=advisor)
    finished = tasks.add_task(case, "Finished", days(1), by=advisor)
    tasks.complete_task(finished, by=advisor)
    tasks.add_task(make_case(advisor), "Another case's", days(1), by=advisor)
    db.session.commit()
    listed = tasks.open_and_recent(case)
    assert listed.open == [late, later, undated]
    assert listed.done == [finished]
    assert [listed.is_overdue(task) for task in listed.open] == [True, False, False]


# Task routes --------------------------------------------------------------------------------------------

def test_adding_a_task_from_the_case_page(client, auth, advisor, make_case):
    case = make_case(advisor)
    auth.login(advisor.email)
    response = client.post(f"/cases/{case.id}/tasks/add", data={"title": "Book the appointment",
                                                                 "due_on": days(5).isoformat()})
    assert response.status_code == 302 and response.location.endswith(f"/cases/{case.id}#tasks")
    task = db.session.scalars(select(Task)).one()
    assert (task.case_id, task.title, task.due_on, task.created_by_id) == (case.id, "Book the appointment",
                                                                           days(5), advisor.id)
    [created] = events("task.create")
    assert (created.case_id, created.actor_id, created.object_id) == (case.id, advisor.id, task.id)

    soup = page(client.get(f"/cases/{case.id}"))
    item = soup.select_one(f"#tasks li[data-task='{task.id}']")
    assert "Book the appointment" in item.get_text() and days(5).isoformat() in item.get_text()
    assert "overdue" not in (item.get("class") or [])


@pytest.mark.parametrize(("title", "due_on", "message"), [
    ("", days(3).isoformat(), "Say what needs doing."),
    ("   ", days(3).isoformat(), "Say what needs doing."),
    ("x" * 201, "", "Field cannot be longer than 200 characters."),
    ("Too late", days(-40).isoformat(), "Choose a due date from a month back to two years ahead."),
    ("Too far", days(3 * 365).isoformat(), "Choose a due date from a month back to two years ahead."),
    ("Garbled", "31/02/2026", "Not a valid date value."),
])
def test_a_task_with_bad_input_is_refused_with_a_message(client, auth, advisor, make_case, title, due_on, message):
    case = make_case(advisor)
    auth.login(advisor.email)
    response = client.post(f"/cases/{case.id}/tasks/add", data={"title": title, "due_on": due_on},
                           follow_redirects=True)
    assert response.status_code == 200
    assert message in flashes(response)[-1]
    assert db.session.scalar(select(func.count()).select_from(Task)) == 0
    assert events("task.create") == []


def test_a_task_may_be_undated_or_a_little_overdue(client, auth, advisor, make_case):
    case = make_case(advisor)
    auth.login(advisor.email)
    client.post(f"/cases/{case.id}/tasks/add", data={"title": "Someday", "due_on": ""})
    client.post(f"/cases/{case.id}/tasks/add", data={"title": "Missed", "due_on": days(-2).isoformat()})
    assert {(t.title, t.due_on) for t in db.session.scalars(select(Task))} == {("Someday", None),
                                                                              ("Missed", days(-2))}
    soup = page(client.get(f"/cases/{case.id}"))
    overdue = soup.select("#tasks li.overdue")
    assert len(overdue) == 1 and "Missed" in overdue[0].get_text() and "Overdue" in overdue[0].get_text()


def test_done_reopen_and_delete_through_the_case_page(client, auth, advisor, make_case):
    case = make_case(advisor)
    task = tasks.add_task(case, "Collect the photos", days(2), by=advisor)
    db.session.commit()
    task_id = task.id
    base = f"/cases/{case.id}/tasks/{task_id}"
    auth.login(advisor.email)

    response = client.post(f"{base}/done", follow_redirects=True)
    assert "Done: Collect the photos" in flashes(response)
    soup = page(response)
    assert soup.select_one(f"#tasks ul.tasks:not(.done) li[data-task='{task.id}']") is None
    assert soup.select_one(f"#tasks ul.done li[data-task='{task.id}']") is not None
    assert db.session.get(Task, task.id).done_at is not None

    response = client.post(f"{base}/done", follow_redirects=True)
    assert "This task is already done." in flashes(response)

    response = client.post(f"{base}/reopen", follow_redirects=True)
    assert "Reopened: Collect the photos" in flashes(response)
    db.session.expire_all()
    assert db.session.get(Task, task.id).done_at is None

    response = client.post(f"{base}/delete", follow_redirects=True)
    assert "Deleted: Collect the photos" in flashes(response)
    db.session.expire_all()
    assert db.session.get(Task, task_id) is None
    actions = [e.action for e in db.session.scalars(select(AuditEvent).where(AuditEvent.case_id == case.id)
                                                    .where(AuditEvent.action.startswith("task.")))]
    assert sorted(actions) == ["task.create", "task.delete", "task.done", "task.reopen"]


def test_task_routes_answer_404_for_someone_elses_case_or_another_cases_task(client, auth, advisor,
                                                                              other_advisor, make_case):
    theirs = make_case(other_advisor)
    their_task = tasks.add_task(theirs, "Their task", days(1), by=other_advisor)
    mine, my_other = make_case(advisor), make_case(advisor)
    other_task = tasks.add_task(my_other, "My other case's task", days(1), by=advisor)
    db.session.commit()
    last_event = db.session.scalar(select(func.max(AuditEvent.id)))
    auth.login(advisor.email)

    paths = [f"/cases/{theirs.id}/tasks/add", f"/cases/{theirs.id}/tasks/submission"]
    paths += [f"/cases/{theirs.id}/tasks/{their_task.id}/{verb}" for verb in ("done", "reopen", "delete")]
    paths += [f"/cases/{mine.id}/tasks/{other_task.id}/{verb}" for verb in ("done", "reopen", "delete")]
    paths += [f"/cases/{mine.id}/tasks/999999/{verb}" for verb in ("done", "reopen", "delete")]
    for path in paths:
        assert client.post(path, data={"title": "Hijack", "due_on": days(1).isoformat()}).status_code == 404, path

    db.session.expire_all()
    assert {t.title: t.done_at for t in db.session.scalars(select(Task))} == {
        "Their task": None, "My other case's task": None}
    assert db.session.scalars(select(AuditEvent.action).where(AuditEvent.id > last_event)).all() == ["auth.login"]


def test_the_planned_submission_date_is_offered_as_a_task(client, auth, advisor, make_case):
    case = make_case(advisor)
    auth.login(advisor.email)
    button = "Add a task for the planned submission date"
    assert button in page(client.get(f"/cases/{case.id}")).select_one("#tasks").get_text()

    response = client.post(f"/cases/{case.id}/tasks/submission", follow_redirects=True)
    assert flashes(response) == [f"Task added: {tasks.SUBMISSION_TITLE}, due on {case.planned_submission_on}."]
    task = db.session.scalars(select(Task)).one()
    assert (task.title, task.due_on) == (tasks.SUBMISSION_TITLE, case.planned_submission_on)
    assert button not in page(response).select_one("#tasks").get_text()

    response = client.post(f"/cases/{case.id}/tasks/submission", follow_redirects=True)
    assert "already has a task for its planned submission date" in flashes(response)[-1]
    assert db.session.scalar(select(func.count()).select_from(Task)) == 1
    assert len(events("task.create")) == 1


def test_no_submission_task_without_a_planned_date(client, auth, advisor, make_case):
    case = make_case(advisor)
    case.planned_submission_on = None
    db.session.commit()
    auth.login(advisor.email)
    assert "planned submission date" not in page(client.get(f"/cases/{case.id}")).select_one("#tasks").get_text()
    response = client.post(f"/cases/{case.id}/tasks/submission", follow_redirects=True)
    assert "Set the planned submission date first" in flashes(response)[-1]
    assert db.session.scalar(select(func.count()).select_from(Task)) == 0


@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True}], ids=["csrf"])
def test_task_forms_need_the_csrf_token(client, advisor, make_case):
    case = make_case(advisor)
    task = tasks.add_task(case, "Collect the photos", days(2), by=advisor)
    db.session.commit()
    login = page(client.get("/auth/login")).find("input", attrs={"name": "csrf_token"})["value"]
    client.post("/auth/login", data={"email": advisor.email, "password": "violet-harbour-lantern-42",
                                     "csrf_token": login})
    for path in (f"/cases/{case.id}/tasks/add", f"/cases/{case.id}/tasks/submission",
                 f"/cases/{case.id}/tasks/{task.id}/done", f"/cases/{case.id}/tasks/{task.id}/delete"):
        assert client.post(path, data={"title": "Forged"}).status_code == 400, path

    soup = page(client.get(f"/cases/{case.id}"))
    form = soup.select_one(f"form[action='/cases/{case.id}/tasks/{task.id}/done']")
    token = form.find("input", attrs={"name": "csrf_token"})["value"]
    assert client.post(f"/cases/{case.id}/tasks/{task.id}/done", data={"csrf_token": token}).status_code == 302
    db.session.expire_all()
    assert db.session.get(Task, task.id).done_at is not None
    assert [t.title for t in db.session.scalars(select(Task))] == ["Collect the photos"]


# A bounded number of queries ------------------------------------------------------------------------------

def statements_for(client: Any, path: str) -> int:
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        response = client.get(path)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert response.status_code == 200
    return len(statements)


def add_cases(number: int, advisors: list[User], make_case: Any) -> None:
    """Cases in every section, spread over the advisors, with tasks due this week."""
    for index in range(number):
        case = make_case(advisors[index % len(advisors)], status=[CaseStatus.INTAKE, CaseStatus.READY][index % 2])
        list(DEFECTS.values())[index % len(DEFECTS)](case)
        due_soon(case)
        db.session.commit()


def test_the_dashboard_runs_the_same_queries_for_5_and_60_cases(app, auth, client, admin, advisor, other_advisor,
                                                                make_case):
    auth.login(advisor.email)
    admin_client = app.test_client()
    admin_client.post("/auth/login", data={"email": admin.email, "password": "violet-harbour-lantern-42"})

    add_cases(5, [advisor, other_advisor], make_case)
    for who in (client, admin_client):
        who.get("/")  # warm up: the first request may open a connection
    few = statements_for(client, "/"), statements_for(admin_client, "/")

    add_cases(55, [advisor, other_advisor], make_case)
    many = statements_for(client, "/"), statements_for(admin_client, "/")
    board = dashboard_for(admin)
    assert all(section.count > ROWS for section in (board.passports, board.superseded, board.idle, board.deadlines))

    assert few == many
    # session, user, status counts, recent, deadlines ×2, latest date, counts ×3, rows ×3, reviews ×2,
    # overdue requests ×2, workload
    assert max(many) <= 18, many


def test_section_counts_stop_at_the_cap(app, auth, client, advisor, make_case, monkeypatch):
    """Past COUNT_CAP a section says "N+": counting on would cost more the more cases there are."""
    monkeypatch.setattr(dashboard, "COUNT_CAP", 3)
    app.config["DASHBOARD_IDLE_DAYS"] = 0  # every open case is idle
    for _ in range(3):
        make_case(advisor)
    board = dashboard_for(advisor, idle_days=0, now=utcnow() + dt.timedelta(minutes=1))
    assert (board.idle.count, board.idle.capped, board.idle.shown_count) == (3, False, "3")
    make_case(advisor)
    make_case(advisor)
    board = dashboard_for(advisor, idle_days=0, now=utcnow() + dt.timedelta(minutes=1))
    assert (board.idle.count, board.idle.capped, board.idle.shown_count) == (4, True, "3+")
    auth.login(advisor.email)
    section = BeautifulSoup(client.get("/").data, "html.parser").select_one("section#idle")
    assert section.select_one(".section-count").get_text(strip=True) == "3+"
    assert "of 3+" in section.get_text()
