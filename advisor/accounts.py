"""Accounts: creating and editing users, one-time password links, logging in with throttling.

Lockout is per email (whether or not an account has it, so a lockout message tells nothing) and per
client address. The counters live in the database, so every worker and host sees the same ones.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import func, select, update

from models import LoginThrottle, PasswordLink, Role, User, db, utcnow

from . import audit
from .dbutil import insert_ignore
from .errors import Conflict, DomainError
from .passwords import check_policy, hash_password, needs_rehash, verify_password

LINK_PURPOSES = ("invite", "reset")


class LoginRefused(DomainError):
    def __init__(self) -> None:
        super().__init__("The email or password is incorrect.")


class LockedOut(DomainError):
    def __init__(self, minutes: int) -> None:
        self.minutes = minutes
        unit = "minute" if minutes == 1 else "minutes"
        super().__init__(f"Too many failed sign-in attempts. Try again in {minutes} {unit}.")


def normalize_email(email: str) -> str:
    return email.strip().lower()


def _new_session_token() -> str:
    return secrets.token_urlsafe(32)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def find_user_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == normalize_email(email)))


def _ensure_email_free(email: str, *, except_user: User | None = None) -> None:
    other = find_user_by_email(email)
    if other is not None and other is not except_user:
        raise DomainError("Another account already uses this email address.")


# Creating and editing -------------------------------------------------------------------------

def create_user(*, email: str, name: str, role: Role, by: User | None,
                password: str | None = None) -> tuple[User, str | None]:
    """Create an account. Without a password the user gets a one-time link to choose one (returned)."""
    email = normalize_email(email)
    _ensure_email_free(email)
    user = User(email=email, name=name.strip(), role=role, active=True, session_token=_new_session_token())
    if password is not None:
        check_policy(password, user_inputs=(email, name))
        user.password_hash = hash_password(password)
        user.password_changed_at = utcnow()
    db.session.add(user)
    db.session.flush()
    audit.record("user.create", actor=by, obj=user, details=audit.snapshot(user))
    token = None if password is not None else issue_password_link(user, by=by, purpose="invite")
    return user, token


def update_user(user: User, *, email: str, name: str, role: Role, version: int, by: User) -> None:
    """Edit an account. An admin cannot take away their own admin role (someone must remain admin)."""
    if version != user.version:
        raise Conflict()
    email = normalize_email(email)
    _ensure_email_free(email, except_user=user)
    if user is by and role != Role.ADMIN:
        raise DomainError("You cannot remove your own admin role.")
    user.email, user.name, user.role = email, name.strip(), role
    diff = audit.changes(user)
    if diff:
        _bump_version(user, version)
        audit.record("user.update", actor=by, obj=user, details=diff)


def _bump_version(user: User, seen: int) -> None:
    """Move the version on in the database only if it is still the one the editor saw: of two
    concurrent saves, the second raises Conflict."""
    moved = db.session.execute(update(User).where(User.id == user.id, User.version == seen)
                               .values(version=seen + 1).execution_options(synchronize_session=False))
    if moved.rowcount != 1:
        raise Conflict()
    db.session.expire(user, ["version"])


def set_active(user: User, active: bool, *, by: User) -> None:
    """Deactivate (ending every session at once) or reactivate an account."""
    if user is by:
        raise DomainError("You cannot deactivate your own account.")
    if user.active == active:
        return
    user.active = active
    if not active:
        user.session_token = _new_session_token()
    audit.record("user.activate" if active else "user.deactivate", actor=by, obj=user)


# One-time password links ---------------------------------------------------------------------

def issue_password_link(user: User, *, by: User | None, purpose: str) -> str:
    """Create a one-time link token; earlier unused links die. A reset also ends the old password."""
    assert purpose in LINK_PURPOSES
    now = utcnow()
    for link in db.session.scalars(
        select(PasswordLink).where(PasswordLink.user_id == user.id, PasswordLink.used_at.is_(None))
    ):
        link.used_at = now
    token = secrets.token_urlsafe(32)
    hours = current_app.config["PASSWORD_LINK_HOURS"]
    db.session.add(PasswordLink(user_id=user.id, token_hash=_digest(token), purpose=purpose,
                                expires_at=now + dt.timedelta(hours=hours),
                                created_by_id=by.id if by else None))
    if purpose == "reset":
        user.password_hash = None
        user.session_token = _new_session_token()
        audit.record("user.password_reset", actor=by, obj=user)
    return token


def find_password_link(token: str) -> PasswordLink | None:
    """The usable link for a token: unused, unexpired, and for an active account."""
    link = db.session.scalar(select(PasswordLink).where(PasswordLink.token_hash == _digest(token)))
    if link is None or link.used_at is not None or link.expires_at <= utcnow() or not link.user.active:
        return None
    return link


def new_password_hash(user: User, password: str) -> str:
    """Check a new password against the policy (raising WeakPassword) and hash it. Both are slow (zxcvbn,
    argon2), so callers do this before their write phase: SQLite's write lock is never held for a hash."""
    check_policy(password, user_inputs=(user.email, user.name))
    return hash_password(password)


