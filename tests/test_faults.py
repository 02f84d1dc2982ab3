"""Faults and load: a database, storage or Redis that is down gets a clear 503 page and leaves nothing behind;
a restarted PostgreSQL does not fail the next request; many advisors at once on SQLite get no error.

Every fault is real: a PostgreSQL server of this module's own (the session's shared one is never stopped)
stopped and started again, a tmpfs mounted full-sized or read-only for the storage, a redis-server stopped.
"""
from __future__ import annotations

import datetime as dt
import io
import random
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup
from PIL import Image
from redis import Redis
from sqlalchemy import func, select, text
from werkzeug.serving import make_server

from advisor import accounts, applicants, cases, dates, filestore
from advisor.database import WriteOutsideWritePhase, begin_write
from models import Case, DocumentFile, LoginThrottle, Packet, Role, Task, User, db

from . import postgres
from .conftest import PASSWORD, AuthActions, applicant_data, make_app
from .test_documents import line_of
from .test_documents_views import post_files, write_lock_is_free
from .test_packet_jobs import free_port, packets_of, ready_case  # noqa: F401 - ready_case is a fixture

pytestmark = pytest.mark.slow


def unavailable_page(response: Any, title: str) -> str:
    """The 503 page's text, after checking it is one: HTML, the fault named, nothing saved, no trace."""
    assert response.status_code == 503
    assert response.mimetype == "text/html"
    assert response.headers["Retry-After"] == "30"
    body = BeautifulSoup(response.data, "html.parser")
    assert body.h1 is not None and body.h1.get_text() == title
    words = body.get_text(" ", strip=True)
    assert "Nothing was saved" in words and "Traceback" not in words
    return words


# PostgreSQL stopped, and restarted ---------------------------------------------------------------------------

@pytest.fixture
def own_postgres() -> Iterator[tuple[Any, str]]:
    with postgres.postgres_server() as server, postgres.database(server, "advisor_faults") as url:
        yield server, url


@pytest.fixture
def pg_app(own_postgres: tuple[Any, str], tmp_path: Path) -> Iterator[Any]:
    _, url = own_postgres
    app = make_app(url, instance_path=str(tmp_path / "instance"))
    with app.app_context():
        db.create_all()
        yield app
        db.session.remove()
        db.engine.dispose()


def person(email: str) -> User:
    """An advisor in the current app's database (the `make_user` fixture would bring the suite's own app)."""
    user, _ = accounts.create_user(email=email, name=email.split("@")[0].title(), role=Role.ADVISOR, by=None,
                                   password=PASSWORD)
    db.session.commit()
    return user


def case_of(advisor: User) -> Case:
    case = cases.open_case(applicants.create_applicant(applicant_data(), by=advisor), cases.CaseData(
        consulate_code="GB-LON", planned_submission_on=dates.today() + dt.timedelta(days=30),
        intended_entry_on=None, notes=""), advisor=advisor, by=advisor)
    db.session.commit()
    return case


def test_a_restarted_postgresql_does_not_fail_the_next_request(own_postgres, pg_app):
    server, _ = own_postgres
    advisor = person("restart@practice.test")
    client = pg_app.test_client()
    AuthActions(client).login(advisor.email)
    assert client.get("/").status_code == 200  # the pool now holds a connection to the old server process
    db.session.remove()
    server.stop()
    server.start()
    response = client.get("/")
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert b"Dashboard" in response.data


def test_postgresql_down_gives_a_clear_page_and_nothing_is_saved(own_postgres, pg_app):
    server, _ = own_postgres
    advisor = person("down@practice.test")
    case_id = case_of(advisor).id
    client = pg_app.test_client()
    AuthActions(client).login(advisor.email)
    db.session.remove()
    server.stop()
    try:
        page = client.get("/")  # the user loader itself cannot reach the database
        words = unavailable_page(page, "The database is not available")
        assert "Sign out" not in words  # the page was drawn without knowing who is signed in
        written = client.post(f"/cases/{case_id}/tasks/add", data={"title": "Call the consulate"})
        unavailable_page(written, "The database is not available")
        assert unavailable_page(client.get("/auth/login"), "The database is not available")
    finally:
        server.start()
    assert client.get("/").status_code == 200  # back by itself, the same session still signed in
    db.session.remove()
    assert db.session.scalar(select(func.count()).select_from(Task)) == 0


