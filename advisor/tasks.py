"""Tasks: the to-dos of a case, each with an optional due date, open until someone marks it done.

Open tasks due within the week (or overdue) make the dashboard's deadlines. The planned submission date
is the deadline every case has, so the case page offers it as a task in one click instead of creating
it behind the advisor's back.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select

from models import Case, Task, User, db, utcnow

from . import audit, dates
from .errors import DomainError

SUBMISSION_TITLE = "Submit the application at the consulate"
TITLE_MAX = 200
RECENT_DONE = 5  # done tasks kept in view under the open ones, newest first


def _details(task: Task) -> dict[str, str | None]:
    return {"title": task.title, "due_on": task.due_on.isoformat() if task.due_on else None}


def add_task(case: Case, title: str, due_on: dt.date | None, *, by: User) -> Task:
    """Add an open task to the case; it needs a title, the due date is optional."""
    title = (title or "").strip()
    if not title:
        raise DomainError("Say what needs doing: a task needs a title.")
    if len(title) > TITLE_MAX:
        raise DomainError(f"Keep the task's title under {TITLE_MAX} characters.")
    task = Task(case_id=case.id, title=title, due_on=due_on, created_by_id=by.id)
    db.session.add(task)
    db.session.flush()
    audit.record("task.create", actor=by, obj=task, case_id=case.id, details=_details(task))
    return task


def add_submission_task(case: Case, *, by: User) -> Task:
    """Add the task of submitting the application, due on the case's planned submission date."""
    if case.planned_submission_on is None:
        raise DomainError("Set the planned submission date first: the task is due on it.")
    if has_submission_task(case):
        raise DomainError("The case already has a task for its planned submission date.")
    return add_task(case, SUBMISSION_TITLE, case.planned_submission_on, by=by)


def complete_task(task: Task, *, by: User) -> None:
    """Mark an open task done, remembering who did it and when."""
    if task.done_at is not None:
        raise DomainError("This task is already done.")
    task.done_at, task.done_by_id = utcnow(), by.id
    audit.record("task.done", actor=by, obj=task, case_id=task.case_id, details=_details(task))


def reopen_task(task: Task, *, by: User) -> None:
    """Put a done task back on the list, e.g. when the consulate asks for something again."""
    if task.done_at is None:
        raise DomainError("This task is still open.")
    task.done_at, task.done_by_id = None, None
    audit.record("task.reopen", actor=by, obj=task, case_id=task.case_id, details=_details(task))


def delete_task(task: Task, *, by: User) -> None:
    """Remove a task entered by mistake; its title and date stay in the audit trail."""
    audit.record("task.delete", actor=by, obj=task, case_id=task.case_id, details=_details(task))
    db.session.delete(task)


# Finding tasks -----------------------------------------------------------------------------------

def get_task(case: Case, task_id: int) -> Task | None:
    """A task of this case; a task of another case is as good as missing."""
    return db.session.scalar(select(Task).where(Task.id == task_id, Task.case_id == case.id))


def has_submission_task(case: Case) -> bool:
    return db.session.scalar(
        select(Task.id).where(Task.case_id == case.id, Task.title == SUBMISSION_TITLE,
                              Task.due_on == case.planned_submission_on).limit(1)) is not None


@dataclass(frozen=True)
class CaseTasks:
    """What the case page shows: the open tasks by due date, the latest done ones, and whether to
    offer the planned-submission task."""

    open: list[Task]
    done: list[Task]
    offer_submission_task: bool
    today: dt.date

    def is_overdue(self, task: Task) -> bool:
        return task.done_at is None and task.due_on is not None and task.due_on < self.today


def open_and_recent(case: Case, *, today: dt.date | None = None) -> CaseTasks:
    """The case's open tasks, soonest due first (undated last), and its most recently done ones."""
    open_tasks = list(db.session.scalars(
        select(Task).where(Task.case_id == case.id, Task.done_at.is_(None))
        .order_by(Task.due_on.is_(None), Task.due_on, Task.id)))
    done = list(db.session.scalars(
        select(Task).where(Task.case_id == case.id, Task.done_at.is_not(None))
        .order_by(Task.done_at.desc(), Task.id.desc()).limit(RECENT_DONE)))
    offer = case.planned_submission_on is not None and not has_submission_task(case)
    return CaseTasks(open=open_tasks, done=done, offer_submission_task=offer, today=today or dates.today())
