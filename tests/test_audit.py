"""The audit trail: an event for every change, login and admin action, saying who, when (UTC) and what
changed; never a password or a hash, and passport numbers masked. And the admin's audit page."""
from __future__ import annotations

import datetime as dt
import json
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import pytest
from bs4 import BeautifulSoup
from sqlalchemy import select, text

from advisor import applicants, audit
from models import AuditEvent, Case, User, db, utcnow

from .conftest import PASSWORD, applicant_data

WRONG_PASSWORD = "not-the-password-at-all-7"
NINA_FIRST = "copper-kettle-orchard-88"
NINA_SECOND = "silent-glacier-pepper-31"
NINA_THIRD = "woollen-comet-saddle-64"
OLD_PASSPORT = "E12345678"
NEW_PASSPORT = "E87654321"


def today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def page(response: Any) -> BeautifulSoup:
    return BeautifulSoup(response.data, "html.parser")


def form_values(response: Any) -> dict[str, str]:
    form = page(response).select_one("main form.form")
    assert form is not None
    values: dict[str, str] = {}
    for element in form.select("input[name], textarea[name], select[name]"):
        if element.name == "textarea":
            values[element["name"]] = element.text.lstrip("\r\n")
        elif element.name == "select":
            chosen = element.select_one("option[selected]") or element.select_one("option")
            values[element["name"]] = chosen["value"] if chosen else ""
        else:
            values[element["name"]] = element.get("value", "")
    return values


def link_path(response: Any) -> str:
    """The one-time password link an admin is shown, as a path."""
    link = page(response).select_one("input#password-link")
    assert link is not None, response.text[:2000]
    return urlsplit(link["value"]).path


def events(action: str | None = None) -> list[AuditEvent]:
    db.session.expire_all()
    query = select(AuditEvent).order_by(AuditEvent.id)
    if action:
        query = query.where(AuditEvent.action == action)
    return list(db.session.scalars(query))


def one(action: str, about: Any = None) -> AuditEvent:
    found = [event for event in events(action) if about is None or event.object_id == about.id]
    assert len(found) == 1, [(event.action, event.object_id) for event in events()]
    return found[0]


def assert_recent_utc(moment: dt.datetime) -> None:
    assert moment.tzinfo is not None and moment.utcoffset() == dt.timedelta(0)
    assert abs(utcnow() - moment) < dt.timedelta(minutes=2)


def audit_table_dump() -> str:
    """Every column of every audit row, as the database holds it."""
    db.session.commit()
    rows = db.session.execute(text("SELECT * FROM audit_events")).mappings().all()
    assert rows
    return json.dumps([dict(row) for row in rows], default=str, ensure_ascii=False)


# One walk through everything the app audits ---------------------------------------------------

