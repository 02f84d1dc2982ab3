"""The advisor's journey end to end in a real browser (Debian's Chromium through Playwright), on both backends.

One test walks a case from the first sign-in to its submission the way an advisor and an applicant do it:
every step through the pages, found by label and role as a keyboard or screen-reader user finds them. The
app is served over real HTTP on 127.0.0.1 with CSRF on, so every form posts what the browser rendered.

Along the way, on every page:
- axe-core (vendored, `tests/vendor/axe-core/`) checks accessibility; serious and critical violations fail the
  test, listed with their rule, impact, target selectors and help;
- the page's load time is taken from the browser's navigation timing and printed as a table at the end
  (no assertion: this is what "fast" feels like, kept for comparison);
- console errors (a CSP violation shows up as one) and failed requests are collected and fail the test.

Screenshots of the key pages, the axe summary and the timings go to `test-artifacts/browser/<backend>/`
(or `$ADVISOR_TEST_ARTIFACTS/browser/<backend>/`).
"""
from __future__ import annotations

import datetime as dt
import io
import itertools
import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import pikepdf
import pytest
from flask import Flask
from playwright.sync_api import Browser, BrowserContext, Page, Response, expect, sync_playwright
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from advisor import institutions
from models import User, db

from . import hostile
from .conftest import PASSWORD

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
# axe is evaluated in each page through the DevTools protocol after the page is timed: the app's CSP
# (`default-src 'self'`) refuses an injected <script> (`add_script_tag`), and the CSP stays on for the test.
AXE_SOURCE = (Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js").read_text()
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
BLOCKING_IMPACTS = ("serious", "critical")

TODAY = dt.date.today()
PLANNED = TODAY + dt.timedelta(days=30)
PASSPORT = {"number": "PA4815162", "issued": dt.date(2022, 3, 1), "expires": dt.date(2032, 2, 28)}
INSTITUTION = "ETH Zurich"

# What the applicant uploads for each required document: (file name, content, pages it adds to the packet).
UPLOADS: dict[str, tuple[str, bytes, int]] = {
    "Passport data page": ("passport.pdf", hostile.pdf(text="Passport data page"), 1),
    "Passport photo": ("photo.jpg", hostile.jpeg(354, 472), 1),
    "Online application form confirmation": ("application-form.pdf", hostile.pdf(text="COVA confirmation"), 1),
    "Degree certificate": ("degree.pdf", hostile.pdf(pages=2, text="Master of Science in Physics"), 2),
    "Proof of legal residence": ("residence-permit.pdf", hostile.pdf(text="UK residence permit"), 1),
}
# What the advisor records on each line before accepting it (labels as on the page, matched from their start);
# the photo's date taken and the residence permit's expiry are what the automatic checks need.
DETAILS: dict[str, dict[str, str]] = {
    "Passport data page": {"Document number": PASSPORT["number"], "Issued on": PASSPORT["issued"].isoformat(),
                           "Expires on": PASSPORT["expires"].isoformat()},
    "Passport photo": {"Issued on (photo: taken on)": (TODAY - dt.timedelta(days=12)).isoformat()},
    "Degree certificate": {"Document number": "ETH-MSC-2020-0042", "Issued on": "2020-06-30",
                           "Language": "English"},
    "Proof of legal residence": {"Document number": "ZX1234567",
                                 "Issued on": (TODAY - dt.timedelta(days=200)).isoformat(),
                                 "Expires on": (PLANNED + dt.timedelta(days=400)).isoformat()},
}
# Cover sheet, exhibit index, applicant and eligibility summaries: one page each (advisor/packets.py).
FRONT_PAGES = 4


def artifacts_root() -> Path:
    """`$ADVISOR_TEST_ARTIFACTS`, or `test-artifacts/` in the repository (git-ignored)."""
    value = os.environ.get("ADVISOR_TEST_ARTIFACTS")
    return Path(value) if value else ROOT / "test-artifacts"


# Fixtures -----------------------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def app_config(tmp_path: Path) -> dict[str, Any]:
    # Requests arrive as 127.0.0.1:<port>, so no fixed SERVER_NAME; a browser posts real forms, so CSRF is on.
    return {"SERVER_NAME": None, "WTF_CSRF_ENABLED": True, "STORAGE_URL": f"file://{tmp_path / 'files'}"}


class QuietHandler(WSGIRequestHandler):
    """Werkzeug's handler without a log line per request (errors are still logged)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    """The test app over HTTP on 127.0.0.1 with a random port, one thread per request; yields its base URL."""
    db.session.commit()  # what the test set up so far is visible to the server's own sessions
    server: BaseWSGIServer = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler)
    base = f"http://127.0.0.1:{server.server_port}"
    app.config.update(EXTERNAL_URL=base, TRUSTED_HOSTS=["127.0.0.1"])  # known only now: links are built on it
    thread = threading.Thread(target=server.serve_forever, name="advisor-live-server", daemon=True)
    thread.start()
    try:
        yield base
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


# The journey's instruments: timings, axe, screenshots, console errors --------------------------------------------

NAVIGATION_TIMING = """() => {
  const n = performance.getEntriesByType('navigation')[0];
  return {duration: n.duration, server: n.responseStart - n.requestStart, dom: n.domContentLoadedEventEnd};
}"""
LOADED = "() => !window.__previousPage && (performance.getEntriesByType('navigation')[0]?.loadEventEnd || 0) > 0"


@dataclass
class Timing:
    step: str
    path: str
    navigation_ms: float  # navigation start (the click or the POST, redirects included) to the end of `load`
    server_ms: float  # request sent to the first byte of the final response
    dom_ready_ms: float
    wall_ms: float  # as Playwright saw it, from the action to the loaded page


@dataclass
class Journey:
    base: str
    artifacts: Path
    timings: list[Timing] = field(default_factory=list)
    axe: list[dict[str, Any]] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    shots: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def context(self, browser: Browser, **options: Any) -> BrowserContext:
        context = browser.new_context(viewport=options.pop("viewport", DESKTOP), **options)
        context.set_default_timeout(15_000)
        return context

    def page(self, context: BrowserContext) -> Page:
        page = context.new_page()
        page.on("console", lambda message: self._console(page, message))
        page.on("pageerror", lambda error: self.console_errors.append(f"{page.url}: {error}"))
        page.on("response", lambda response: self._response(page, response))
        return page

    def _console(self, page: Page, message: Any) -> None:
        # A failed request is reported by `_response`, with its address, which the console message lacks.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.console_errors.append(f"{page.url}: {message.text}")

    def _response(self, page: Page, response: Response) -> None:
        # Chromium probes /favicon.ico on its own for a page that names no icon; the page did not ask for it.
        if response.status >= 400 and not response.url.endswith("/favicon.ico"):
            self.console_errors.append(f"{page.url}: {response.status} for {response.url}")

    def visit(self, page: Page, step: str, action: Callable[[], object]) -> None:
        """Do what leads to a new page (a click, a submit, a `goto`), wait until it has loaded, then record its
        timing and run axe on it. The old document carries a mark, so only a new one counts as loaded."""
        page.evaluate("() => { window.__previousPage = true; }")
        started = time.perf_counter()
        action()
        page.wait_for_function(LOADED)
        wall = (time.perf_counter() - started) * 1000
        timing = page.evaluate(NAVIGATION_TIMING)
        path = page.url.removeprefix(self.base)
        self.timings.append(Timing(step, path, round(timing["duration"], 1), round(timing["server"], 1),
                                   round(timing["dom"], 1), round(wall, 1)))
        self.check_accessibility(page, step)

    def go(self, page: Page, step: str, url: str) -> None:
        self.visit(page, step, lambda: page.goto(url))

    def check_accessibility(self, page: Page, step: str) -> None:
        if not page.evaluate("() => typeof window.axe !== 'undefined'"):
            page.evaluate(AXE_SOURCE)
        result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
        self.axe.append({
            "step": step, "path": page.url.removeprefix(self.base),
            "width": page.viewport_size["width"] if page.viewport_size else None,
            "violations": [summary(rule) for rule in result["violations"]],
            "incomplete": [summary(rule) for rule in result["incomplete"]],  # what axe leaves to a human
            "passes": len(result["passes"]),
        })

    def screenshot(self, page: Page, name: str) -> None:
        page.screenshot(path=self.artifacts / f"{next(self.shots):02d}-{name}.png", full_page=True)

    def blocking_violations(self) -> list[str]:
        return [f"{page['step']} ({page['path']}, {page['width']} px): {v['id']} [{v['impact']}] "
                f"{'; '.join(v['targets'])} — {v['help']}"
                for page in self.axe for v in page["violations"] if v["impact"] in BLOCKING_IMPACTS]

    def write_reports(self) -> str:
        self.artifacts.mkdir(parents=True, exist_ok=True)
        (self.artifacts / "axe.json").write_text(json.dumps(self.axe, indent=2, ensure_ascii=False))
        (self.artifacts / "timings.json").write_text(json.dumps([asdict(t) for t in self.timings], indent=2))
        width = max(len(t.step) for t in self.timings) if self.timings else 10
        lines = [f"{'page':<{width}} {'load':>8} {'server':>8} {'DOM':>8} {'wall':>8}  path"]
        for t in self.timings:
            lines.append(f"{t.step:<{width}} {t.navigation_ms:>6.0f}ms {t.server_ms:>6.0f}ms "
                         f"{t.dom_ready_ms:>6.0f}ms {t.wall_ms:>6.0f}ms  {t.path}")
        return "\n".join(lines)


def summary(rule: dict[str, Any]) -> dict[str, Any]:
    return {"id": rule["id"], "impact": rule["impact"], "help": rule["help"], "helpUrl": rule["helpUrl"],
            "targets": [", ".join(map(str, node["target"])) for node in rule["nodes"]]}


# Small helpers on pages -----------------------------------------------------------------------------------------

def expect_flash(page: Page, text: str | re.Pattern[str]) -> None:
    """A success or info message (role status) says `text`, and no error message shows."""
    expect(page.get_by_role("status").filter(has_text=text)).to_be_visible()
    expect(page.locator(".flash-error")).to_have_count(0)


def click(page: Page, role: Literal["button", "link"], name: str) -> Callable[[], None]:
    return lambda: page.get_by_role(role, name=name, exact=True).click()


def breadcrumb(page: Page, name: str) -> Callable[[], None]:
    return lambda: page.get_by_role("navigation", name="Breadcrumb").get_by_role("link", name=name).click()


OVERFLOWING = """(width) => document.documentElement.scrollWidth <= width ? [] :
  [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > width + 1)
    .map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
              + (e.classList.length ? '.' + [...e.classList].join('.') : ''))
    .slice(0, 10)"""


def overflowing(page: Page, width: int) -> list[str]:
    """Elements that reach past `width` when the page scrolls sideways (empty when it does not)."""
    return list(page.evaluate(OVERFLOWING, width))


def save_institution(admin: User) -> None:
    institutions.save(None, institutions.InstitutionData(
        name=INSTITUTION, country="CH", aliases=["ETH"], rank=7, renowned=True, source="Practice list"), by=admin)
    db.session.commit()


# The journey -----------------------------------------------------------------------------------------------

def test_advisor_journey(browser: Browser, live_server: str, advisor: User, admin: User, backend: str,
                         tmp_path: Path) -> None:
    save_institution(admin)
    advisor_email = advisor.email
    db.session.commit()  # the test's own session holds no transaction while the server works
    journey = Journey(live_server, artifacts_root() / "browser" / backend)
    journey.artifacts.mkdir(parents=True, exist_ok=True)
    for old in journey.artifacts.glob("*.png"):
        old.unlink()
    context = journey.context(browser)
    page = journey.page(context)
    try:
        walk(journey, browser, page, advisor_email, tmp_path)
    except BaseException:
        page.screenshot(path=journey.artifacts / "failure.png", full_page=True)
        raise
    finally:
        table = journey.write_reports()
        print(f"\nPage load times in the browser ({backend}); artifacts in {journey.artifacts}:\n{table}")
        context.close()
    blocking = journey.blocking_violations()
    assert not blocking, "axe found serious or critical violations:\n" + "\n".join(blocking)
    assert not journey.console_errors, "errors in the browser console:\n" + "\n".join(journey.console_errors)


def walk(journey: Journey, browser: Browser, page: Page, email: str, tmp_path: Path) -> None:
    base = journey.base

    # Sign in: the dashboard sends a stranger to the login page first.
    journey.go(page, "login", base + "/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    journey.visit(page, "dashboard (empty)", click(page, "button", "Sign in"))
    expect(page.get_by_role("heading", name="My cases")).to_be_visible()
    expect(page.get_by_text("No cases yet.")).to_be_visible()

    # A new applicant with their first case.
    journey.visit(page, "new applicant", click(page, "link", "New applicant"))
    page.get_by_label("Family name").fill("Adeyemi")
    page.get_by_label("Given names").fill("Ngozi Amara")
    page.get_by_label("Sex").select_option(label="Female")
    page.get_by_label("Date of birth").fill("1996-05-17")
    page.get_by_label("Nationality").select_option(label="Nigeria")
    page.get_by_label("Passport number").fill(PASSPORT["number"])
    page.get_by_label("Passport issued on").fill(PASSPORT["issued"].isoformat())
    page.get_by_label("Passport expires on").fill(PASSPORT["expires"].isoformat())
    page.get_by_label("Country of residence").select_option(label="United Kingdom")
    page.get_by_label("Email").fill("ngozi.adeyemi@example.org")
    page.get_by_label("Consulate").select_option(value="GB-LON")
    page.get_by_label("Pathway").select_option(label="Degree")
    page.get_by_label("Planned submission date").fill(PLANNED.isoformat())
    journey.visit(page, "case (new)", click(page, "button", "Save and open case"))
    expect_flash(page, re.compile(r"Applicant saved and case K-\d{4}-\d{6} opened\."))
    reference = page.locator("h1 .mono").inner_text()
    expect(page.locator("h1 .badge")).to_have_text("Intake")

    # The applicant's degree: a master's in physics at a renowned institution the registry knows.
    journey.visit(page, "applicant", click(page, "link", "Ngozi Amara ADEYEMI"))
    journey.visit(page, "add degree", click(page, "link", "Add a degree"))
    page.get_by_label("Degree level").select_option(label="Master's")
    page.get_by_label("Field (ISCED-F 2013)").select_option(value="0533")
    page.get_by_label(re.compile("^Institution")).fill(INSTITUTION)
    page.get_by_label("Awarded on").fill("2020-06-30")
    journey.visit(page, "applicant (degree added)", click(page, "button", "Save"))
    expect_flash(page, "The degree is saved.")
    degree = page.get_by_role("row").filter(has_text=INSTITUTION)
    expect(degree).to_contain_text("Master")
    expect(degree).to_contain_text("Physics")
    expect(degree).not_to_contain_text("Unverified")
    journey.screenshot(page, "applicant")

    # Eligibility.
    journey.visit(page, "case", click(page, "link", reference))
    journey.visit(page, "eligibility", click(page, "link", "Assess eligibility"))
    journey.visit(page, "eligibility (assessed)", click(page, "button", "Run assessment"))
    expect_flash(page, re.compile(r"Assessed under .+: eligible\."))
    expect(page.locator(".outcome-line .badge")).to_have_text("Eligible")

    # The case now waits for its documents.
    journey.visit(page, "case (assessed)", breadcrumb(page, reference))
    readiness = page.get_by_role("region", name="Readiness")
    expect(readiness).to_contain_text("Passport photo: not received yet.")
    expect(page.locator(".card").filter(has=page.get_by_role("heading", name="Eligibility"))
           ).to_contain_text("Eligible")
    journey.screenshot(page, "case")

    # Documents: ask the applicant for every required one through an upload link.
    journey.visit(page, "documents", click(page, "link", "Open the documents"))
    rows = page.get_by_role("row").filter(has=page.get_by_role("cell", name=re.compile(r"^Required")))
    required = [rows.nth(i).get_by_role("link").inner_text() for i in range(rows.count())]
    assert sorted(required) == sorted(UPLOADS), required  # NG national living in GB: residence proof too
    journey.screenshot(page, "documents")
    journey.visit(page, "new upload link", click(page, "link", "Ask the applicant (upload link)"))
    for title in required:
        page.get_by_label(title, exact=True).check()
    journey.visit(page, "upload link created", click(page, "button", "Create the link"))
    expect(page.get_by_role("heading", name="The upload link is ready")).to_be_visible()
    link = page.get_by_role("textbox", name="Upload link").input_value()
    assert link.startswith(base + "/u/"), link

    # The applicant, on a phone and without an account, uploads a file for each document.
    phone_context = journey.context(browser, viewport=PHONE, is_mobile=True, has_touch=True)
    try:
        upload_everything(journey, journey.page(phone_context), link, tmp_path)
    finally:
        phone_context.close()

    # Back as the advisor: the dashboard shows what waits for review, on a desktop and a phone.
    journey.visit(page, "dashboard", click(page, "link", "Dashboard"))
    expect(page.locator("#reviews")).to_have_attribute("data-count", str(len(UPLOADS)))
    journey.screenshot(page, "dashboard")
    page.set_viewport_size(PHONE)
    assert not overflowing(page, PHONE["width"]), "the dashboard scrolls sideways at 390 px"
    journey.check_accessibility(page, "dashboard (390 px)")
    journey.screenshot(page, "dashboard-phone")
    page.set_viewport_size(DESKTOP)

    # Review: record what the checklist asks (the photo's date taken first), then accept.
    journey.visit(page, "cases", click(page, "link", "Cases"))
    journey.visit(page, "case (uploads received)", click(page, "link", reference))
    expect(page.get_by_role("region", name="Documents")).to_contain_text(f"{len(UPLOADS)} to review")
    for title in sorted(UPLOADS, key=lambda t: t != "Passport photo"):
        review(journey, page, title, reference)

    # Nothing blocks the case: intake → collecting → ready.
    expect(page.get_by_role("region", name="Readiness")).to_contain_text("Nothing blocks this case.")
    expect(page.get_by_role("region", name="Documents")).to_contain_text(
        "every required document is accepted or waived")
    for status in ("Collecting", "Ready"):
        page.get_by_label("Move to").select_option(label=status)
        journey.visit(page, f"case ({status.lower()})", click(page, "button", "Change status"))
        expect_flash(page, f"{reference} is now {status.lower()}.")
        expect(page.locator("h1 .badge")).to_have_text(status)

    # The final packet: export it, download it, open it.
    journey.visit(page, "packets", click(page, "link", "Submission packet"))
    expect(page.get_by_text(f"{len(UPLOADS)} exhibits (accepted documents).")).to_be_visible()
    journey.visit(page, "packets (exported)", click(page, "button", "Export the final packet"))
    expected_pages = FRONT_PAGES + sum(pages for _, _, pages in UPLOADS.values())
    expect_flash(page, f"Final packet 1 exported: {expected_pages} pages.")
    expect(page.get_by_role("row").filter(has_text="Packet 1")).to_contain_text("Current")
    journey.screenshot(page, "packets")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Packet 1").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".pdf"), download.suggested_filename
    saved = tmp_path / "packet.pdf"
    download.save_as(saved)
    data = saved.read_bytes()
    assert data.startswith(b"%PDF")
    with pikepdf.open(io.BytesIO(data)) as pdf:
        assert len(pdf.pages) == expected_pages

    # Submitted.
    journey.visit(page, "case (ready)", breadcrumb(page, reference))
    page.get_by_label("Move to").select_option(label="Submitted")
    page.get_by_label("Note").fill("Filed at the London embassy's visa centre.")
    journey.visit(page, "case (submitted)", click(page, "button", "Change status"))
    expect_flash(page, f"{reference} is now submitted.")
    expect(page.locator("h1 .badge")).to_have_text("Submitted")
    expect(page.get_by_role("list").filter(has_text="Filed at the London embassy")).to_be_visible()
    journey.screenshot(page, "case-submitted")


def upload_everything(journey: Journey, phone: Page, link: str, tmp_path: Path) -> None:
    journey.go(phone, "applicant upload page (phone)", link)
    expect(phone.get_by_role("heading", name=re.compile("^Upload your documents"))).to_be_visible()
    assert not overflowing(phone, PHONE["width"]), "the upload page scrolls sideways at 390 px"
    journey.screenshot(phone, "upload-phone")
    for title, (name, content, _) in UPLOADS.items():
        path = tmp_path / name
        path.write_bytes(content)
        section = phone.get_by_role("region", name=re.compile("^" + re.escape(title)))
        section.get_by_label("Files · 文件").set_input_files(path)
        journey.visit(phone, f"applicant upload: {title} (phone)",
                      lambda section=section: section.get_by_role("button", name="Upload · 上传").click())
        expect_flash(phone, "Thank you — 1 file received.")
        expect(phone.get_by_role("region", name=re.compile("^" + re.escape(title)))).to_contain_text(
            "Received, waiting for review")
    journey.screenshot(phone, "upload-phone-done")


def review(journey: Journey, page: Page, title: str, reference: str) -> None:
    journey.visit(page, f"document: {title}", click(page, "link", f"Review: {title}"))
    expect(page.locator("h1 + div .badge")).to_have_text("To review")
    if title in DETAILS:
        for label, value in DETAILS[title].items():
            page.get_by_label(label).fill(value)
        journey.visit(page, f"document: {title} (details)", click(page, "button", "Save details"))
        expect_flash(page, "Details saved.")
    checks = page.locator("ul.checks li")
    expect(checks.filter(has_text=re.compile("Fails|Cannot tell"))).to_have_count(0)
    journey.visit(page, f"document: {title} (accepted)", click(page, "button", "Accept version 1"))
    expect_flash(page, f"Accepted: {title}.")
    expect(page.locator("h1 + div .badge")).to_have_text("Accepted")
    if title == "Passport photo":
        expect(checks.first).to_contain_text("within 6 months of the planned submission")
        journey.screenshot(page, "document-photo")
    journey.visit(page, "case", breadcrumb(page, reference))
