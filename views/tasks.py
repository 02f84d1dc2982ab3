"""Tasks on a case: add one (or the planned-submission task), mark done, reopen, delete.

Every route answers from the case page and goes back to its task list; a task of another case is
missing (404), like a case the user may not see.
"""
from collections.abc import Callable

from flask import Blueprint, abort, flash, redirect, url_for
from werkzeug.wrappers import Response

from advisor import tasks
from models import Case

from .access import get_case_or_404, require_login, user
from .editing import apply
from .forms.common import ActionForm
from .forms.tasks import TaskForm

bp = Blueprint("tasks", __name__, url_prefix="/cases/<int:case_id>/tasks")
bp.before_request(require_login)


def _back(case: Case) -> Response:
    return redirect(url_for("cases.detail", case_id=case.id, _anchor="tasks"))


def _apply(case: Case, change: Callable[[], object], done: str) -> Response:
    return apply(change, done, url_for("cases.detail", case_id=case.id, _anchor="tasks"))


@bp.post("/add")
def add(case_id: int) -> Response:
    case = get_case_or_404(case_id)
    form = TaskForm()
    if not form.validate_on_submit():
        flash(" ".join(error for errors in form.errors.values() for error in errors), "error")
        return _back(case)
    return _apply(case, lambda: tasks.add_task(case, form.title.data, form.due_on.data, by=user()),
                  f"Task added: {form.title.data}")


@bp.post("/submission")
def add_submission(case_id: int) -> Response:
    case = get_case_or_404(case_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    return _apply(case, lambda: tasks.add_submission_task(case, by=user()),
                  f"Task added: {tasks.SUBMISSION_TITLE}, due on {case.planned_submission_on}.")


def _task_action(case_id: int, task_id: int, operation: Callable[..., None], done: str) -> Response:
    case = get_case_or_404(case_id)
    task = tasks.get_task(case, task_id)
    if task is None:
        abort(404)
    if not ActionForm().validate_on_submit():
        abort(400)
    message = done.format(title=task.title)  # read now: after a delete the row is gone
    return _apply(case, lambda: operation(task, by=user()), message)


@bp.post("/<int:task_id>/done")
def done(case_id: int, task_id: int) -> Response:
    return _task_action(case_id, task_id, tasks.complete_task, "Done: {title}")


@bp.post("/<int:task_id>/reopen")
def reopen(case_id: int, task_id: int) -> Response:
    return _task_action(case_id, task_id, tasks.reopen_task, "Reopened: {title}")


@bp.post("/<int:task_id>/delete")
def delete(case_id: int, task_id: int) -> Response:
    return _task_action(case_id, task_id, tasks.delete_task, "Deleted: {title}")

