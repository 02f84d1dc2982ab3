"""Page load times as an advisor feels them: the main pages in a real browser, on the demo practice.

Builds a temporary SQLite database from the migrations and the demo seed, serves it over HTTP on 127.0.0.1
(a random port, Werkzeug's threaded server), signs in through Chromium (Debian's `/usr/bin/chromium`, driven by
Playwright) as an advisor, and loads each of these pages five times, taking turns: the dashboard, the case list,
a case ready for submission, its documents, one document line, the applicant, the eligibility page and the
packets page. A load is the browser's navigation timing: from the start of the navigation to the end of the
`load` event (HTML, stylesheet, script, images). It prints the median per page, marks pages over 300 ms, and
ends with:

    RESULT slowest_page_ms=<median of the slowest page> pages_over_300ms=<count>

Run from the repository root: `.venv/bin/python bench/browser.py` (`--runs N`, `--cases N` to top the demo up).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask import Flask  # noqa: E402
from pages import build_app  # noqa: E402  (bench/pages.py: the same migrated, seeded database)
from playwright.sync_api import Page, sync_playwright  # noqa: E402
from sqlalchemy import select  # noqa: E402
from werkzeug.serving import WSGIRequestHandler, make_server  # noqa: E402

from advisor import demo, documents  # noqa: E402
from models import Case, CaseStatus, User, db  # noqa: E402

ADVISOR = "chen.wei@advisor-demo.example"
SLOW_MS = 300
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
LOADED = "() => (performance.getEntriesByType('navigation')[0]?.loadEventEnd || 0) > 0"
TIMING = """() => {
  const n = performance.getEntriesByType('navigation')[0];
  return [n.duration, n.responseStart - n.requestStart];
}"""


def pages_of(app: Flask) -> list[tuple[str, str]]:
    """The advisor's pages to time, around their first case that is ready for submission (every required
    document accepted, an assessment, so every page shows its full content)."""
    with app.app_context():
        advisor = db.session.scalar(select(User).where(User.email == ADVISOR))
        case = db.session.scalar(select(Case).where(Case.advisor_id == advisor.id, Case.status == CaseStatus.READY,
                                                    Case.deleted_at.is_(None)).order_by(Case.id))
        if case is None:
            raise SystemExit(f"The demo seed gave {ADVISOR} no case ready for submission.")
        line = next(line for line in documents.lines_of(case) if line.current_files())
        found = [
            ("dashboard", "/"),
            ("case list", "/cases/"),
            ("case", f"/cases/{case.id}"),
            ("documents", f"/cases/{case.id}/documents"),
            ("document line", f"/cases/{case.id}/documents/{line.id}"),
            ("applicant", f"/applicants/{case.applicant_id}"),
            ("eligibility", f"/cases/{case.id}/eligibility"),
            ("packets", f"/cases/{case.id}/packets"),
        ]
        db.session.remove()
    return found


class QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


@contextmanager
def serving(app: Flask) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="bench-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def sign_in(page: Page, base: str) -> None:
    page.goto(base + "/auth/login")
    page.get_by_label("Email").fill(ADVISOR)
    page.get_by_label("Password").fill(demo.DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(base + "/")


def load(page: Page, url: str) -> tuple[float, float]:
    """One navigation: (load time, server time to the first byte), in ms."""
    response = page.goto(url)
    if response is None or response.status != 200 or page.url != url:
        raise SystemExit(f"GET {url} answered {response.status if response else 'nothing'} at {page.url}")
    page.wait_for_function(LOADED)
    duration, server = page.evaluate(TIMING)
    return duration, server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="loads of each page")
    parser.add_argument("--cases", type=int, default=0, help="top the demo up to this many cases")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="advisor-bench-browser-") as tmp:
        # CSRF stays on: a real browser posts real forms. Plain HTTP on loopback, so no secure-only cookies.
        app, seeded = build_app(Path(tmp), options.cases, WTF_CSRF_ENABLED=True, PAGE_SIZE=25)
        pages = pages_of(app)
        print(f"Demo practice seeded in {seeded:.1f} s; timing {len(pages)} pages × {options.runs} loads", flush=True)
        loads: dict[str, list[float]] = {name: [] for name, _ in pages}
        servers: dict[str, list[float]] = {name: [] for name, _ in pages}
        with serving(app) as base, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            print(f"Chromium {browser.version} at {base}", flush=True)
            page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
            sign_in(page, base)
            for _ in range(options.runs):  # the pages take turns, so a busy moment slows them alike
                for name, path in pages:
                    duration, server = load(page, base + path)
                    loads[name].append(duration)
                    servers[name].append(server)
            browser.close()
        with app.app_context():
            db.engine.dispose()
    print()
    print(f"{'page':<15} {'median':>8} {'server':>8} {'min':>8} {'max':>8}  path")
    medians = {}
    for name, path in pages:
        medians[name] = statistics.median(loads[name])
        mark = f"  > {SLOW_MS} ms" if medians[name] > SLOW_MS else ""
        print(f"{name:<15} {medians[name]:>6.0f}ms {statistics.median(servers[name]):>6.0f}ms "
              f"{min(loads[name]):>6.0f}ms {max(loads[name]):>6.0f}ms  {path}{mark}")
    over = sum(1 for value in medians.values() if value > SLOW_MS)
    print(f"RESULT slowest_page_ms={max(medians.values()):.0f} pages_over_300ms={over}")


if __name__ == "__main__":
    main()
