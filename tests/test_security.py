"""Web security: CSRF, who may reach which route, safe redirects, headers, cookies, secrets, error pages.

Each request runs in its own app context (see `RequestIsolatingClient`), as it would on a server.
"""
from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from bs4 import BeautifulSoup
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from advisor import create_app, web
from models import Role, User, db
from views import PUBLIC_ENDPOINTS

from .conftest import PASSWORD, RequestIsolatingClient, base_config

HOST = "advisor.test"


def login(client: FlaskClient, email: str, password: str = PASSWORD, **kwargs: Any) -> Any:
    return client.post("/auth/login", data={"email": email, "password": password}, **kwargs)


def csrf_token(response: Any) -> str:
    field = BeautifulSoup(response.data, "html.parser").find("input", attrs={"name": "csrf_token"})
    assert field is not None, response.data[:2000]
    return str(field["value"])


def is_login_redirect(response: Any) -> bool:
    return response.status_code == 302 and urlsplit(response.location).path == "/auth/login"


def sample_url(app: Flask, endpoint: str, method: str) -> str:
    """The URL of an endpoint with every variable filled with 1 (a valid int, path and token alike)."""
    rule = next(iter(app.url_map.iter_rules(endpoint)))
    adapter = app.url_map.bind(HOST)
    return adapter.build(endpoint, {name: 1 for name in rule.arguments}, method=method)


def routes(app: Flask) -> list[tuple[str, str, str]]:
    """(endpoint, method, rule) for every method a rule answers, HEAD and OPTIONS aside."""
    return sorted(
        (rule.endpoint, method, rule.rule)
        for rule in app.url_map.iter_rules()
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    )


# CSRF --------------------------------------------------------------------------------------------

csrf_on = pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True}], ids=["csrf"])


@csrf_on
def test_login_without_a_csrf_token_is_refused(client, advisor):
    response = login(client, advisor.email)
    assert response.status_code == 400
    assert b"Form expired" in response.data
    assert b"reload the page" in response.data
    assert is_login_redirect(client.get("/"))


@csrf_on
def test_login_with_a_csrf_token_works(client, advisor):
    token = csrf_token(client.get("/auth/login"))
    response = client.post("/auth/login", data={"email": advisor.email, "password": PASSWORD,
                                                "csrf_token": token})
    assert response.status_code == 302
    assert client.get("/").status_code == 200


@csrf_on
def test_a_token_from_another_session_is_refused(app, client, advisor):
    token = csrf_token(app.test_client().get("/auth/login"))
    response = client.post("/auth/login", data={"email": advisor.email, "password": PASSWORD,
                                                "csrf_token": token})
    assert response.status_code == 400
    assert b"Form expired" in response.data


@csrf_on
def test_state_changing_routes_need_the_token(client, advisor):
    client.post("/auth/login", data={"email": advisor.email, "password": PASSWORD,
                                     "csrf_token": csrf_token(client.get("/auth/login"))})
    for path in ("/auth/logout", "/applicants/new", "/auth/account/password"):
        response = client.post(path, data={"current": PASSWORD})
        assert response.status_code == 400, path
        assert b"Form expired" in response.data
    assert client.get("/").status_code == 200  # still signed in: the logout did not happen

    token = csrf_token(client.get("/"))  # the sign-out form of the page header
    response = client.post("/auth/logout", data={"csrf_token": token})
    assert is_login_redirect(response)
    assert is_login_redirect(client.get("/"))


@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True, "TRUSTED_HOSTS": ["advisor.test", "127.0.0.1"]}],
                         ids=["csrf"])