def set_password_with_link(link: PasswordLink, password_hash: str) -> User:
    """Use a one-time link: `password_hash` comes from `new_password_hash`."""
    user = link.user
    link.used_at = utcnow()
    _set_password(user, password_hash)
    audit.record("user.password_set", actor=user, obj=user, details={"via": link.purpose})
    return user


class WrongPassword(DomainError):
    def __init__(self) -> None:
        super().__init__("The current password is incorrect.")


def check_password_change(user: User, *, current: str, new: str, ip: str | None = None) -> str:
    """The read phase of a password change: the current password (under the sign-in throttle, raising
    LockedOut; a wrong one raises WrongPassword, for the caller to count with `count_failed_password`),
    then the new one's policy and hash, returned for `change_password`."""
    if not verify_identity(user, current, ip=ip):
        raise WrongPassword()
    return new_password_hash(user, new)


def change_password(user: User, password_hash: str) -> None:
    _set_password(user, password_hash)
    audit.record("user.password_change", actor=user, obj=user)


def _set_password(user: User, password_hash: str) -> None:
    """Store a new hash and rotate the session token, which ends every other session."""
    user.password_hash = password_hash
    user.password_changed_at = utcnow()
    user.session_token = _new_session_token()


# Logging in ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Limits:
    max_failures: int
    window: dt.timedelta
    lockout: dt.timedelta


def _limits(kind: str) -> _Limits:
    config = current_app.config
    return _Limits(
        max_failures=config["LOGIN_MAX_FAILURES_PER_IP" if kind == "ip" else "LOGIN_MAX_FAILURES"],
        window=dt.timedelta(minutes=config["LOGIN_WINDOW_MINUTES"]),
        lockout=dt.timedelta(minutes=config["LOGIN_LOCKOUT_MINUTES"]),
    )


def _throttle_keys(email: str, ip: str | None) -> list[tuple[str, str]]:
    keys = [("email", "email:" + _digest(normalize_email(email)))]
    if ip:
        keys.append(("ip", "ip:" + ip))
    return keys


def _throttle_row(key: str) -> LoginThrottle:
    db.session.execute(insert_ignore(LoginThrottle, {"key": key, "failures": 0,
                                                     "window_started_at": utcnow()}))
    row = db.session.get(LoginThrottle, key, with_for_update=True, populate_existing=True)
    assert row is not None
    return row


