"""The pinned host: links sent out come from EXTERNAL_URL, other hosts answer 400, and tokens stay out of logs.

The log tests serve the app over real HTTP with Werkzeug's server (what `flask run` uses) and read what its
logger writes; for servers that log from the WSGI environ (gunicorn), they read the environ after the request.
"""
from __future__ import annotations

import io
import logging
import re
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from bs4 import BeautifulSoup
from flask import Flask
from flask.testing import EnvironBuilder
from werkzeug.serving import make_server

from advisor import accounts, documents, upload_links
from advisor.config import load_config
from models import Case, UploadLink, db

from .conftest import PASSWORD, base_config

EXTERNAL = "https://advisor.example.org"


def linkable(case: Case) -> list[int]:
    return [line.id for line in upload_links.linkable_lines(case)][:1]


def make_link(case: Case) -> tuple[UploadLink, str]:
    link, token = upload_links.create_link(case, upload_links.linkable_lines(case)[:1], days=3, message="",
                                           by=case.advisor)
    db.session.commit()
    return link, token


# The host ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("host", ["evil.example", "advisor.test.evil.example", "advisor.test:abc", "[::1",
                                  "advisor.test\\@evil.example"])
def test_a_host_that_is_not_trusted_answers_400(client, advisor, make_case, host):
    _, token = make_link(make_case(advisor))
    for method, path in (("GET", "/auth/login"), ("POST", "/auth/login"), ("GET", f"/u/{token}"), ("GET", "/")):
        response = client.open(path, method=method, headers={"Host": host})
        assert response.status_code == 400, (method, path, host)
        assert response.content_type == "text/html; charset=utf-8"
        assert "not one this site answers at" in response.get_data(as_text=True)
        assert response.headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert client.get("/auth/login").status_code == 200  # the site's own host works


@pytest.mark.parametrize("app_config", [{"EXTERNAL_URL": EXTERNAL, "TRUSTED_HOSTS": ["advisor.test",
                                                                                   "intranet.example"]}])
def test_links_sent_out_are_built_on_the_external_url_whatever_the_host(client, admin, advisor, make_case):
    case = make_case(advisor)
    other = "http://intranet.example"  # a host the app answers at, but not the one applicants are sent to
    client.post("/auth/login", base_url=other, data={"email": advisor.email, "password": PASSWORD})
    page = client.post(f"/cases/{case.id}/links/new", base_url=other,
                       data={"documents": linkable(case), "days": "14", "message": ""})
    assert page.status_code == 200 and page.content_type == "text/html; charset=utf-8"
    soup = BeautifulSoup(page.data, "html.parser")
    link = soup.find("input", id="link-url")["value"]
    assert link.startswith(f"{EXTERNAL}/u/")
    assert soup.select_one(".letter-link").get_text(strip=True) == link  # the printed letter: the same address
    assert "intranet.example" not in page.get_data(as_text=True)

    client.post("/auth/logout", base_url=other)
    client.post("/auth/login", base_url=other, data={"email": admin.email, "password": PASSWORD})
    invite = client.post("/admin/users/new", base_url=other,
                         data={"email": "nina@example.com", "name": "Nina New", "role": "advisor",
                               "version": "0"})
    assert invite.status_code == 200 and invite.content_type == "text/html; charset=utf-8"
    issued = BeautifulSoup(invite.data, "html.parser").find("input", id="password-link")["value"]
    assert issued.startswith(f"{EXTERNAL}/auth/password/")
    reset = client.post(f"/admin/users/{advisor.id}/reset-password", base_url=other)
    assert BeautifulSoup(reset.data, "html.parser").find("input", id="password-link")["value"].startswith(
        f"{EXTERNAL}/auth/password/")


@pytest.mark.parametrize("app_config", [{"SERVER_NAME": None}])
def test_without_an_external_url_no_link_is_made(app, client, auth, advisor, make_case):
    assert app.config["EXTERNAL_URL"] is None and app.config["TRUSTED_HOSTS"] is None
    case = make_case(advisor)
    auth.login(advisor.email)
    page = client.post(f"/cases/{case.id}/links/new", data={"documents": linkable(case), "days": "14"})
    assert page.status_code == 200 and page.content_type == "text/html; charset=utf-8"
    assert "need the EXTERNAL_URL setting" in page.get_data(as_text=True)
    assert db.session.scalar(db.select(db.func.count()).select_from(UploadLink)) == 0
    assert all(line.state.value == "missing" for line in documents.lines_of(case) if line.id in linkable(case))


