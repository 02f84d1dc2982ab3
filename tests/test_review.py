"""Findings of a code review: bad input that used to answer 500, queries from templates, lists that hid
rows, password checks outside the throttle, and start-up on a fresh machine."""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from bs4 import BeautifulSoup
from flask import Flask, before_render_template, template_rendered
from sqlalchemy import event, select, text

from advisor import audit, create_app
from advisor.passwords import verify_password
from models import Applicant, AuditEvent, Role, db

from .conftest import PASSWORD
from .test_applicants_cases import new_applicant_form

HUGE = "9" * 30  # past every integer type of SQLite and PostgreSQL


# Huge numbers -------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", [
    f"/cases/{HUGE}", f"/cases/{2**63}", f"/cases/{HUGE}/edit", f"/cases/new/{HUGE}",
    f"/applicants/{HUGE}", f"/applicants/{2**31}/edit", f"/admin/users/{HUGE}/edit",
])
def test_ids_too_big_for_any_row_answer_404(client, auth, admin, path):
    auth.login(admin.email)
    assert client.get(path).status_code == 404


@pytest.mark.parametrize("path", ["/cases/", "/applicants/", "/audit/", "/admin/users"])
def test_a_huge_page_number_shows_an_empty_page(client, auth, admin, path):
    auth.login(admin.email)
    assert client.get(f"{path}?page={HUGE}").status_code == 200


# NUL characters -----------------------------------------------------------------------------------

def test_nul_characters_in_a_query_string_are_refused(client, auth, advisor, make_case):
    make_case(advisor)
    auth.login(advisor.email)
    assert client.get("/cases/?q=Oka%00for").status_code == 400
    assert client.get("/applicants/?q=%00").status_code == 400


def test_nul_characters_in_a_form_are_refused_and_nothing_changes(client, auth, advisor, make_case):
    case = make_case(advisor)
    refused = client.post("/auth/login", data={"email": "advisor\x00@practice.test", "password": "x"})
    assert refused.status_code == 400
    auth.login(advisor.email)
    response = client.post(f"/cases/{case.id}/edit", data={"consulate_code": "GB-LON", "case_notes": "a\x00b",
                                                           "version": case.version})
    assert response.status_code == 400
    db.session.refresh(case)
    assert case.notes == ""


# The audit filter ---------------------------------------------------------------------------------

def test_the_last_possible_day_as_upper_bound_keeps_every_event(app, advisor):
    found = db.session.scalars(audit.search_events(date_to=dt.date.max)).all()
    assert {event.action for event in found} == {"user.create"}


@pytest.mark.parametrize("query", ["date_to=9999-12-31", "date_from=9999-12-31&date_to=9999-12-31",
                                   "user=%C2%B2", f"user={HUGE}", "user=-1"])
def test_the_audit_page_survives_odd_filters(client, auth, admin, query):
    auth.login(admin.email)
    assert client.get(f"/audit/?{query}").status_code == 200


def test_an_unknown_user_in_the_audit_filter_is_flagged_and_ignored(client, auth, admin, advisor):
    auth.login(admin.email)
    page = BeautifulSoup(client.get(f"/audit/?user={HUGE}").data, "html.parser")
    assert page.find(id="user-error") is not None
    assert page.select("table.audit tbody tr"), "the filter is ignored, not applied"


def test_the_audit_page_without_a_user_filter_shows_no_error(client, auth, admin):
    auth.login(admin.email)
    for query in ("", "?user=", "?action=auth."):
        page = BeautifulSoup(client.get(f"/audit/{query}").data, "html.parser")
        assert page.find(id="user-error") is None, query


# Templates never query ----------------------------------------------------------------------------