@pytest.fixture
def journey(client, auth, admin, advisor, other_advisor):  # type: ignore[no-untyped-def]
    """Log an applicant, edit, reassign and delete; fail to log in until locked out; create, edit,
    deactivate, reactivate and reset an account; set and change passwords; log in and out."""
    # An advisor logs an applicant and their case, then edits both.
    auth.login(advisor.email)
    response = client.post("/applicants/new", data={
        "family_name": "Okafor", "given_names": "Chidi", "chinese_name": "", "sex": "M",
        "born_on": "1996-05-17", "nationality": "NG", "residence_country": "GB",
        "passport_number": OLD_PASSPORT.lower(), "passport_issued_on": "2022-03-01",
        "passport_expires_on": "2032-02-28", "email": "", "phone": "", "notes": "",
        "consulate_code": "GB-LON", "planned_submission_on": (today() + dt.timedelta(days=30)).isoformat(),
        "intended_entry_on": "", "case_notes": "First trip.", "advisor_id": str(advisor.id)})
    assert response.status_code == 302
    case = db.session.get(Case, int(response.headers["Location"].rsplit("/", 1)[1]))
    applicant = case.applicant
    form = form_values(client.get(f"/applicants/{applicant.id}/edit"))
    form.update(family_name="Okafor-Smith", passport_number=NEW_PASSPORT)
    assert client.post(f"/applicants/{applicant.id}/edit", data=form).status_code == 302
    form = form_values(client.get(f"/cases/{case.id}/edit"))
    form.update(case_notes="Visa photo needed.")
    assert client.post(f"/cases/{case.id}/edit", data=form).status_code == 302
    auth.logout()

    # Someone guesses the other advisor's password until locked out, then tries an unknown email.
    for _ in range(5):
        assert auth.login(other_advisor.email, WRONG_PASSWORD).status_code == 401
    assert auth.login(other_advisor.email).status_code == 401  # even the right password: locked
    assert auth.login("Nobody@Example.com", WRONG_PASSWORD).status_code == 401

    # The admin reassigns and deletes, and looks after an account.
    auth.login(admin.email)
    response = client.post(f"/cases/{case.id}/reassign",
                           data={"advisor_id": other_advisor.id, "version": case.version})
    assert response.status_code == 302
    response = client.post("/admin/users/new", data={"name": "Nina New", "email": "nina@example.com",
                                                      "role": "advisor", "version": "0"})
    assert response.status_code == 200
    invite = link_path(response)
    nina = db.session.scalars(select(User).where(User.email == "nina@example.com")).one()
    form = form_values(client.get(f"/admin/users/{nina.id}/edit"))
    form["name"] = "Nina Newton"
    assert client.post(f"/admin/users/{nina.id}/edit", data=form).status_code == 302
    assert client.post(f"/admin/users/{nina.id}/deactivate").status_code == 302
    assert client.post(f"/admin/users/{nina.id}/activate").status_code == 302
    assert client.post(f"/applicants/{applicant.id}/delete").status_code == 302
    auth.logout()

    # The new advisor chooses a password, signs in, changes it and signs out.
    response = client.post(invite, data={"password": NINA_FIRST, "confirm": NINA_FIRST})
    assert response.status_code == 302
    assert auth.login("nina@example.com", NINA_FIRST).status_code == 302
    response = client.post("/auth/account/password",
                           data={"current": NINA_FIRST, "password": NINA_SECOND, "confirm": NINA_SECOND})
    assert response.status_code == 302
    auth.logout()

    # The admin resets her password; she sets a new one through the link.
    auth.login(admin.email)
    response = client.post(f"/admin/users/{nina.id}/reset-password")
    assert response.status_code == 200
    reset = link_path(response)
    auth.logout()
    assert client.post(reset, data={"password": NINA_THIRD, "confirm": NINA_THIRD}).status_code == 302

    db.session.expire_all()
    return SimpleNamespace(case=case, applicant=applicant, nina=nina, admin=admin, advisor=advisor,
                           other=other_advisor)


def test_every_kind_of_action_leaves_an_event_saying_who_and_when(journey):
    j = journey
    expected = {
        # action: (actor, object, case)
        "applicant.create": (j.advisor, j.applicant, None),
        "applicant.update": (j.advisor, j.applicant, None),
        "applicant.delete": (j.admin, j.applicant, None),
        "case.create": (j.advisor, j.case, j.case),
        "case.update": (j.advisor, j.case, j.case),
        "case.reassign": (j.admin, j.case, j.case),
        "case.delete": (j.admin, j.case, j.case),
        "user.create": (j.admin, j.nina, None),
        "user.update": (j.admin, j.nina, None),
        "user.deactivate": (j.admin, j.nina, None),
        "user.activate": (j.admin, j.nina, None),
        "user.password_reset": (j.admin, j.nina, None),
        "user.password_change": (j.nina, j.nina, None),
    }
    for action, (actor, obj, case) in expected.items():
        event = one(action, about=obj)
        assert (event.actor_id, event.actor_label) == (actor.id, actor.email), action
        assert (event.object_type, event.object_id) == (type(obj).__name__.lower(), obj.id), action
        assert event.case_id == (case.id if case else None), action
        assert event.ip == "127.0.0.1", action
        assert_recent_utc(event.at)

    # Accounts made outside any request (the CLI, these fixtures) name the system as actor.
    system = one("user.create", about=j.advisor)
    assert (system.actor_id, system.actor_label, system.ip) == (None, "system", None)

    password_set = events("user.password_set")
    assert [event.changes for event in password_set] == [{"via": "invite"}, {"via": "reset"}]
    assert {(event.actor_id, event.object_id) for event in password_set} == {(j.nina.id, j.nina.id)}

    logins = events("auth.login")
    assert [event.actor_label for event in logins] == [j.advisor.email, j.admin.email, "nina@example.com",
                                                       j.admin.email]
    assert all(event.actor_id == event.object_id for event in logins)
    logouts = events("auth.logout")
    assert [event.actor_id for event in logouts] == [j.advisor.id, j.admin.id, j.nina.id, j.admin.id]
    for event in logins + logouts + password_set:
        assert_recent_utc(event.at)


