"""Admin pages: advisor accounts. Every page asks for a recent password entry."""
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from advisor import accounts, links
from advisor.errors import Conflict, DomainError
from models import Role, User, db

from .access import admin_required, recent_login_required, user
from .editing import begin_write, commit, show_conflict
from .forms.admin import UserForm
from .forms.common import ActionForm
from .listing import list_args, paginate

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
@admin_required
def require_admin() -> None:
    return None


def get_user_or_404(user_id: int) -> User:
    return db.get_or_404(User, user_id)


@bp.get("/users")
@recent_login_required
def users():  # type: ignore[no-untyped-def]
    page = paginate(select(User).order_by(User.active.desc(), User.name, User.id), per_page=50)
    return render_template("admin/users.html", page=page, args=list_args(""), action_form=ActionForm())


@bp.route("/users/new", methods=["GET", "POST"])
@recent_login_required
def new_user():  # type: ignore[no-untyped-def]
    form = UserForm(version=0)
    if form.validate_on_submit():
        try:
            begin_write()
            account, token = accounts.create_user(email=form.email.data, name=form.name.data,
                                                  role=Role(form.role.data), by=user())
            link = links.external_url("auth.set_password", token=token)
        except DomainError as refused:
            db.session.rollback()
            form.email.errors.append(str(refused))
        else:
            commit()
            return render_template("admin/link_issued.html", account=account, purpose="invite", link=link)
    return render_template("admin/user_form.html", form=form, account=None)


@bp.route("/users/<int:user_id>/edit", methods=["GET", "POST"])
@recent_login_required
def edit_user(user_id: int):  # type: ignore[no-untyped-def]
    account = get_user_or_404(user_id)
    form = UserForm(obj=account if request.method == "GET" else None)
    differences: list[tuple[str, str, str]] = []
    if request.method == "GET":
        form.role.data = account.role.value
    if form.validate_on_submit():
        try:
            begin_write()
            accounts.update_user(account, email=form.email.data, name=form.name.data,
                                 role=Role(form.role.data), version=form.version.data, by=user())
            commit()
        except Conflict as conflict:
            flash(str(conflict), "error")
            differences = show_conflict(form, account, {"name": "name", "email": "email", "role": "role"})
        except DomainError as refused:
            db.session.rollback()
            flash(str(refused), "error")
        else:
            flash(f"Saved {account.name}.", "success")
            return redirect(url_for("admin.users"))
    return render_template("admin/user_form.html", form=form, account=account, differences=differences)


@bp.route("/users/<int:user_id>/deactivate", methods=["GET", "POST"])
@recent_login_required
def deactivate_user(user_id: int):  # type: ignore[no-untyped-def]
    return _confirm_action(user_id, "deactivate")


@bp.route("/users/<int:user_id>/activate", methods=["POST"])
@recent_login_required
def activate_user(user_id: int):  # type: ignore[no-untyped-def]
    return _confirm_action(user_id, "activate")


@bp.route("/users/<int:user_id>/reset-password", methods=["GET", "POST"])
@recent_login_required
def reset_password(user_id: int):  # type: ignore[no-untyped-def]
    return _confirm_action(user_id, "reset")


def _confirm_action(user_id: int, action: str):  # type: ignore[no-untyped-def]
    """GET shows a confirmation page; POST (with CSRF) does it."""
    account = get_user_or_404(user_id)
    form = ActionForm()
    if request.method == "GET":
        return render_template("admin/confirm.html", account=account, action=action, form=form)
    if not form.validate_on_submit():
        abort(400)
    try:
        begin_write()
        if action == "reset":
            link = links.external_url("auth.set_password",
                                      token=accounts.issue_password_link(account, by=user(), purpose="reset"))
        else:
            accounts.set_active(account, action == "activate", by=user())
    except DomainError as refused:
        flash(str(refused), "error")
        return redirect(url_for("admin.users"))
    commit()
    if action == "reset":
        return render_template("admin/link_issued.html", account=account, purpose="reset", link=link)
    flash(f"{account.name} is now {'active' if account.active else 'deactivated'}.", "success")
    return redirect(url_for("admin.users"))