def _check_locked(keys: list[tuple[str, str]]) -> None:
    now = utcnow()
    rows = db.session.scalars(select(LoginThrottle).where(LoginThrottle.key.in_([k for _, k in keys])))
    for row in rows:
        if row.locked_until and row.locked_until > now:
            minutes = max(1, -int(-(row.locked_until - now).total_seconds() // 60))
            raise LockedOut(minutes)


def _count_failure(keys: list[tuple[str, str]]) -> None:
    now = utcnow()
    for kind, key in keys:
        limits = _limits(kind)
        row = _throttle_row(key)
        lock_over = row.locked_until is not None and row.locked_until <= now
        if lock_over or now - row.window_started_at > limits.window:
            row.failures, row.window_started_at, row.locked_until = 0, now, None
        row.failures += 1
        if row.failures >= limits.max_failures:
            row.locked_until = now + limits.lockout


@dataclass(frozen=True)
class SignInAttempt:
    """What checking a sign-in found, before anything about it is written."""
    keys: list[tuple[str, str]]
    label: str  # what was typed in the email field, if it looks like an email: never a password
    outcome: str  # "ok", "locked", "credentials" or "inactive"
    user_id: int | None = None
    locked_minutes: int = 0
    new_hash: str | None = None  # the password hashed at today's cost, when the stored hash is older


def check_sign_in(email: str, password: str, *, ip: str | None) -> SignInAttempt:
    """The read phase of a sign-in: the throttle, the account and the password (argon2: the slow part).
    It writes nothing, so on SQLite no write lock is held while the password is checked; the caller then
    records the attempt with `record_sign_in` in a short write phase."""
    keys = _throttle_keys(email, ip)
    label = normalize_email(email)[:254] if "@" in email else "(not an email address)"
    try:
        _check_locked(keys)
    except LockedOut as locked:
        return SignInAttempt(keys, label, "locked", locked_minutes=locked.minutes)
    user = find_user_by_email(email)
    ok = verify_password(user.password_hash if user else None, password)
    if not ok or user is None:
        return SignInAttempt(keys, label, "credentials")
    if not user.active:
        return SignInAttempt(keys, label, "inactive")
    new_hash = hash_password(password) if needs_rehash(user.password_hash or "") else None
    return SignInAttempt(keys, label, "ok", user_id=user.id, new_hash=new_hash)


def record_sign_in(attempt: SignInAttempt) -> User:
    """Write down a checked sign-in and return the user, or raise LoginRefused / LockedOut.

    Every failure is counted and audited first, in the same transaction, which the caller commits even
    when this raises. The throttle rows are read again here, under the write lock, so attempts racing
    each other all count.
    """
    label = attempt.label
    if attempt.outcome == "locked":
        audit.record("auth.login_failed", actor=None, actor_label=label, details={"reason": "locked"})
        raise LockedOut(attempt.locked_minutes)
    user = db.session.get(User, attempt.user_id) if attempt.user_id is not None else None
    if attempt.outcome != "ok" or user is None or not user.active:
        _count_failure(attempt.keys)
        reason = "credentials" if attempt.outcome == "credentials" else "inactive"
        audit.record("auth.login_failed", actor=None, actor_label=label, details={"reason": reason})
        try:
            _check_locked(attempt.keys)
        except LockedOut:
            audit.record("auth.lockout", actor=None, actor_label=label)
            raise
        raise LoginRefused()
    db.session.execute(db.delete(LoginThrottle).where(LoginThrottle.key == attempt.keys[0][1]))
    if attempt.new_hash:
        user.password_hash = attempt.new_hash
    user.last_login_at = utcnow()
    audit.record("auth.login", actor=user, obj=user)
    return user


def authenticate(email: str, password: str, *, ip: str | None) -> User:
    """Both phases at once, for callers outside a web request (a command holds no lock worth sparing)."""
    return record_sign_in(check_sign_in(email, password, ip=ip))


def verify_identity(user: User, password: str, *, ip: str | None = None) -> bool:
    """Re-authentication before sensitive pages, under the sign-in throttle (raising LockedOut): else a
    stolen session could guess the password without limit. Reads only; the caller counts a wrong password
    with `count_failed_password` in its write phase."""
    _check_locked(_throttle_keys(user.email, ip))
    return verify_password(user.password_hash, password)


def count_failed_password(user: User, *, ip: str | None, action: str) -> None:
    """Count and audit a signed-in user's wrong password (`auth.reauth_failed`, `user.password_change_failed`)."""
    _count_failure(_throttle_keys(user.email, ip))
    audit.record(action, actor=user, obj=user)


def end_sessions(user: User) -> None:
    """Sign the user out everywhere: every session holds the old token, which no longer loads."""
    user.session_token = _new_session_token()


def count_admins() -> int:
    return db.session.scalar(
        select(func.count()).select_from(User).where(User.role == Role.ADMIN, User.active.is_(True))
    ) or 0
