"""Accounts through the browser's eyes: signing in, throttling, sessions, re-authentication, password links.

Each request runs in its own app context (see `RequestIsolatingClient`), as it would on a server, so a
session that should have ended cannot survive through a user cached in `g` or a shared database session.
"""
from __future__ import annotations

import datetime as dt
import time
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from bs4 import BeautifulSoup
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from advisor import accounts, passwords
from models import AuditEvent, LoginThrottle, PasswordLink, Role, User, db, utcnow

from .conftest import PASSWORD

NEW_PASSWORD = "quartz-meadow-signal-77"
INCORRECT = "The email or password is incorrect."


def login(client: FlaskClient, email: str, password: str = PASSWORD, **kwargs: Any) -> Any:
    return client.post("/auth/login", data={"email": email, "password": password}, **kwargs)


def events(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)
                                   .order_by(AuditEvent.id)))


def flashes(response: Any) -> list[str]:
    soup = BeautifulSoup(response.data, "html.parser")
    return [p.get_text(strip=True) for p in soup.select("p.flash")]


def field_errors(response: Any) -> list[str]:
    soup = BeautifulSoup(response.data, "html.parser")
    return [p.get_text(strip=True) for p in soup.select("p.error")]


def main_text(response: Any) -> str:
    return BeautifulSoup(response.data, "html.parser").main.get_text(" ", strip=True)


def is_login_redirect(response: Any) -> bool:
    return response.status_code == 302 and urlsplit(response.location).path == "/auth/login"


def is_signed_in(client: FlaskClient) -> bool:
    response = client.get("/")
    assert response.status_code in (200, 302)
    return response.status_code == 200


def reload(user: User) -> User:
    db.session.expire_all()
    fresh = db.session.get(User, user.id)
    assert fresh is not None
    return fresh


def age_session(client: FlaskClient, **seconds_ago: int) -> None:
    with client.session_transaction() as session:
        for key, seconds in seconds_ago.items():
            session[key] = int(time.time()) - seconds


# Signing in --------------------------------------------------------------------------------------

def test_login_redirects_to_dashboard_and_session_works(client, advisor):
    response = login(client, advisor.email)
    assert response.status_code == 302
    assert urlsplit(response.location).path == "/"
    page = client.get("/")
    assert page.status_code == 200
    assert b"Alex Advisor" in page.data
    assert reload(advisor).last_login_at is not None
    assert [e.actor_id for e in events("auth.login")] == [advisor.id]


def test_login_email_is_case_and_space_insensitive(client, advisor):
    response = login(client, "  ADVISOR@Practice.TEST ")
    assert response.status_code == 302
    assert is_signed_in(client)


def test_wrong_password_is_refused_with_a_generic_message(client, advisor):
    response = login(client, advisor.email, "not-the-password")
    assert response.status_code == 401
    assert flashes(response) == [INCORRECT]
    assert not is_signed_in(client)
    failed = events("auth.login_failed")
    assert len(failed) == 1
    assert failed[0].actor_label == advisor.email
    assert failed[0].changes == {"reason": "credentials"}
    assert "not-the-password" not in str(failed[0].changes)


def test_unknown_email_gets_the_same_answer_as_a_wrong_password(client, advisor):
    wrong_password = login(client, advisor.email, "not-the-password")
    unknown = login(client, "nobody@practice.test", "not-the-password")
    assert unknown.status_code == wrong_password.status_code == 401
    assert flashes(unknown) == flashes(wrong_password) == [INCORRECT]
    assert main_text(unknown) == main_text(wrong_password)
    assert [e.actor_label for e in events("auth.login_failed")] == [advisor.email, "nobody@practice.test"]


def test_empty_form_does_not_sign_in(client, advisor):
    response = client.post("/auth/login", data={"email": advisor.email, "password": ""})
    assert response.status_code == 200
    assert not is_signed_in(client)