@pytest.mark.parametrize("settings, external, hosts", [
    ({"SERVER_NAME": "advisor.test"}, "http://advisor.test", ["advisor.test"]),
    ({"SERVER_NAME": None, "EXTERNAL_URL": "https://a.example/"}, "https://a.example", ["a.example"]),
    ({"SERVER_NAME": None, "ENV": "development"}, "http://127.0.0.1:5000", ["127.0.0.1", "localhost"]),
    ({"SERVER_NAME": None, "ENV": "development", "EXTERNAL_URL": "http://127.0.0.1:5001"},
     "http://127.0.0.1:5001", ["127.0.0.1", "localhost"]),
    ({"SERVER_NAME": None, "EXTERNAL_URL": "https://a.example", "TRUSTED_HOSTS": "a.example, .b.example"},
     "https://a.example", ["a.example", ".b.example"]),
    ({"SERVER_NAME": None}, None, None),
])
def test_the_external_url_and_trusted_hosts_settings(tmp_path, settings, external, hosts):
    app = Flask(__name__, instance_path=str(tmp_path))
    load_config(app, {**base_config("sqlite://"), **settings})
    assert app.config["EXTERNAL_URL"] == external
    assert app.config["TRUSTED_HOSTS"] == hosts


@pytest.mark.parametrize("bad", ["advisor.example.org", "ftp://advisor.example.org", "https://", "https://a.example/?x=1"])
def test_a_malformed_external_url_stops_the_app(tmp_path, bad):
    app = Flask(__name__, instance_path=str(tmp_path))
    with pytest.raises(RuntimeError, match="EXTERNAL_URL must look like"):
        load_config(app, {**base_config("sqlite://"), "EXTERNAL_URL": bad})


@pytest.mark.parametrize("app_config", [{"EXTERNAL_URL": EXTERNAL}])
def test_the_cli_prints_the_external_url(runner):
    result = runner.invoke(args=["create-admin", "--email", "root@practice.test", "--name", "Root",
                                 "--password-stdin"], input="violet-harbour-lantern-42\n")
    assert result.exit_code == 0, result.output
    assert f"Sign in at {EXTERNAL}/auth/login." in result.output


# Access logs --------------------------------------------------------------------------------------------

@pytest.fixture
def served(app: Flask) -> Iterator[tuple[str, io.StringIO]]:
    """The app over real HTTP, and what Werkzeug's logger writes meanwhile."""
    db.session.commit()
    written = io.StringIO()
    handler = logging.StreamHandler(written)
    logger = logging.getLogger("werkzeug")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    app.config["TRUSTED_HOSTS"] = ["127.0.0.1"]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", written
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        logger.removeHandler(handler)
        logger.setLevel(level)