def test_failed_logins_and_the_lockout_are_audited_without_an_actor(journey):
    failed = events("auth.login_failed")
    assert [(event.actor_label, event.changes) for event in failed] == [
        *[(journey.other.email, {"reason": "credentials"})] * 5,
        (journey.other.email, {"reason": "locked"}),
        ("nobody@example.com", {"reason": "credentials"}),
    ]
    lockout = one("auth.lockout")
    assert lockout.actor_label == journey.other.email
    assert all(event.actor_id is None for event in [*failed, lockout])
    # The lockout comes with the fifth failure, not before.
    assert failed[3].id < failed[4].id < lockout.id < failed[5].id
    for event in [*failed, lockout]:
        assert_recent_utc(event.at)


def test_changes_are_old_and_new_pairs(journey):
    assert one("applicant.update").changes == {
        "family_name": ["Okafor", "Okafor-Smith"],
        "passport_number": [audit.mask(OLD_PASSPORT), audit.mask(NEW_PASSPORT)],
    }
    assert one("case.update").changes == {"notes": ["First trip.", "Visa photo needed."]}
    assert one("case.reassign").changes == {"advisor": [journey.advisor.email, journey.other.email]}
    assert one("user.update").changes == {"name": ["Nina New", "Nina Newton"]}
    created = one("user.create", about=journey.nina).changes
    assert created["email"] == "nina@example.com" and created["name"] == "Nina New"
    assert created["role"] == "advisor" and created["active"] is True
    opened = one("case.create").changes
    assert opened["reference"] == journey.case.reference and opened["status"] == "intake"
    assert opened["notes"] == "First trip." and opened["consulate_code"] == "GB-LON"


def test_no_password_hash_or_session_token_appears_in_any_event(journey):
    dump = audit_table_dump()
    for secret in (PASSWORD, WRONG_PASSWORD, NINA_FIRST, NINA_SECOND, NINA_THIRD, "argon2", "$argon"):
        assert secret not in dump, secret
    for user in db.session.scalars(select(User)):
        assert user.session_token not in dump
        if user.password_hash:
            assert user.password_hash not in dump
    for event in events():
        assert not {"password", "password_hash", "session_token", "token_hash"} & set(event.changes)


def test_passport_numbers_are_masked_everywhere_in_the_audit_table(journey):
    created = one("applicant.create").changes
    assert created["passport_number"] == "••••••678"
    assert created["family_name"] == "Okafor"  # the snapshot has the rest in clear
    assert one("applicant.update").changes["passport_number"] == ["••••••678", "••••••321"]
    dump = audit_table_dump()
    for number in (OLD_PASSPORT, NEW_PASSPORT, OLD_PASSPORT.lower(), OLD_PASSPORT[1:], NEW_PASSPORT[:-1]):
        assert number not in dump, number


@pytest.mark.parametrize(("number", "masked"), [
    ("E12345678", "••••••678"),
    ("AB1234567890", "•••••••••890"),
    ("12345", "••345"),
    ("", ""),
    (None, None),
])
def test_mask_shows_only_the_last_three_characters(number, masked):
    assert audit.mask(number) == masked


def test_an_event_is_part_of_the_transaction_it_records(app, advisor):
    before = len(events())
    applicants.create_applicant(applicant_data(), by=advisor)
    assert [event.action for event in db.session.new if isinstance(event, AuditEvent)] == ["applicant.create"]
    db.session.rollback()
    assert len(events()) == before


def test_operations_outside_a_request_are_audited_without_an_address(app, advisor, make_case):
    make_case(advisor)
    event = one("case.create")
    assert event.ip is None and event.actor_id == advisor.id
    assert_recent_utc(event.at)


# The audit page -------------------------------------------------------------------------------

def table_rows(response: Any) -> list[tuple[str, str]]:
    """(who, action) of each row on the audit page, newest first."""
    rows = []
    for row in page(response).select("table.audit tbody tr"):
        cells = row.select("td")
        rows.append((cells[1].text.strip(), cells[2].text.strip()))
    return rows


def at(text_value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text_value).replace(tzinfo=dt.UTC)