def _fail_until_locked(client: FlaskClient, email: str, app: Flask) -> list[Any]:
    return [login(client, email, f"wrong-{n}") for n in range(app.config["LOGIN_MAX_FAILURES"])]


def test_lockout_after_max_failures_even_with_the_right_password(app, client, advisor):
    responses = _fail_until_locked(client, advisor.email, app)
    assert all(r.status_code == 401 for r in responses)
    assert all(flashes(r) == [INCORRECT] for r in responses[:-1])
    minutes = app.config["LOGIN_LOCKOUT_MINUTES"]
    locked_message = f"Too many failed sign-in attempts. Try again in {minutes} minutes."
    assert flashes(responses[-1]) == [locked_message]

    response = login(client, advisor.email, PASSWORD)
    assert response.status_code == 401
    assert flashes(response) == [locked_message]
    assert not is_signed_in(client)
    assert len(events("auth.lockout")) == 1
    assert events("auth.login_failed")[-1].changes == {"reason": "locked"}


def test_lockout_reads_the_same_for_an_unknown_email(app, client, advisor):
    known = _fail_until_locked(client, advisor.email, app)[-1]
    unknown = _fail_until_locked(app.test_client(), "nobody@practice.test", app)[-1]
    assert known.status_code == unknown.status_code == 401
    assert flashes(known) == flashes(unknown)
    assert "Try again in" in flashes(unknown)[0]
    assert main_text(known) == main_text(unknown)
    # And with the right password the locked account still answers exactly like the unknown one.
    again = login(client, advisor.email, PASSWORD)
    assert main_text(again) == main_text(login(client, "nobody@practice.test", PASSWORD))


def test_lockout_of_one_email_leaves_other_accounts_alone(app, client, advisor, other_advisor):
    _fail_until_locked(client, advisor.email, app)
    assert login(client, other_advisor.email).status_code == 302


def test_lockout_expires(app, client, advisor):
    _fail_until_locked(client, advisor.email, app)
    assert login(client, advisor.email).status_code == 401
    window = dt.timedelta(minutes=app.config["LOGIN_WINDOW_MINUTES"])
    for row in db.session.scalars(select(LoginThrottle)):
        row.locked_until = utcnow() - dt.timedelta(seconds=1)
        row.window_started_at = utcnow() - window - dt.timedelta(minutes=1)
    db.session.commit()

    # Once expired, a single new failure starts a fresh count instead of locking again at once ...
    response = login(client, advisor.email, "wrong-again")
    assert flashes(response) == [INCORRECT]
    # ... and the right password works.
    assert login(client, advisor.email).status_code == 302
    assert is_signed_in(client)


def test_successful_login_resets_the_failure_count(app, client, advisor):
    limit = app.config["LOGIN_MAX_FAILURES"]
    for n in range(limit - 1):
        login(client, advisor.email, f"wrong-{n}")
    assert login(client, advisor.email).status_code == 302
    client.post("/auth/logout")
    for n in range(limit - 1):
        assert flashes(login(client, advisor.email, f"wrong-{n}"))[-1] == INCORRECT
    assert login(client, advisor.email).status_code == 302


@pytest.mark.parametrize("app_config", [{"LOGIN_MAX_FAILURES_PER_IP": 3}])
def test_per_address_limit_across_emails(app, client, advisor):
    for n in range(3):  # a different email each time: the per-email limit is never reached
        assert login(client, f"guess{n}@practice.test", "wrong").status_code == 401
    response = login(client, advisor.email, PASSWORD)
    assert response.status_code == 401
    assert "Try again in" in flashes(response)[0]
    assert not is_signed_in(client)

    elsewhere = app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "192.0.2.7"
    assert login(elsewhere, advisor.email).status_code == 302


def test_deactivated_user_cannot_log_in(client, make_user):
    former = make_user(email="former@practice.test", active=False)
    response = login(client, former.email)
    assert response.status_code == 401
    assert flashes(response) == [INCORRECT]
    assert not is_signed_in(client)
    assert events("auth.login_failed")[-1].changes == {"reason": "inactive"}


