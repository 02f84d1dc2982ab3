"""A bounded load test on loopback: N advisors signing in and working at once against a real gunicorn.

Builds a fresh database (SQLite, or PostgreSQL on a throwaway server started from the installed binaries)
from the migrations and the demo seed, adds one advisor account per simulated user (hashed at argon2's
production cost: signing in under load is the point), and starts gunicorn on 127.0.0.1 with sync or
threaded (gthread) workers. Each simulated advisor then, until the time is up, signs in with their own
account, loads the dashboard, their case list, a case and a search, adds a task to a case and ticks one
off, and signs out again after a round of pages. It counts every answer of 500 or more and every
"database is locked" in the server's log, and ends with:

    RESULT requests=<n> errors_5xx=<n> p95_ms=<n> backend=<sqlite|postgresql> workers=<sync|threads>

Run from the repository root, e.g. `.venv/bin/python bench/load.py --seconds 60 --users 20 --workers threads`
(target: errors_5xx=0 on every backend and worker kind; see README.md).
"""
from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import http.cookiejar
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import select, update  # noqa: E402

from advisor import accounts, dates  # noqa: E402
from models import Case, Role, User, db  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from pages import build_app  # noqa: E402

PASSWORD = "load-test-password-violet-42"
SECRET = "bench-secret-key-not-for-production"
PRODUCTION_ARGON2 = {"ARGON2_TIME_COST": 3, "ARGON2_MEMORY_KIB": 65536, "ARGON2_PARALLELISM": 4}
PAGES_PER_ROUND = 12  # page loads and writes between one sign-in and the next
CASES = 400
SEARCHES = ("chen", "müller", "okafor", "K-2026", "smith")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def database(backend: str, folder: Path) -> Iterator[str | None]:
    """The DATABASE_URL to build and serve (None: build_app's SQLite file in `folder`)."""
    if backend == "sqlite":
        yield None
        return
    from tests import postgres

    with postgres.postgres_server() as server, postgres.database(server, "advisor_load") as url:
        yield url


def prepare(folder: Path, users: int, url: str | None) -> tuple[str, list[str]]:
    """Build and seed the database; one advisor per simulated user, each with their share of the cases.
    Returns the database URL the server is to use and the advisors' emails."""
    settings = {**PRODUCTION_ARGON2, **({"DATABASE_URL": url} if url else {})}
    app, _ = build_app(folder, CASES, **settings)
    emails = [f"load{number:02d}@advisor-load.example" for number in range(users)]
    with app.app_context():
        created = [accounts.create_user(email=email, name=f"Load Advisor {n}", role=Role.ADVISOR, by=None,
                                        password=PASSWORD)[0] for n, email in enumerate(emails)]
        db.session.flush()
        case_ids = list(db.session.scalars(select(Case.id).order_by(Case.id)))
        for index, user in enumerate(created):
            mine = case_ids[index::len(created)]
            db.session.execute(update(Case).where(Case.id.in_(mine)).values(advisor_id=user.id))
        db.session.commit()
        database_url = str(db.engine.url.render_as_string(hide_password=False))
        assert db.session.scalar(select(db.func.count()).select_from(User)) >= users
        db.engine.dispose()
    return database_url, emails


@contextlib.contextmanager
def gunicorn(database_url: str, folder: Path, workers: str, processes: int, threads: int,
             log: Path) -> Iterator[str]:
    port = free_port()
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("ADVISOR_") and k != "DATABASE_URL"},
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": database_url,
        "ADVISOR_SECRET_KEY": SECRET,
        "ADVISOR_SESSION_COOKIE_SECURE": "false",
        "ADVISOR_WTF_CSRF_ENABLED": "false",  # the forms' tokens cost no database work; the client stays simple
        "ADVISOR_STORAGE_URL": (folder / "files").as_uri(),
        "ADVISOR_EXTERNAL_URL": f"http://127.0.0.1:{port}",  # the pinned host, as in production
        "ADVISOR_LOGIN_MAX_FAILURES_PER_IP": "100000",  # every simulated advisor comes from 127.0.0.1
    }
    kind = ["-k", "gthread", "--threads", str(threads)] if workers == "threads" else ["-k", "sync"]
    command = [str(Path(sys.executable).parent / "gunicorn"), "-b", f"127.0.0.1:{port}", "-w", str(processes),
               *kind, "--timeout", "120", "--chdir", str(ROOT), "advisor:create_app()"]
    with log.open("w") as output:
        server = subprocess.Popen(command, env=environment, stdout=output, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(base + "/health", timeout=5):
                    break
            except OSError:  # refused, reset or timed out while the workers start
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"gunicorn did not start; see {log}:\n{log.read_text()[-2000:]}") from None
                time.sleep(0.2)
        yield base
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return None


