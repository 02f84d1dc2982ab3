"""Web hardening: who is logged in, session timeouts, security headers and safe redirects."""
from __future__ import annotations

import time
from itertools import chain
from urllib.parse import unquote, urlsplit

from flask import Flask, Response, abort, current_app, flash, redirect, request, session, url_for
from flask_login import LoginManager, current_user, logout_user
from sqlalchemy import select

from models import User, db

CSP = "; ".join([
    "default-src 'self'",
    "img-src 'self' data:",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])


def configure_login(login_manager: LoginManager) -> None:
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to continue."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"

    @login_manager.user_loader
    def load_user(session_token: str) -> User | None:
        # The id in the session is the rotating token: a reset, logout or deactivation ends it.
        return db.session.scalar(select(User).where(User.session_token == session_token,
                                                    User.active.is_(True)))


def start_session() -> None:
    """Mark the start of a login; called after `session.clear()` and `login_user`."""
    now = int(time.time())
    session.permanent = True
    session["login_at"] = now
    session["seen_at"] = now
    session["auth_at"] = now


def confirm_identity() -> None:
    session["auth_at"] = int(time.time())


def is_recently_authenticated() -> bool:
    minutes = current_app.config["REAUTH_MINUTES"]
    return int(time.time()) - int(session.get("auth_at", 0)) <= minutes * 60


def is_safe_next(target: str | None) -> bool:
    """Only a path on this site: no scheme, no host, no backslash tricks, no control characters."""
    if not target:
        return False
    decoded = unquote(target)
    if not decoded.startswith("/") or decoded.startswith("//") or "\\" in decoded:
        return False
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in decoded):
        return False
    parts = urlsplit(decoded)
    return not parts.scheme and not parts.netloc


def safe_next(target: str | None, default: str = "main.dashboard") -> str:
    return target if target and is_safe_next(target) else url_for(default)


def register_hardening(app: Flask) -> None:
    @app.before_request
    def refuse_nul_characters() -> None:
        # No field may hold a NUL: PostgreSQL refuses it in text (a 500), and no browser sends one.
        fields = chain(request.args.items(multi=True), request.form.items(multi=True))
        if any("\x00" in name or "\x00" in value for name, value in fields):
            abort(400)

    @app.before_request
    def enforce_session_timeouts():  # type: ignore[no-untyped-def]
        if request.endpoint == "static" or not current_user.is_authenticated:
            return None
        now = int(time.time())
        config = current_app.config
        idle = now - int(session.get("seen_at", 0)) > config["SESSION_IDLE_MINUTES"] * 60
        too_old = now - int(session.get("login_at", 0)) > config["SESSION_ABSOLUTE_HOURS"] * 3600
        if idle or too_old:
            logout_user()
            session.clear()
            flash("Your session has expired. Please sign in again.", "info")
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        session["seen_at"] = now
        return None

    @app.after_request
    def add_security_headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CSP)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        headers.setdefault("Permissions-Policy", "camera=(self), geolocation=(), microphone=()")
        if request.is_secure:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        if request.endpoint != "static":
            headers["Cache-Control"] = "no-store"
        return response