def test_user_without_password_cannot_log_in(client, make_user):
    invited = make_user(email="invited@practice.test", password=None)
    response = login(client, invited.email, "anything-at-all-1")
    assert response.status_code == 401
    assert not is_signed_in(client)


def test_already_signed_in_user_is_sent_on(client, advisor):
    login(client, advisor.email)
    response = client.get("/auth/login?next=/cases/")
    assert response.status_code == 302
    assert response.location == "/cases/"


# Sessions ----------------------------------------------------------------------------------------

def test_logout_is_post_only_and_ends_the_session(client, advisor):
    login(client, advisor.email)
    assert client.get("/auth/logout").status_code == 405
    assert is_signed_in(client)

    response = client.post("/auth/logout")
    assert is_login_redirect(response)
    assert "You have signed out." in flashes(client.get("/auth/login"))
    assert not is_signed_in(client)
    assert [e.actor_id for e in events("auth.logout")] == [advisor.id]


def test_logout_kills_a_copied_session_cookie(app, client, advisor):
    login(client, advisor.email)
    stolen = client.get_cookie("advisor_session", domain="advisor.test")
    assert stolen is not None
    client.post("/auth/logout")

    thief = app.test_client()
    thief.set_cookie("advisor_session", stolen.value, domain="advisor.test")
    assert is_login_redirect(thief.get("/"))


def test_logout_ends_other_sessions(app, client, advisor):
    other = app.test_client()
    login(client, advisor.email)
    login(other, advisor.email)
    assert is_signed_in(other)
    client.post("/auth/logout")
    assert is_login_redirect(other.get("/"))