@contextmanager
def statements_while_rendering(app: Flask) -> Iterator[list[str]]:
    """The SQL statements run while a template renders, i.e. lazy loads triggered from a template."""
    depth = [0]
    statements: list[str] = []

    def before(sender: Any, **extra: Any) -> None:
        depth[0] += 1

    def after(sender: Any, **extra: Any) -> None:
        depth[0] -= 1

    def on_execute(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if depth[0]:
            statements.append(statement)

    before_render_template.connect(before, app)
    template_rendered.connect(after, app)
    event.listen(db.engine, "before_cursor_execute", on_execute)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", on_execute)
        before_render_template.disconnect(before, app)
        template_rendered.disconnect(after, app)


def test_case_and_applicant_pages_do_not_query_from_their_templates(app, client, auth, admin, advisor,
                                                                      other_advisor, make_case):
    case = make_case(advisor)
    make_case(other_advisor, applicant=case.applicant)
    auth.login(admin.email)
    for path in (f"/cases/{case.id}", f"/applicants/{case.applicant_id}"):
        with statements_while_rendering(app) as statements:
            response = client.get(path)
        assert response.status_code == 200
        assert statements == [], (path, statements)
        assert advisor.name.encode() in response.data


# Lists show every row -----------------------------------------------------------------------------

def test_the_user_list_pages_past_fifty_accounts(client, auth, admin, make_user):
    for _ in range(50):
        make_user(Role.ADVISOR, password=None)
    auth.login(admin.email)
    first = BeautifulSoup(client.get("/admin/users").data, "html.parser")
    assert len(first.select("table.table tbody tr")) == 50
    assert first.select_one("a[rel=next]") is not None
    second = BeautifulSoup(client.get(first.select_one("a[rel=next]")["href"]).data, "html.parser")
    assert len(second.select("table.table tbody tr")) == 1


# Password checks of a signed-in user share the sign-in throttle -----------------------------------

def test_the_password_confirmation_cannot_be_used_to_guess_without_limit(app, client, auth, admin):
    auth.login(admin.email)
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        assert client.post("/auth/confirm", data={"password": "wrong-guess-123"}).status_code == 200
    response = client.post("/auth/confirm?next=/admin/users", data={"password": PASSWORD})
    assert response.status_code == 200
    assert b"Too many failed sign-in attempts" in response.data
    assert len(db.session.scalars(select(AuditEvent).where(AuditEvent.action == "auth.reauth_failed")).all()) == 5


def test_the_current_password_check_cannot_be_used_to_guess_without_limit(app, client, auth, advisor):
    auth.login(advisor.email)
    new = "violet-harbour-lantern-43-new"
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        client.post("/auth/account/password", data={"current": "wrong-guess-123", "password": new, "confirm": new})
    response = client.post("/auth/account/password", data={"current": PASSWORD, "password": new, "confirm": new})
    assert b"Too many failed sign-in attempts" in response.data
    db.session.refresh(advisor)
    assert verify_password(advisor.password_hash, PASSWORD)


# Input that is valid ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["王𬭚", "𠮷田", "李〇"])
def test_chinese_names_with_rare_characters_are_accepted(client, auth, advisor, name):
    auth.login(advisor.email)
    response = client.post("/applicants/new", data=new_applicant_form(chinese_name=name, advisor_id=str(advisor.id)))
    assert response.status_code == 302, response.data[-3000:]
    assert db.session.scalar(select(Applicant.chinese_name)) == name


# A fresh machine ----------------------------------------------------------------------------------

def test_the_default_sqlite_database_works_before_the_instance_folder_exists(tmp_path):
    instance = tmp_path / "not-yet" / "instance"
    app = create_app({"SECRET_KEY": "a-real-secret-key-for-this-test", "TESTING": True},
                     instance_path=str(instance))
    with app.app_context():
        assert db.session.execute(text("SELECT 1")).scalar() == 1
        db.engine.dispose()
    assert (instance / "advisor.sqlite3").exists()


def test_a_sign_in_does_not_make_an_admins_open_edit_a_conflict(client, auth, admin, make_user, app):
    from models import User, db

    other = make_user(email="signer@example.org", name="Sam Signer")
    seen = other.version
    signer = app.test_client()
    assert signer.post("/auth/login", data={"email": other.email, "password": PASSWORD}).status_code == 302
    auth.login(admin.email)
    response = client.post(f"/admin/users/{other.id}/edit",
                           data={"name": "Sam Signer-Smith", "email": other.email, "role": "advisor",
                                 "version": str(seen)})
    assert response.status_code == 302
    db.session.expire_all()
    saved = db.session.get(User, other.id)
    assert saved.name == "Sam Signer-Smith" and saved.version == seen + 1
    stale = client.post(f"/admin/users/{other.id}/edit",
                        data={"name": "Stale Name", "email": other.email, "role": "advisor", "version": str(seen)})
    assert stale.status_code == 200 and b"Someone else saved this record" in stale.data
    db.session.expire_all()
    assert db.session.get(User, other.id).name == "Sam Signer-Smith"