# Storage read-only or full -----------------------------------------------------------------------------------

@pytest.fixture(params=["full", "read-only"])
def broken_storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Path]:
    """A real filesystem that refuses writes: a 64 KiB tmpfs (ENOSPC) or a read-only one (EROFS); root
    ignores permission bits, so a chmod would not do."""
    folder = tmp_path / "mounted"
    folder.mkdir()
    options = "size=64k" if request.param == "full" else "ro,size=64k"
    subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], check=True)
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


@pytest.fixture
def app_config(request: pytest.FixtureRequest) -> dict[str, Any]:
    if "broken_storage" in request.fixturenames:
        return {"STORAGE_URL": request.getfixturevalue("broken_storage").as_uri()}
    if "stopped_redis" in request.fixturenames:
        return {"REDIS_URL": request.getfixturevalue("stopped_redis")}
    return {}


def noise_jpeg() -> bytes:
    """A scan-sized JPEG that does not compress: larger than the whole 64 KiB filesystem."""
    pixels = random.Random(7).randbytes(500 * 400 * 3)
    out = io.BytesIO()
    Image.frombytes("RGB", (500, 400), pixels).save(out, "JPEG", quality=95)
    return out.getvalue()


def test_storage_read_only_or_full_gives_a_clear_page_and_leaves_nothing(client, auth, advisor, make_case,
                                                                        broken_storage):
    case = make_case(advisor)
    line = line_of(case, "passport")
    auth.login(advisor.email)
    response = post_files(client, case, line, (noise_jpeg(), "passport.jpg"))
    words = unavailable_page(response, "File storage is not available")
    assert "read-only, full or unreachable" in words
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(DocumentFile)) == 0
    assert list(filestore.current().keys()) == []
    assert [p for p in broken_storage.rglob("*") if not p.is_dir()] == []  # no temporary file left either


# Redis down --------------------------------------------------------------------------------------------------