@pytest.mark.parametrize("host, referrer", [
    ("advisor.test", "https://[::1/"),
    ("127.0.0.1:5302", "https://127.0.0.1:5302.evil.example/"),  # same host name, a port that is not a number
    ("advisor.test", "https://advisor.test:99999/"),
    ("advisor.test", "https://advisor.test:http/"),
    ("advisor.test", "https://evil.example/"),
])
def test_an_https_post_with_a_bad_referrer_answers_400(app, advisor, host, referrer):
    client = app.test_client()
    base = f"https://{host}"
    token = csrf_token(client.get("/auth/login", base_url=base))
    response = client.post("/auth/login", base_url=base, headers={"Referer": referrer},
                           data={"email": advisor.email, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 400
    assert response.content_type == "text/html; charset=utf-8"
    assert b"Form expired" in response.data and b"Traceback" not in response.data
    assert is_login_redirect(client.get("/", base_url=base))
    # The same form with the site's own Referer signs in: only the header was wrong.
    response = client.post("/auth/login", base_url=base, headers={"Referer": f"{base}/auth/login"},
                           data={"email": advisor.email, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302


# Who may reach which route -----------------------------------------------------------------------

def test_public_endpoints_are_the_expected_few(app):
    assert PUBLIC_ENDPOINTS == {"auth.login", "auth.set_password", "main.health", "static", "upload_links.public",
                                "upload_links.public_upload"}
    assert PUBLIC_ENDPOINTS <= {rule.endpoint for rule in app.url_map.iter_rules()}


def test_every_other_route_sends_anonymous_visitors_to_login(app, client):
    checked = []
    for endpoint, method, rule in routes(app):
        if endpoint in PUBLIC_ENDPOINTS:
            continue
        url = sample_url(app, endpoint, method)
        response = client.open(url, method=method)
        assert is_login_redirect(response), (method, rule, response.status_code, response.location)
        next_url = parse_qs(urlsplit(response.location).query)["next"][0]
        assert urlsplit(next_url).path == urlsplit(url).path, (method, rule, next_url)
        checked.append(rule)
    assert "/cases/<int:case_id>/reassign" in checked and "/auth/logout" in checked


def test_public_routes_answer_without_login(client):
    assert client.get("/auth/login").status_code == 200
    assert client.post("/auth/login", data={}).status_code == 200
    assert client.get("/health").status_code == 200
    static = client.get("/static/css/advisor.css")
    static.close()
    assert static.status_code == 200
    for method in ("GET", "POST"):
        response = client.open("/auth/password/1", method=method)
        assert response.status_code == 404  # an unknown link, not a demand to sign in
        assert b"This link no longer works" in response.data


def test_health_answers_ok_without_login(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.is_json
    assert response.get_json() == {"status": "ok"}


def test_admin_pages_answer_403_to_advisors(app, client, admin, advisor):
    login(client, advisor.email)
    checked = []
    for endpoint, method, rule in routes(app):
        if not rule.startswith(("/admin", "/audit")):
            continue
        url = sample_url(app, endpoint, method).replace("/1/", f"/{admin.id}/")
        response = client.open(url, method=method)
        assert response.status_code == 403, (method, rule, response.status_code)
        assert b"Your account does not have access to this page." in response.data
        checked.append(rule)
    assert {"/admin/users", "/admin/users/new", "/audit/"} <= set(checked)
    assert len(checked) >= 10
    db.session.expire_all()
    assert db.session.get(User, admin.id).active  # the POSTs changed nothing
    assert db.session.get(User, admin.id).role == Role.ADMIN


# Redirects only ever lead to this site -----------------------------------------------------------

HOSTILE_NEXT = [
    "next=//evil.com",
    "next=///evil.com",
    "next=////evil.com",
    "next=/%5Cevil.com",
    "next=/%5C/evil.com",
    "next=%5C%5Cevil.com",
    "next=/\\evil.com",
    "next=https://evil.com",
    "next=https%3A%2F%2Fevil.com%2F",
    "next=http:evil.com",
    "next=HTTPS://evil.com",
    "next=javascript:alert(1)",
    "next=%2F%2Fevil.com",
    "next=%252F%252Fevil.com",
    "next=/%252F/evil.com",
    "next=/%09/evil.com",
    "next=/%0D%0ALocation:%20http://evil.com",
    "next=%20//evil.com",
    "next=",
    "",
]


def assert_lands_on_dashboard(response: Any) -> None:
    assert response.status_code == 302
    target = urlsplit(response.location)
    assert target.netloc in ("", HOST), response.location
    assert target.scheme in ("", "http", "https"), response.location
    assert target.path == "/", response.location
    assert "evil" not in response.location


@pytest.mark.parametrize("query", HOSTILE_NEXT)
def test_login_never_redirects_off_site(client, advisor, query):
    assert_lands_on_dashboard(login(client, advisor.email, query_string=query))
    # And once signed in, the login page sends on through the same check.
    assert_lands_on_dashboard(client.get("/auth/login", query_string=query))


def test_login_follows_a_path_on_this_site(client, advisor):
    response = login(client, advisor.email, query_string={"next": "/cases/?q=x"})
    assert response.status_code == 302
    assert response.location == "/cases/?q=x"


@pytest.mark.parametrize("target, safe", [
    ("/", True),
    ("/cases/?q=x", True),
    ("/cases/1#notes", True),
    ("/evil.com", True),  # a path on this site, however it is named
    ("/cases/%3Fq", True),
    (None, False),
    ("", False),
    ("cases/", False),
    ("evil.com", False),
    (" /cases/", False),
    ("//evil.com", False),
    ("///evil.com", False),
    ("/\\evil.com", False),
    ("\\\\evil.com", False),
    ("/%5Cevil.com", False),
    ("/%5cevil.com", False),
    ("%2F%2Fevil.com", False),
    ("/%2F/evil.com", False),
    ("https://evil.com", False),
    ("https://advisor.test/", False),
    ("http:evil.com", False),
    ("http:/evil.com", False),
    ("javascript:alert(1)", False),
    ("JaVaScRiPt:alert(1)", False),
    ("data:text/html,<script>alert(1)</script>", False),
    ("/\t/evil.com", False),
    ("/%09/evil.com", False),
    ("/cases/\r\nSet-Cookie: x=1", False),
    ("/%0d%0aSet-Cookie:x=1", False),
    ("/\x00/evil.com", False),
    ("/\x7f", False),
])
def test_is_safe_next(target, safe):
    assert web.is_safe_next(target) is safe


# Headers and cookies -----------------------------------------------------------------------------

def csp(response: Any) -> dict[str, str]:
    header = response.headers["Content-Security-Policy"]
    directives = [part.strip().split(None, 1) for part in header.split(";") if part.strip()]
    return {parts[0]: parts[1] if len(parts) > 1 else "" for parts in directives}


def assert_page_headers(response: Any) -> None:
    policy = csp(response)
    assert policy["default-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]
    assert "'unsafe-eval'" not in response.headers["Content-Security-Policy"]
    assert "*" not in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] in ("no-referrer", "same-origin", "strict-origin",
                                                   "strict-origin-when-cross-origin")
    assert "no-store" in response.headers["Cache-Control"]


def test_security_headers_on_pages(client, advisor):
    assert_page_headers(client.get("/auth/login"))
    assert_page_headers(login(client, advisor.email))
    assert_page_headers(client.get("/"))
    assert_page_headers(client.get("/cases/"))
    assert_page_headers(client.get("/no/such/page"))
    assert_page_headers(client.get("/health"))


def test_static_files_may_be_cached_but_not_sniffed(client):
    response = client.get("/static/css/advisor.css")
    response.close()
    assert response.status_code == 200
    assert "no-store" not in response.headers.get("Cache-Control", "")
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_pages_need_nothing_the_policy_blocks(client, admin, advisor, make_case):
    """No inline script, style or event handler: under this CSP the browser would refuse them."""
    case = make_case(advisor)
    login(client, admin.email)
    for path in ("/", "/cases/", f"/cases/{case.id}", f"/cases/{case.id}/edit", "/applicants/",
                 f"/applicants/{case.applicant_id}", "/applicants/new", "/admin/users", "/admin/users/new",
                 f"/admin/users/{advisor.id}/edit", "/audit/", "/auth/account/password", "/no/such/page"):
        response = client.get(path)
        assert response.status_code in (200, 404), path
        soup = BeautifulSoup(response.data, "html.parser")
        assert not [s for s in soup.find_all("script") if not s.get("src")], path
        assert not soup.find_all("style"), path
        for tag in soup.find_all(True):
            assert "style" not in tag.attrs, (path, tag.name)
            assert not [a for a in tag.attrs if a.lower().startswith("on")], (path, tag.name)
            assert not str(tag.get("href", "")).lower().startswith("javascript:"), (path, tag.name)


def session_cookie(response: Any) -> str:
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("advisor_session=")]
    assert len(cookies) == 1, response.headers
    return cookies[0]


def cookie_flags(cookie: str) -> set[str]:
    return {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}


def test_session_cookie_is_httponly_and_samesite_lax(app, client, advisor):
    cookie = session_cookie(login(client, advisor.email))
    assert "httponly" in cookie_flags(cookie)
    assert "SameSite=Lax" in cookie
    assert app.config["REMEMBER_COOKIE_HTTPONLY"] is True
    assert app.config["REMEMBER_COOKIE_SAMESITE"] == "Lax"


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No ADVISOR_* setting from the shell running the tests may change what these tests see."""
    for name in list(os.environ):
        if name.startswith("ADVISOR_"):
            monkeypatch.delenv(name)


@pytest.fixture
def make_app(clean_environment: None) -> Iterator[Callable[[dict[str, Any]], Flask]]:
    """`create_app` for a test that needs other settings; closes its database connections afterwards."""
    made: list[Flask] = []

    def make(config: dict[str, Any]) -> Flask:
        made.append(create_app(config))
        return made[-1]

    yield make
    for each in made:
        with each.app_context():
            db.engine.dispose()


def test_cookies_are_secure_by_default_outside_development(app, advisor, database_url, make_app):
    production = make_app(base_config(database_url, SESSION_COOKIE_SECURE=None))
    assert production.config["ENV"] == "production"
    assert production.config["SESSION_COOKIE_SECURE"] is True
    assert production.config["REMEMBER_COOKIE_SECURE"] is True
    production.test_client_class = RequestIsolatingClient
    browser = production.test_client()
    cookie = session_cookie(login(browser, advisor.email, base_url=f"https://{HOST}"))
    assert {"secure", "httponly"} <= cookie_flags(cookie)
    assert "SameSite=Lax" in cookie


def test_an_explicit_setting_can_turn_secure_cookies_off(tmp_path, make_app):
    app = make_app(base_config(f"sqlite:///{tmp_path / 'a.sqlite3'}", SESSION_COOKIE_SECURE=False))
    assert app.config["SESSION_COOKIE_SECURE"] is False
    assert app.config["REMEMBER_COOKIE_SECURE"] is False


# Secrets -----------------------------------------------------------------------------------------

def config_without_secret(tmp_path: Path, **overrides: Any) -> dict[str, Any]:
    config = base_config(f"sqlite:///{tmp_path / 'a.sqlite3'}", **overrides)
    del config["SECRET_KEY"]
    return config


@pytest.fixture
def instance_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the app's instance folder into tmp_path, so no test writes into the checkout."""
    folder = tmp_path / "instance"
    monkeypatch.setattr(Flask, "auto_find_instance_path", lambda self: str(folder))
    return folder


@pytest.mark.parametrize("secret", [None, ""])
def test_app_refuses_to_start_without_a_secret_key(tmp_path, instance_dir, clean_environment, secret):
    config = config_without_secret(tmp_path)
    if secret is not None:
        config["SECRET_KEY"] = secret
    with pytest.raises(RuntimeError, match="ADVISOR_SECRET_KEY"):
        create_app(config)
    assert not (instance_dir / "secret_key").exists()


def test_secret_key_from_the_environment(tmp_path, instance_dir, make_app, monkeypatch):
    monkeypatch.setenv("ADVISOR_SECRET_KEY", "from-the-environment-0123456789")
    app = make_app(config_without_secret(tmp_path))
    assert app.config["SECRET_KEY"] == "from-the-environment-0123456789"


def test_development_creates_a_private_key_file_and_reuses_it(tmp_path, instance_dir, make_app):
    config = config_without_secret(tmp_path, ENV="development", SESSION_COOKIE_SECURE=None)
    first = make_app(config)
    key_file = instance_dir / "secret_key"
    assert key_file.exists()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert first.config["SECRET_KEY"] == key_file.read_text().strip()
    assert len(first.config["SECRET_KEY"]) >= 32
    assert first.config["SESSION_COOKIE_SECURE"] is False

    second = make_app(config)
    assert second.config["SECRET_KEY"] == first.config["SECRET_KEY"]


# Error pages -------------------------------------------------------------------------------------

def assert_friendly(response: Any, code: int, title: bytes) -> None:
    assert response.status_code == code
    assert response.mimetype == "text/html"
    assert title in response.data
    assert b"Back to the dashboard" in response.data
    assert b"Traceback" not in response.data
    assert b"werkzeug" not in response.data.lower()


def test_404_page(client):
    response = client.get("/no/such/page")
    assert_friendly(response, 404, b"Not found")


def test_405_page(client):
    response = client.get("/auth/logout")
    assert_friendly(response, 405, b"This page cannot be used that way.")
    assert "POST" in response.headers["Allow"]


def test_413_page(app, client):
    app.config["MAX_CONTENT_LENGTH"] = 1024
    response = client.post("/auth/login", data={"email": "a@example.org", "password": "x" * 4096})
    assert_friendly(response, 413, b"File too large")
    assert_page_headers(response)
    response = client.post("/auth/login", data={"email": "a@example.org", "password": "x" * 100})
    assert response.status_code == 401  # below the limit the form is read as usual


def test_500_page_shows_no_trace_and_saves_nothing(app, database_url, make_app):
    broken = make_app(base_config(database_url))

    @broken.get("/test-only/boom")
    def boom():  # type: ignore[no-untyped-def]
        db.session.add(User(email="half-done@example.org", name="Half Done", role=Role.ADVISOR,
                            active=True, session_token="half-done-token"))
        db.session.flush()
        raise RuntimeError("secret internals: /srv/advisor/db password=hunter2")

    @broken.teardown_request
    def commit_late(_exc: BaseException | None) -> None:
        db.session.commit()  # anything committing after the error must find nothing left to save

    broken.test_client_class = RequestIsolatingClient
    response = broken.test_client().get("/test-only/boom")
    assert_friendly(response, 500, b"Something went wrong")
    assert b"secret internals" not in response.data
    assert b"RuntimeError" not in response.data
    assert b"hunter2" not in response.data
    assert_page_headers(response)
    db.session.expire_all()
    assert db.session.scalar(select(User).where(User.email == "half-done@example.org")) is None
