"""Latency of the busy pages at 100 and at 10,000 cases, measured in one run.

Builds two temporary SQLite databases from the migrations and the demo seed (`seed-demo --cases N`),
signs in through the Flask test client as an advisor and as the admin, and times warm requests of the
case list (plain, filtered, searched, page 5), the dashboard and the applicant search at both sizes.
It prints p50 and p95 per page and size, the SQL statements each page ran, the table rows it showed
at each size (a filtered or searched page shows more rows at 10,000 cases), and as its last line:

    RESULT ratio_10k_vs_100=<worst p50 ratio 10k/100 across pages> max_queries=<most statements of a page>

Run from the repository root: `.venv/bin/python bench/pages.py` (target: ratio ≤ 1.5; see README.md).
"""
from __future__ import annotations

import argparse
import logging
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask import Flask  # noqa: E402
from flask.testing import FlaskClient  # noqa: E402
from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import event  # noqa: E402

from advisor import create_app, demo  # noqa: E402
from models import db  # noqa: E402

SIZES = (100, 10_000)
PAGE_SIZE = 20  # page 5 then exists at 100 cases too (the admin's cases 81–100)
ADVISOR, ADMIN = "chen.wei@advisor-demo.example", "lead@advisor-demo.example"

# (who, page, URL): the lists an advisor and an admin open all day.
PAGES = [
    ("advisor", "cases", "/cases/"),
    ("advisor", "cases filtered", "/cases/?status=collecting&outcome=eligible&nationality=DE"),
    ("advisor", "cases searched", "/cases/?q=chen"),
    ("advisor", "dashboard", "/"),
    ("advisor", "applicant search", "/applicants/?q=chen"),
    ("admin", "cases", "/cases/"),
    ("admin", "cases filtered", "/cases/?status=approved&consulate=DE-BER&outcome=not_eligible"),
    ("admin", "cases searched", "/cases/?q=m%C3%BCller&sort=applicant"),
    ("admin", "cases page 5", "/cases/?page=5"),
    ("admin", "dashboard", "/"),
    ("admin", "applicant search", "/applicants/?q=qd%200000%20042"),  # a passport number, as typed
]


def build_app(folder: Path, cases: int, **settings: Any) -> tuple[Flask, float]:
    """An app on a new SQLite database in `folder`, migrated and seeded with `cases` cases; and the seconds
    the seeding took. `settings` add to or replace the benchmark's settings."""
    app = create_app({
        "SECRET_KEY": "bench-secret-key-not-for-production",
        "DATABASE_URL": f"sqlite:///{folder / f'bench-{cases}.sqlite3'}",
        "WTF_CSRF_ENABLED": False,
        "SESSION_COOKIE_SECURE": False,
        "PAGE_SIZE": PAGE_SIZE,
        # Cheap hashing: signing in is not what is measured.
        "ARGON2_TIME_COST": 1, "ARGON2_MEMORY_KIB": 1024, "ARGON2_PARALLELISM": 1,
        **settings,
    }, instance_path=str(folder / "instance"))
    with app.app_context():
        logging.disable(logging.INFO)  # the migrations' progress lines
        upgrade()
        logging.disable(logging.NOTSET)
        started = time.perf_counter()
        demo.seed(password=demo.DEFAULT_PASSWORD, cases=cases)
        db.session.commit()
        seeded = time.perf_counter() - started
    return app, seeded


def signed_in(app: Flask, email: str) -> FlaskClient:
    client = app.test_client()
    response = client.post("/auth/login", data={"email": email, "password": demo.DEFAULT_PASSWORD})
    if response.status_code != 302:
        raise SystemExit(f"Could not sign in as {email}: {response.status_code}")
    return client


@contextmanager
def counting(app: Flask) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def timed(client: FlaskClient, url: str) -> float:
    started = time.perf_counter()
    response = client.get(url)
    response.get_data()
    elapsed = (time.perf_counter() - started) * 1000
    check(response, url)
    return elapsed


def statements_of(app: Flask, client: FlaskClient, url: str) -> tuple[int, int]:
    """The SQL statements a request runs, and the table rows its page shows (to read the timings by)."""
    with counting(app) as statements:
        response = client.get(url)
        check(response, url)
    body = response.get_data(as_text=True)
    return len(statements), len(re.findall(r"<tr[ >]", body)) - body.count("<thead")


def check(response: Any, url: str) -> None:
    if response.status_code != 200:
        raise SystemExit(f"GET {url} answered {response.status_code}")


def percentile(timings: list[float], share: float) -> float:
    ordered = sorted(timings)
    return ordered[max(0, round(share * len(ordered)) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=30, help="timed requests per page and size")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="advisor-bench-") as tmp:
        apps = {}
        for size in SIZES:
            apps[size], seeded = build_app(Path(tmp), size)
            print(f"{size:>6} cases seeded in {seeded:.1f} s", flush=True)
        clients = {(size, who): signed_in(apps[size], email) for size in SIZES
                   for who, email in (("advisor", ADVISOR), ("admin", ADMIN))}
        rows = []
        for who, name, url in PAGES:
            for size in SIZES:
                for _ in range(3):  # warm: templates compiled, statements cached, pages in SQLite's cache
                    timed(clients[size, who], url)
            counted = {size: statements_of(apps[size], clients[size, who], url) for size in SIZES}
            timings: dict[int, list[float]] = {size: [] for size in SIZES}
            for _ in range(options.requests):  # the sizes take turns, so a busy machine slows both alike
                for size in SIZES:
                    timings[size].append(timed(clients[size, who], url))
            rows.append((f"{who} · {name}", {size: (statistics.median(timings[size]),
                                                    percentile(timings[size], 0.95), *counted[size])
                                             for size in SIZES}))
        for app in apps.values():
            with app.app_context():
                db.engine.dispose()
    small, large = SIZES
    print()
    print(f"{'page':<28} {'p50 100':>9} {'p95 100':>9} {'p50 10k':>9} {'p95 10k':>9} {'ratio':>6} {'queries':>8} "
          f"{'rows':>7}")
    ratios, counts = [], []
    for label, result in rows:
        (p50_small, p95_small, q_small, rows_small) = result[small]
        (p50_large, p95_large, q_large, rows_large) = result[large]
        ratios.append(p50_large / p50_small)
        counts += [q_small, q_large]
        queries = str(q_small) if q_small == q_large else f"{q_small}/{q_large}"
        print(f"{label:<28} {p50_small:>7.1f}ms {p95_small:>7.1f}ms {p50_large:>7.1f}ms {p95_large:>7.1f}ms "
              f"{ratios[-1]:>6.2f} {queries:>8} {f'{rows_small}/{rows_large}':>7}")
    print(f"RESULT ratio_10k_vs_100={max(ratios):.2f} max_queries={max(counts)}")


if __name__ == "__main__":
    main()