@pytest.fixture
def stopped_redis() -> Iterator[str]:
    """The URL of a redis-server that ran (and answered) on this port, and has stopped."""
    port = free_port()
    server = subprocess.Popen([shutil.which("redis-server") or "redis-server", "--port", str(port), "--bind",
                               "127.0.0.1", "--save", "", "--appendonly", "no"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    probe = Redis(port=port)
    for _ in range(200):
        try:
            probe.ping()
            break
        except Exception:
            time.sleep(0.02)
    probe.close()
    server.terminate()
    server.wait(timeout=10)
    yield f"redis://127.0.0.1:{port}/0"


def test_redis_down_gives_a_clear_page_and_no_export(client, auth, advisor, ready_case, stopped_redis):  # noqa: F811
    auth.login(advisor.email)
    response = client.post(f"/cases/{ready_case.id}/packets/final", data={"cover_letter": ""})
    words = unavailable_page(response, "The job queue is not available")
    assert "no export was started" in words
    assert packets_of(ready_case) == 0
    assert db.session.scalar(select(func.count()).select_from(Packet)) == 0


# Reads never take the write lock; writes never escape the write phase ------------------------------------------

def test_a_write_outside_the_write_phase_is_refused_in_testing(app, advisor):
    advisor_id = advisor.id
    change = text("UPDATE users SET name = 'Changed' WHERE id = :id")
    db.session.commit()
    with app.test_request_context("/"):
        db.session.remove()
        db.session.get(User, advisor_id)  # a request's transaction begins deferred…
        if db.engine.dialect.name == "sqlite":  # …and on SQLite may not write: SQLITE_BUSY_SNAPSHOT lurks
            with pytest.raises(WriteOutsideWritePhase):
                db.session.execute(change, {"id": advisor_id})
        db.session.rollback()
        begin_write()  # the write phase may
        db.session.execute(change, {"id": advisor_id})
        db.session.commit()
        db.session.remove()
    assert db.session.get(User, advisor_id).name == "Changed"


@pytest.mark.parametrize("password", [PASSWORD, "not-the-password"])
def test_sign_in_checks_the_password_without_the_write_lock(client, advisor, monkeypatch, password):
    """argon2 takes a good part of a second at production cost: holding SQLite's write lock meanwhile made
    every other sign-in and save queue behind it. The bookkeeping (a failure counted too) follows after."""
    free_while_checking: list[bool] = []
    real_verify = accounts.verify_password

    def watched(*args: Any, **kwargs: Any) -> bool:
        free_while_checking.append(write_lock_is_free())
        return real_verify(*args, **kwargs)

    monkeypatch.setattr(accounts, "verify_password", watched)
    response = AuthActions(client).login(advisor.email, password)
    assert free_while_checking == [True]
    db.session.expire_all()
    if password == PASSWORD:
        assert response.status_code == 302 and response.headers["Location"] == "/"
        assert db.session.get(User, advisor.id).last_login_at is not None
    else:
        assert response.status_code == 401 and b"The email or password is incorrect." in response.data
        assert db.session.scalar(select(func.max(LoginThrottle.failures))) == 1


@pytest.fixture
def busy_app(tmp_path: Path) -> Iterator[Any]:
    """SQLite under a threaded server, with a short busy timeout so that any request queueing for the write
    lock behind a slow one fails visibly, and argon2 costly enough that a sign-in is slow."""
    app = make_app(f"sqlite:///{tmp_path / 'busy.sqlite3'}", instance_path=str(tmp_path / "instance"),
                   SQLITE_BUSY_TIMEOUT_MS=500, ARGON2_TIME_COST=2, ARGON2_MEMORY_KIB=32768,
                   SERVER_NAME=None)
    with app.app_context():
        db.create_all()
        yield app
        db.session.remove()
        db.engine.dispose()


def test_advisors_at_once_on_sqlite_get_no_error_and_no_lock(busy_app, caplog):
    people = [person(f"busy{n}@practice.test") for n in range(8)]
    work_on = {user.email: case_of(user).id for user in people}
    db.session.commit()  # the test's own transaction holds SQLite's write lock until it ends
    server = make_server("127.0.0.1", 0, busy_app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    answers: list[tuple[str, int]] = []

    class Keep(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    def work(email: str, until: float) -> None:
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()), Keep())

        def call(what: str, path: str, data: dict[str, str] | None = None) -> None:
            body = urllib.parse.urlencode(data).encode() if data is not None else None
            try:
                with opener.open(base + path, data=body, timeout=60) as answer:
                    answers.append((what, answer.status))
            except urllib.error.HTTPError as answer:
                answers.append((what, answer.code))

        case_id = work_on[email]
        while time.monotonic() < until:
            call("sign in", "/auth/login", {"email": email, "password": PASSWORD})
            for path in ("/", "/cases/", f"/cases/{case_id}", "/cases/?q=okafor"):
                call("page", path)
            call("task", f"/cases/{case_id}/tasks/add", {"title": "Call the applicant"})
            call("sign out", "/auth/logout", {})

    until = time.monotonic() + 4
    workers = [threading.Thread(target=work, args=(email, until)) for email in work_on]
    try:
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    finally:
        server.shutdown()
    assert len(answers) >= 8 * 7  # every advisor did at least one round
    assert [answer for answer in answers if answer[1] >= 500] == []
    assert "database is locked" not in caplog.text
    expected = {"sign in": 302, "page": 200, "task": 302, "sign out": 302}
    assert [answer for answer in answers if answer[1] != expected[answer[0]]] == []
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Task)) == answers.count(("task", 302))
