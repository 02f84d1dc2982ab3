"""Authorisation helpers for views: objects the user may not reach answer 404; admin pages 403."""
from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import abort, redirect, request, url_for
from flask_login import current_user, login_required

from advisor import web
from advisor.applicants import get_visible_applicant
from advisor.cases import get_visible_case
from advisor.extensions import login_manager
from models import Applicant, Case, User


def user() -> User:
    """The logged-in user, typed."""
    return current_user._get_current_object()  # type: ignore[no-any-return]


def get_case_or_404(case_id: int) -> Case:
    case = get_visible_case(user(), case_id)
    if case is None:
        abort(404)
    return case


def get_applicant_or_404(applicant_id: int) -> Applicant:
    applicant = get_visible_applicant(user(), applicant_id)
    if applicant is None:
        abort(404)
    return applicant


def admin_required(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    @login_required
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_admin:
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def recent_login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Sensitive pages ask for the password again when the last entry is older than REAUTH_MINUTES."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not web.is_recently_authenticated():
            # A POST-only route cannot be the place to come back to: a GET there would answer 405.
            answers_get = request.url_rule is not None and "GET" in (request.url_rule.methods or ())
            back = request.full_path.rstrip("?") if answers_get else None
            return redirect(url_for("auth.confirm", next=back))
        return view(*args, **kwargs)

    return wrapped


def require_login():  # type: ignore[no-untyped-def]
    """A blueprint's `before_request`: every route of the blueprint needs a login."""
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    return None