def fetch(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback only
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as error:
        error.read()
        error.close()
        return int(error.code)


def test_the_access_log_names_the_link_not_its_token(advisor, make_case, served):
    base, written = served
    link, token = make_link(make_case(advisor))
    password_token = accounts.issue_password_link(advisor, by=None, purpose="reset")
    db.session.commit()
    password_link = accounts.find_password_link(password_token)
    db.session.commit()  # the test's session lets go of SQLite's write lock before the server needs it
    assert fetch(f"{base}/u/{token}") == 200
    assert fetch(f"{base}/u/{token}/999") == 405  # a GET where only POST goes: logged all the same
    assert fetch(f"{base}/u/not-a-real-token-at-all") == 404
    assert fetch(f"{base}/auth/password/{password_token}") == 200
    log = re.sub(r"\x1b\[[0-9;]*m", "", written.getvalue())  # Werkzeug colours 4xx lines on a terminal
    assert token not in log and password_token not in log
    assert f'"GET /u/link-{link.id} HTTP/1.1" 200' in log
    assert f'"GET /u/link-{link.id}/999 HTTP/1.1" 405' in log
    assert '"GET /u/unknown-link HTTP/1.1" 404' in log
    assert f'"GET /auth/password/link-{password_link.id} HTTP/1.1" 200' in log


def test_the_environ_a_server_logs_from_names_the_link(app, advisor, make_case):
    """What gunicorn does: call the WSGI app, send the body, then write `%(r)s`/`%(U)s` from the environ."""
    link, token = make_link(make_case(advisor))
    path = f"/u/{token}"
    builder = EnvironBuilder(app, path=path, query_string="x=1")
    environ = builder.get_environ()
    environ.update(RAW_URI=f"{path}?x=1", REQUEST_URI=f"{path}?x=1")
    started: list[str] = []
    body = b"".join(app.wsgi_app(environ, lambda status, headers, *rest: started.append(status)))
    assert started == ["200 OK"] and token.encode() in body  # the page itself still posts to the real address
    assert [environ[key] for key in ("RAW_URI", "REQUEST_URI", "PATH_INFO")] == [
        f"/u/link-{link.id}?x=1", f"/u/link-{link.id}?x=1", f"/u/link-{link.id}"]


# Flashes ------------------------------------------------------------------------------------------------

APPLICANT = {"family_name": "Quixlander", "given_names": "Zebedee", "sex": "M", "born_on": "1991-04-23",
             "nationality": "NG", "residence_country": "GB", "passport_number": "QX9876543",
             "passport_issued_on": "2022-03-01", "passport_expires_on": "2032-02-28",
             "email": "zebedee.q@example.org", "phone": "+44 20 7946 0000", "notes": "", "chinese_name": "李明"}
PERSONAL = ["Quixlander", "QUIXLANDER", "Zebedee", "QX9876543", "1991-04-23", "23 April 1991",
            "zebedee.q@example.org", "李明"]


def session_of(app: Flask, client: Any) -> str:
    """The session cookie as anyone holding it can read it: signed, not encrypted."""
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"], domain="advisor.test")
    assert cookie is not None
    return repr(app.session_interface.get_signing_serializer(app).loads(cookie.value))  # type: ignore[attr-defined]


def test_no_applicant_data_rides_in_the_session_cookie(app, client, admin, advisor):
    client.post("/auth/login", data={"email": admin.email, "password": PASSWORD})
    steps: list[tuple[str, Any]] = []

    def step(name: str, response: Any) -> None:
        assert response.status_code in (200, 302), (name, response.status_code)
        steps.append((name, session_of(app, client)))

    step("new applicant", client.post("/applicants/new", data={
        **APPLICANT, "consulate_code": "GB-LON", "pathway": "degree", "planned_submission_on": "",
        "intended_entry_on": "", "case_notes": "", "advisor_id": str(advisor.id)}))
    case = db.session.scalar(db.select(Case))
    assert case is not None and case.applicant.family_name == "Quixlander"
    applicant_id = case.applicant_id
    step("edit applicant", client.post(f"/applicants/{applicant_id}/edit",
                                       data={**APPLICANT, "notes": "Prefers email.", "version": "1"}))
    step("open case", client.post(f"/cases/new/{applicant_id}", data={
        "consulate_code": "GB-LON", "pathway": "degree", "advisor_id": str(advisor.id)}))
    step("edit case", client.post(f"/cases/{case.id}/edit", data={
        "consulate_code": "GB-LON", "pathway": "degree", "case_notes": "x", "version": str(case.version)}))
    step("status", client.post(f"/cases/{case.id}/status", data={"status": "collecting", "note": ""}))
    step("degree", client.post(f"/applicants/{applicant_id}/education/new", data={
        "level": "master", "field_code": "0533", "institution": "Quixlander Institute", "institution_country": "GB",
        "confirm_new": "y", "awarded_on": "2020-06-30", "version": "0"}))
    step("assess", client.post(f"/cases/{case.id}/eligibility/run"))
    line = next(line for line in documents.lines_of(case) if line.requirement_code == "passport")
    step("ask", client.post(f"/cases/{case.id}/documents/request", data={"documents": str(line.id)}))
    step("link", client.post(f"/cases/{case.id}/links/new", data={"documents": str(line.id), "days": "14"}))
    step("reassign", client.post(f"/cases/{case.id}/reassign", data={"advisor_id": str(advisor.id),
                                                                      "version": str(case.version)}))
    step("delete applicant", client.post(f"/applicants/{applicant_id}/delete"))

    flashed = [name for name, cookie in steps if "_flashes" in cookie]
    assert len(flashed) >= 8, steps  # the cookie did carry the actions' messages
    assert "The applicant and their cases" in steps[-1][1] and case.reference in steps[-1][1]
    for name, cookie in steps:
        for value in PERSONAL:
            assert value not in cookie and value.encode("unicode_escape").decode() not in cookie, (name, value)