def test_password_change_ends_other_sessions_but_not_this_one(app, client, advisor):
    other = app.test_client()
    login(client, advisor.email)
    login(other, advisor.email)
    response = client.post("/auth/account/password",
                           data={"current": PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 302
    assert is_signed_in(client)
    assert is_login_redirect(other.get("/"))


def test_deactivation_ends_sessions_and_reactivation_does_not_revive_them(app, client, admin, advisor):
    victim = app.test_client()
    login(victim, advisor.email)
    login(client, admin.email)
    assert is_signed_in(victim)

    assert client.post(f"/admin/users/{advisor.id}/deactivate").status_code == 302
    assert not reload(advisor).active
    assert is_login_redirect(victim.get("/"))
    assert [e.object_id for e in events("user.deactivate")] == [advisor.id]

    assert client.post(f"/admin/users/{advisor.id}/activate").status_code == 302
    assert reload(advisor).active
    assert is_login_redirect(victim.get("/"))
    assert login(victim, advisor.email).status_code == 302


def test_admin_cannot_deactivate_themself(client, admin):
    login(client, admin.email)
    response = client.post(f"/admin/users/{admin.id}/deactivate")
    assert response.status_code == 302
    assert reload(admin).active
    assert is_signed_in(client)


def test_password_reset_ends_sessions_and_the_old_password(app, client, admin, advisor):
    victim = app.test_client()
    login(victim, advisor.email)
    login(client, admin.email)

    response = client.post(f"/admin/users/{advisor.id}/reset-password")
    assert response.status_code == 200
    assert reload(advisor).password_hash is None
    assert is_login_redirect(victim.get("/"))
    assert login(victim, advisor.email, PASSWORD).status_code == 401
    assert [e.object_id for e in events("user.password_reset")] == [advisor.id]


def test_session_is_cleared_before_login(client, advisor):
    client.get("/auth/login")
    with client.session_transaction() as session:
        session["planted"] = "by-an-attacker"
        session["auth_at"] = 0
    login(client, advisor.email)
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session["auth_at"] > 0
        assert "_user_id" in session


def test_idle_timeout_redirects_to_login(app, client, advisor):
    login(client, advisor.email)
    idle = app.config["SESSION_IDLE_MINUTES"] * 60
    age_session(client, seen_at=idle + 5)
    response = client.get("/cases/?q=x")
    assert is_login_redirect(response)
    assert parse_qs(urlsplit(response.location).query)["next"] == ["/cases/?q=x"]
    assert "Your session has expired. Please sign in again." in flashes(client.get("/auth/login"))
    assert not is_signed_in(client)


def test_activity_within_the_idle_limit_keeps_the_session(app, client, advisor):
    login(client, advisor.email)
    idle = app.config["SESSION_IDLE_MINUTES"] * 60
    age_session(client, seen_at=idle - 60)
    assert is_signed_in(client)
    with client.session_transaction() as session:
        assert int(time.time()) - session["seen_at"] < 60  # the request moved the idle clock on


def test_absolute_timeout_redirects_to_login_despite_activity(app, client, advisor):
    login(client, advisor.email)
    limit = app.config["SESSION_ABSOLUTE_HOURS"] * 3600
    age_session(client, login_at=limit - 60, seen_at=10)
    assert is_signed_in(client)
    age_session(client, login_at=limit + 5, seen_at=10)
    assert is_login_redirect(client.get("/"))
    assert not is_signed_in(client)


def test_session_cookie_lifetime_matches_the_absolute_timeout(app, client, advisor):
    response = login(client, advisor.email)
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("advisor_session="))
    expires = parsedate_to_datetime(cookie.split("Expires=")[1].split(";")[0])
    expected = dt.datetime.now(dt.UTC) + dt.timedelta(hours=app.config["SESSION_ABSOLUTE_HOURS"])
    assert abs(expires - expected) < dt.timedelta(minutes=1)


# Re-authentication ------------------------------------------------------------------------------

@pytest.fixture
def stale_admin(app, client, admin):  # type: ignore[no-untyped-def]
    """An admin signed in long enough ago that user admin asks for the password again."""
    login(client, admin.email)
    age_session(client, auth_at=app.config["REAUTH_MINUTES"] * 60 + 5)
    return admin


@pytest.mark.parametrize("path", ["/admin/users", "/admin/users/new", "/admin/users/{id}/edit",
                                  "/admin/users/{id}/deactivate", "/admin/users/{id}/reset-password"])
def test_user_admin_asks_for_the_password_again(client, stale_admin, advisor, path):
    path = path.format(id=advisor.id)
    response = client.get(path)
    assert response.status_code == 302
    target = urlsplit(response.location)
    assert target.path == "/auth/confirm"
    assert parse_qs(target.query)["next"] == [path]


def test_fresh_login_does_not_ask_again(client, admin):
    login(client, admin.email)
    assert client.get("/admin/users").status_code == 200


def test_confirming_the_password_continues_to_next(client, stale_admin):
    assert client.get("/auth/confirm?next=/admin/users").status_code == 200
    response = client.post("/auth/confirm?next=/admin/users", data={"password": PASSWORD})
    assert response.status_code == 302
    assert response.location == "/admin/users"
    assert client.get("/admin/users").status_code == 200
    assert events("auth.reauth_failed") == []


def test_wrong_password_on_confirm_stays_and_is_audited(client, stale_admin):
    response = client.post("/auth/confirm?next=/admin/users", data={"password": "not-it-at-all"})
    assert response.status_code == 200
    assert "The password is incorrect." in field_errors(response)
    assert [e.actor_id for e in events("auth.reauth_failed")] == [stale_admin.id]
    assert client.get("/admin/users").status_code == 302


def test_confirm_does_not_redirect_off_site(client, stale_admin):
    response = client.post("/auth/confirm?next=//evil.com/admin", data={"password": PASSWORD})
    assert response.status_code == 302
    assert urlsplit(response.location).netloc in ("", "advisor.test")
    assert urlsplit(response.location).path == "/"


def test_stale_post_to_a_post_only_route_confirms_then_lands_on_a_working_page(client, stale_admin,
                                                                               make_user):
    former = make_user(email="former@practice.test", active=False)
    response = client.post(f"/admin/users/{former.id}/activate")
    assert response.status_code == 302
    assert urlsplit(response.location).path == "/auth/confirm"
    assert not reload(former).active  # nothing happened without the password

    confirmed = client.post(response.location, data={"password": PASSWORD})
    assert confirmed.status_code == 302
    assert client.get(confirmed.location).status_code == 200


# Password links ----------------------------------------------------------------------------------

def link_path(response: Any) -> str:
    field = BeautifulSoup(response.data, "html.parser").find("input", id="password-link")
    assert field is not None, response.data[:2000]
    url = urlsplit(str(field["value"]))
    assert url.path.startswith("/auth/password/")
    return url.path


def create_account(client: FlaskClient, email: str = "nora@example.org") -> str:
    response = client.post("/admin/users/new", data={"name": "Nora New", "email": email,
                                                     "role": "advisor", "version": "0"})
    assert response.status_code == 200, response.data[:2000]
    return link_path(response)


def set_password(client: FlaskClient, path: str, password: str, confirm: str | None = None) -> Any:
    return client.post(path, data={"password": password, "confirm": password if confirm is None else confirm})


@pytest.fixture
def invite(app, client, admin) -> str:  # type: ignore[no-untyped-def]
    """The one-time link of a new account, as the admin sees it after creating the account."""
    login(client, admin.email)
    return create_account(client)


def new_account() -> User:
    account = accounts.find_user_by_email("nora@example.org")
    assert account is not None
    return account


def test_admin_creates_a_user_and_sees_a_one_time_link(client, invite):
    account = new_account()
    assert account.role == Role.ADVISOR
    assert account.password_hash is None
    token = invite.rsplit("/", 1)[1]
    stored = db.session.scalars(select(PasswordLink).where(PasswordLink.user_id == account.id)).one()
    assert stored.purpose == "invite"
    assert token not in stored.token_hash  # only a digest of the token is kept
    assert events("user.create")[-1].object_id == account.id
    assert token not in str([e.changes for e in db.session.scalars(select(AuditEvent))])


def test_link_sets_the_password_once(app, invite):
    browser = app.test_client()
    page = browser.get(invite)
    assert page.status_code == 200
    assert b"nora@example.org" in page.data

    response = set_password(browser, invite, NEW_PASSWORD)
    assert is_login_redirect(response)
    assert login(browser, "nora@example.org", NEW_PASSWORD).status_code == 302
    assert is_signed_in(browser)
    assert events("user.password_set")[-1].changes == {"via": "invite"}

    again = app.test_client().get(invite)
    assert again.status_code == 404
    assert b"This link no longer works" in again.data
    assert set_password(app.test_client(), invite, "another-phrase-entirely-9").status_code == 404


@pytest.mark.parametrize("password, confirm, error", [
    ("short7!", None, "Use at least 8 characters."),
    ("password123", None, "This is a very common password. Choose a longer or less common password."),
    ("nora@example.org", None, "Choose a longer or less common password."),
    (NEW_PASSWORD, "quartz-meadow-signal-78", "The two passwords differ."),
])
def test_link_enforces_the_policy_and_saves_nothing(app, invite, password, confirm, error):
    browser = app.test_client()
    response = set_password(browser, invite, password, confirm)
    assert response.status_code == 200
    assert any(error in message for message in field_errors(response)), field_errors(response)
    assert new_account().password_hash is None
    assert browser.get(invite).status_code == 200  # the link still works
    assert events("user.password_set") == []


def test_link_accepts_a_long_passphrase(app, invite):
    passphrase = "the ferry to the island leaves at dawn and we will be on it with the bicycles, Nora"
    assert 72 < len(passphrase) <= passwords.MAX_LENGTH
    response = set_password(app.test_client(), invite, passphrase)
    assert is_login_redirect(response)
    assert login(app.test_client(), "nora@example.org", passphrase).status_code == 302


def test_expired_link_no_longer_works(app, invite):
    link = db.session.scalars(select(PasswordLink)).one()
    link.expires_at = utcnow() - dt.timedelta(seconds=1)
    db.session.commit()
    response = app.test_client().get(invite)
    assert response.status_code == 404
    assert b"This link no longer works" in response.data
    assert set_password(app.test_client(), invite, NEW_PASSWORD).status_code == 404
    assert new_account().password_hash is None


def test_unknown_link_no_longer_works(client):
    response = client.get("/auth/password/not-a-real-token")
    assert response.status_code == 404
    assert b"This link no longer works" in response.data


def test_a_new_link_kills_earlier_unused_ones(app, client, invite):
    account = new_account()
    response = client.post(f"/admin/users/{account.id}/reset-password")
    assert response.status_code == 200
    reset = link_path(response)
    assert reset != invite
    assert app.test_client().get(invite).status_code == 404
    assert app.test_client().get(reset).status_code == 200
    assert is_login_redirect(set_password(app.test_client(), reset, NEW_PASSWORD))
    assert events("user.password_set")[-1].changes == {"via": "reset"}


def test_link_of_a_deactivated_account_no_longer_works(app, client, invite):
    client.post(f"/admin/users/{new_account().id}/deactivate")
    assert app.test_client().get(invite).status_code == 404


def test_reset_link_gives_a_new_password_and_the_old_one_stays_dead(app, client, admin, advisor):
    login(client, admin.email)
    reset = link_path(client.post(f"/admin/users/{advisor.id}/reset-password"))
    browser = app.test_client()
    assert is_login_redirect(set_password(browser, reset, NEW_PASSWORD))
    assert login(browser, advisor.email, PASSWORD).status_code == 401
    assert login(browser, advisor.email, NEW_PASSWORD).status_code == 302


def test_using_a_link_while_signed_in_signs_out(app, client, admin, advisor):
    login(client, admin.email)
    reset = link_path(client.post(f"/admin/users/{advisor.id}/reset-password"))
    assert is_login_redirect(set_password(client, reset, NEW_PASSWORD))
    assert not is_signed_in(client)  # the admin's browser is not left signed in as the admin


# Changing one's own password ---------------------------------------------------------------------

def change(client: FlaskClient, current: str, new: str) -> Any:
    return client.post("/auth/account/password", data={"current": current, "password": new, "confirm": new})


def test_change_password(client, advisor):
    login(client, advisor.email)
    response = change(client, PASSWORD, NEW_PASSWORD)
    assert response.status_code == 302
    assert urlsplit(response.location).path == "/"
    assert [e.actor_id for e in events("user.password_change")] == [advisor.id]
    client.post("/auth/logout")
    assert login(client, advisor.email, PASSWORD).status_code == 401
    assert login(client, advisor.email, NEW_PASSWORD).status_code == 302


@pytest.mark.parametrize("current, new, error", [
    ("not-my-password", NEW_PASSWORD, "The current password is incorrect."),
    (PASSWORD, "password123", "This is a very common password."),
    (PASSWORD, "advisor@practice.test", "Choose a longer or less common password."),
])
def test_change_password_refused(client, advisor, current, new, error):
    before = advisor.password_hash
    login(client, advisor.email)
    response = change(client, current, new)
    assert response.status_code == 200
    assert any(error in message for message in field_errors(response)), field_errors(response)
    assert reload(advisor).password_hash == before
    assert events("user.password_change") == []
    assert is_signed_in(client)


# Password policy and storage ---------------------------------------------------------------------

@pytest.mark.parametrize("password, user_inputs, reason", [
    ("", (), "at least 8"),
    ("short7!", (), "at least 8"),
    ("x" * 129, (), "at most 128"),
    ("password123", (), "common"),
    ("qwertyuiop", (), "common"),
    ("Password1!", (), "common"),
    ("12345678", (), "common"),
    ("aaaaaaaaaaaa", (), "Choose a longer"),
    ("advisor@practice.test", ("advisor@practice.test", "Alex Advisor"), "Choose a longer"),
    ("advisorpractice", ("advisor@practice.test", "Alex Advisor"), "Choose a longer"),
])
def test_policy_refuses(password, user_inputs, reason):
    with pytest.raises(passwords.WeakPassword, match=reason):
        passwords.check_policy(password, user_inputs=user_inputs)


@pytest.mark.parametrize("password", [
    PASSWORD,
    "correcthorsebatterystaple",  # no composition rules: lower case letters alone are fine
    "ylwq8tmz",  # 8 characters are enough when they are not guessable
    "火山的湖水很清澈",
    "kiwi banjo marble lagoon",
    "tq7!Kz0#pW" * 12 + "tq7!Kz0#",  # 128 characters, beyond zxcvbn's default limit of 72
    "the ferry to the island leaves at dawn and we will be on it with the bicycles",
])
def test_policy_accepts(password):
    passwords.check_policy(password, user_inputs=("advisor@practice.test", "Alex Advisor"))


def test_stored_hash_is_argon2id_never_the_password(advisor):
    stored = reload(advisor).password_hash
    assert stored is not None
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored
    assert passwords.verify_password(stored, PASSWORD)
    assert not passwords.verify_password(stored, PASSWORD + "x")
    assert not passwords.verify_password(None, PASSWORD)
    assert not passwords.verify_password("not-a-hash", PASSWORD)


def test_default_hashing_parameters_meet_rfc_9106(app):
    from advisor.config import Defaults

    for name in ("ARGON2_TIME_COST", "ARGON2_MEMORY_KIB", "ARGON2_PARALLELISM"):
        app.config[name] = getattr(Defaults, name)
    assert passwords.hash_password(PASSWORD).startswith("$argon2id$v=19$m=65536,t=3,p=4$")


def test_login_upgrades_a_hash_made_with_older_parameters(app, client, advisor):
    app.config["ARGON2_TIME_COST"] = 2
    assert login(client, advisor.email).status_code == 302
    upgraded = reload(advisor).password_hash
    assert upgraded is not None and ",t=2," in upgraded
    assert passwords.verify_password(upgraded, PASSWORD)


def test_passwords_never_reach_the_audit_log(app, client, admin, advisor):
    login(client, advisor.email, "typo-" + PASSWORD)
    login(client, advisor.email)
    change(client, PASSWORD, NEW_PASSWORD)
    everything = " ".join(f"{e.actor_label} {e.changes}" for e in db.session.scalars(select(AuditEvent)))
    assert PASSWORD not in everything
    assert NEW_PASSWORD not in everything
    assert "$argon2" not in everything
    assert reload(advisor).session_token not in everything


def test_a_password_typed_into_the_email_field_is_not_logged(client, advisor):
    login(client, "violet harbour lantern", "whatever")
    labels = [event.actor_label for event in events("auth.login_failed")]
    assert labels == ["(not an email address)"]


def test_wrong_current_password_is_reported_beside_the_current_field(client, advisor):
    login(client, advisor.email)
    response = client.post("/auth/account/password", data={
        "current": "not-my-password-at-all", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 200
    soup = BeautifulSoup(response.data, "html.parser")
    assert soup.select_one("#current-error").get_text(strip=True) == "The current password is incorrect."
    assert soup.select_one("#password-error") is None
    assert [e.actor_id for e in events("user.password_change_failed")] == [advisor.id]


def test_a_lockout_that_has_ended_starts_a_fresh_count(client, advisor, app):
    app.config.update(LOGIN_LOCKOUT_MINUTES=1, LOGIN_WINDOW_MINUTES=60)
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        login(client, advisor.email, "wrong-password-here")
    for row in db.session.scalars(select(LoginThrottle)):
        row.locked_until = utcnow() - dt.timedelta(seconds=1)
    db.session.commit()
    response = login(client, advisor.email, "wrong-password-here")
    assert INCORRECT in flashes(response)  # one more failure, not a new lockout
    assert login(client, advisor.email).status_code == 302
