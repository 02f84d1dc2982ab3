"""Signing in and out, confirming identity, and setting or changing a password."""
from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from advisor import accounts, audit, web
from advisor.errors import DomainError
from advisor.passwords import WeakPassword

from .access import user
from .editing import begin_write, commit, write
from .forms.auth import ChangePasswordForm, ConfirmIdentityForm, LoginForm, SetPasswordForm

bp = Blueprint("auth", __name__, url_prefix="/auth")


@bp.route("/login", methods=["GET", "POST"])
def login():  # type: ignore[no-untyped-def]
    next_url = request.args.get("next")
    if current_user.is_authenticated:
        return redirect(web.safe_next(next_url))
    form = LoginForm()
    if form.validate_on_submit():
        # The password is checked (argon2) in the read phase; only its bookkeeping takes the write lock.
        attempt = accounts.check_sign_in(form.email.data, form.password.data, ip=request.remote_addr)
        begin_write()
        try:
            account = accounts.record_sign_in(attempt)
        except DomainError as refused:
            commit()  # the failure counts and its audit event stay
            flash(str(refused), "error")
            return render_template("auth/login.html", form=form), 401
        commit()
        session.clear()  # no session fixation: nothing from before the login survives
        login_user(account)
        web.start_session()
        return redirect(web.safe_next(next_url))
    return render_template("auth/login.html", form=form)


@bp.post("/logout")
@login_required
def logout():  # type: ignore[no-untyped-def]
    begin_write()
    me = user()
    accounts.end_sessions(me)
    audit.record("auth.logout", actor=me, obj=me)
    commit()
    logout_user()
    session.clear()
    flash("You have signed out.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/confirm", methods=["GET", "POST"])
@login_required
def confirm():  # type: ignore[no-untyped-def]
    form = ConfirmIdentityForm()
    if form.validate_on_submit():
        try:
            confirmed = accounts.verify_identity(user(), form.password.data, ip=request.remote_addr)
        except DomainError as locked:
            form.password.errors.append(str(locked))
        else:
            if confirmed:
                web.confirm_identity()
                return redirect(web.safe_next(request.args.get("next")))
            write(lambda: accounts.count_failed_password(user(), ip=request.remote_addr, action="auth.reauth_failed"))
            form.password.errors.append("The password is incorrect.")
    return render_template("auth/confirm.html", form=form)


@bp.route("/password/<token>", methods=["GET", "POST"])
def set_password(token: str):  # type: ignore[no-untyped-def]
    link = accounts.find_password_link(token)
    if link is None:
        return render_template("auth/link_invalid.html"), 404
    form = SetPasswordForm()
    if form.validate_on_submit():
        try:
            password_hash = accounts.new_password_hash(link.user, form.password.data)  # slow: before the write
        except DomainError as weak:
            form.password.errors.append(str(weak))
        else:
            write(lambda: accounts.set_password_with_link(link, password_hash))
            logout_user()
            session.clear()
            flash("Your password is set. Sign in with it now.", "success")
            return redirect(url_for("auth.login"))
    return render_template("auth/set_password.html", form=form, account=link.user, purpose=link.purpose)


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():  # type: ignore[no-untyped-def]
    form = ChangePasswordForm()
    if form.validate_on_submit():
        me = user()
        try:
            password_hash = accounts.check_password_change(me, current=form.current.data, new=form.password.data,
                                                           ip=request.remote_addr)
        except WeakPassword as weak:
            form.password.errors.append(str(weak))
        except accounts.WrongPassword as wrong:
            write(lambda: accounts.count_failed_password(me, ip=request.remote_addr,
                                                         action="user.password_change_failed"))
            form.current.errors.append(str(wrong))
        except DomainError as locked:
            form.current.errors.append(str(locked))
        else:
            write(lambda: accounts.change_password(me, password_hash))
            session.clear()
            login_user(me)  # this session goes on with the new token; all others have ended
            web.start_session()
            flash("Your password has been changed. Other sessions have been signed out.", "success")
            return redirect(url_for("main.dashboard"))
    return render_template("auth/change_password.html", form=form)