@pytest.fixture
def dated(app, admin):  # type: ignore[no-untyped-def]
    """Events around the days 2024-03-10 to 2024-03-12, on both sides of each edge."""
    moments = {
        "probe.before": "2024-03-09 23:59:59.999999",
        "probe.first": "2024-03-10 00:00:00",
        "probe.middle": "2024-03-11 12:00:00",
        "probe.last": "2024-03-12 23:59:59.999999",
        "probe.after": "2024-03-13 00:00:00",
    }
    for action, moment in moments.items():
        event = audit.record(action, actor=admin)
        event.at = at(moment)
    db.session.commit()
    return moments


@pytest.mark.parametrize(("query", "expected"), [
    ({"date_from": "2024-03-10", "date_to": "2024-03-12"}, ["probe.last", "probe.middle", "probe.first"]),
    ({"date_from": "2024-03-11", "date_to": "2024-03-11"}, ["probe.middle"]),
    ({"date_from": "2024-03-10", "date_to": "2024-03-10"}, ["probe.first"]),
    ({"date_from": "2024-03-12", "date_to": "2024-03-12"}, ["probe.last"]),
    ({"date_to": "2024-03-09"}, ["probe.before"]),
    ({"date_from": "2024-03-13", "date_to": "2024-12-31"}, ["probe.after"]),
    ({"date_from": "2024-03-14", "date_to": "2024-12-31"}, []),
    ({"date_from": "2024-03-12", "date_to": "2024-03-10"}, []),
    ({"action": "probe.", "date_to": "2024-12-31"},
     ["probe.after", "probe.last", "probe.middle", "probe.first", "probe.before"]),
])
def test_audit_page_filters_by_date_range_both_ends_included(client, auth, admin, dated, query, expected):
    auth.login(admin.email)
    response = client.get("/audit/", query_string=query)
    assert response.status_code == 200
    assert [action for _, action in table_rows(response)] == expected


def test_audit_page_without_filters_shows_everything_newest_first(client, auth, admin, dated):
    auth.login(admin.email)
    actions = [action for _, action in table_rows(client.get("/audit/"))]
    assert actions[0] == "auth.login"  # just now
    assert actions[-5:] == ["probe.after", "probe.last", "probe.middle", "probe.first", "probe.before"]


def test_audit_page_filters_by_user_case_and_action(client, auth, admin, advisor, other_advisor, make_case):
    mine = make_case(advisor)
    theirs = make_case(other_advisor)
    auth.login(admin.email)
    client.post(f"/cases/{mine.id}/reassign", data={"advisor_id": other_advisor.id, "version": mine.version})

    by_user = table_rows(client.get("/audit/", query_string={"user": advisor.id}))
    assert by_user == [(advisor.email, "case.create"), (advisor.email, "applicant.create")]

    for reference in (mine.reference, mine.reference.lower()):
        by_case = table_rows(client.get("/audit/", query_string={"case": reference}))
        assert by_case == [(admin.email, "case.reassign"), (advisor.email, "case.create")], reference
    assert table_rows(client.get("/audit/", query_string={"case": theirs.reference})) == [
        (other_advisor.email, "case.create")]
    assert table_rows(client.get("/audit/", query_string={"case": "K-1999-000001"})) == []

    by_prefix = table_rows(client.get("/audit/", query_string={"action": "case."}))
    assert [action for _, action in by_prefix] == ["case.reassign", "case.create", "case.create"]
    for prefix, expected in (("case.re", ["case.reassign"]), ("auth.", ["auth.login"])):
        rows = table_rows(client.get("/audit/", query_string={"action": prefix}))
        assert [action for _, action in rows] == expected, prefix
    # A wildcard is taken literally, not as a pattern.
    assert table_rows(client.get("/audit/", query_string={"action": "%"})) == []
    assert table_rows(client.get("/audit/", query_string={"action": "case_"})) == []

    combined = table_rows(client.get("/audit/", query_string={"user": admin.id, "case": mine.reference,
                                                              "action": "case."}))
    assert combined == [(admin.email, "case.reassign")]


def test_audit_page_ignores_a_malformed_date(client, auth, admin, dated):
    auth.login(admin.email)
    response = client.get("/audit/", query_string={"date_from": "10/03/2024", "action": "probe."})
    assert response.status_code == 200
    assert len(table_rows(response)) == 5


def test_advisors_get_403_on_the_audit_page(client, auth, advisor):
    auth.login(advisor.email)
    for query in ({}, {"user": advisor.id}, {"action": "auth."}):
        response = client.get("/audit/", query_string=query)
        assert response.status_code == 403
        assert page(response).select("table.audit") == []