@dataclass
class Tally:
    lock: threading.Lock = field(default_factory=threading.Lock)
    timings: list[float] = field(default_factory=list)
    errors_5xx: int = 0
    unexpected: dict[str, int] = field(default_factory=dict)

    def add(self, elapsed_ms: float, status: int, expected: tuple[int, ...], what: str) -> None:
        with self.lock:
            self.timings.append(elapsed_ms)
            if status >= 500:
                self.errors_5xx += 1
            if status not in expected:
                key = f"{what} {status}"
                self.unexpected[key] = self.unexpected.get(key, 0) + 1


class Advisor:
    """One simulated advisor: their own cookie jar, their own account."""

    def __init__(self, base: str, email: str, tally: Tally) -> None:
        self.base, self.email, self.tally = base, email, tally
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), NoRedirect())

    def request(self, what: str, path: str, data: dict[str, str] | None = None,
                expected: tuple[int, ...] = (200,)) -> str:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        started = time.perf_counter()
        try:
            with self.opener.open(self.base + path, data=body, timeout=120) as response:
                status, text = response.status, response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as answer:
            status, text = answer.code, answer.read().decode("utf-8", "replace")
        self.tally.add((time.perf_counter() - started) * 1000, status, expected, what)
        return text

    def run(self, until: float, number: int) -> None:
        turn = number
        while time.monotonic() < until:
            self.request("sign-in page", "/auth/login")
            self.request("sign in", "/auth/login", {"email": self.email, "password": PASSWORD}, expected=(302,))
            case_ids: list[str] = []
            for step in range(PAGES_PER_ROUND):
                if time.monotonic() >= until:
                    break
                turn += 1
                kind = step % 6
                if kind == 0:
                    self.request("dashboard", "/")
                elif kind == 1:
                    listing = self.request("case list", "/cases/")
                    case_ids = re.findall(r'href="/cases/(\d+)"', listing) or case_ids
                elif kind == 2 and case_ids:
                    self.request("case", f"/cases/{case_ids[turn % len(case_ids)]}")
                elif kind == 3:
                    self.request("search", "/cases/?q=" + urllib.parse.quote(SEARCHES[turn % len(SEARCHES)]))
                elif kind == 4 and case_ids:
                    case_id = case_ids[turn % len(case_ids)]
                    due = (dates.today() + dt.timedelta(days=7)).isoformat()
                    self.request("add task", f"/cases/{case_id}/tasks/add",
                                 {"title": f"Call the applicant ({turn})", "due_on": due}, expected=(302,))
                elif kind == 5 and case_ids:
                    case_id = case_ids[turn % len(case_ids)]
                    page = self.request("case", f"/cases/{case_id}")
                    open_tasks = re.findall(rf"/cases/{case_id}/tasks/(\d+)/done", page)
                    if open_tasks:
                        self.request("tick task", f"/cases/{case_id}/tasks/{open_tasks[0]}/done", {},
                                     expected=(302,))
            self.request("sign out", "/auth/logout", {}, expected=(302,))


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, round(share * len(ordered)) - 1)] if ordered else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--workers", choices=["sync", "threads"], default="threads")
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--processes", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=10, help="threads per worker (--workers threads)")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="advisor-load-") as tmp:
        folder = Path(tmp)
        log = folder / "gunicorn.log"
        with database(options.backend, folder) as url:
            started = time.perf_counter()
            database_url, emails = prepare(folder, options.users, url)
            print(f"database built and seeded in {time.perf_counter() - started:.1f} s", flush=True)
            with gunicorn(database_url, folder, options.workers, options.processes, options.threads, log) as base:
                tally = Tally()
                until = time.monotonic() + options.seconds
                advisors = [threading.Thread(target=Advisor(base, email, tally).run, args=(until, n))
                            for n, email in enumerate(emails)]
                for thread in advisors:
                    thread.start()
                for thread in advisors:
                    thread.join()
            server_log = log.read_text(errors="replace")
    locked = server_log.count("database is locked")
    for what, count in sorted(tally.unexpected.items()):
        print(f"unexpected: {what} × {count}")
    print(f"'database is locked' in the server log: {locked}")
    if tally.errors_5xx:
        tracebacks = [block for block in server_log.split("Traceback") if "Error" in block]
        if tracebacks:
            print("last server traceback:\nTraceback" + tracebacks[-1][-1500:])
    print(f"RESULT requests={len(tally.timings)} errors_5xx={tally.errors_5xx} "
          f"p95_ms={percentile(tally.timings, 0.95):.0f} backend={options.backend} workers={options.workers}")


if __name__ == "__main__":
    main()
