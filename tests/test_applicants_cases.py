"""Applicants and cases: creating, editing, validating, conflicting edits, finding, reassigning, deleting."""
from __future__ import annotations

import dataclasses
import datetime as dt
import re
from typing import Any

import pytest
from bs4 import BeautifulSoup
from sqlalchemy import create_engine, func, select

from advisor import accounts, applicants, cases
from advisor.errors import Conflict, DomainError, NotAllowed
from models import Applicant, AuditEvent, Case, CaseStatus, Role, db
from views import editing

from .conftest import applicant_data

REFERENCE = re.compile(r"^K-\d{4}-\d{6}$")
CONFLICT_MESSAGE = "Someone else saved this record"


def today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def new_applicant_form(**overrides: Any) -> dict[str, str]:
    """A valid submission of /applicants/new; overrides replace single fields."""
    values = {
        "family_name": "Okafor", "given_names": "Chidi", "chinese_name": "", "sex": "M",
        "born_on": "1996-05-17", "nationality": "NG", "residence_country": "GB",
        "passport_number": "A1234567", "passport_issued_on": "2022-03-01",
        "passport_expires_on": "2032-02-28", "email": "chidi@example.org", "phone": "+44 20 7946 0000",
        "notes": "Prefers email.", "consulate_code": "GB-LON",
        "planned_submission_on": (today() + dt.timedelta(days=30)).isoformat(),
        "intended_entry_on": (today() + dt.timedelta(days=60)).isoformat(), "case_notes": "First trip.",
    }
    values.update({key: value.isoformat() if isinstance(value, dt.date) else value
                   for key, value in overrides.items()})
    return values


def page(response: Any) -> BeautifulSoup:
    return BeautifulSoup(response.data, "html.parser")


def form_values(response: Any) -> dict[str, str]:
    """What a browser would submit from the page's main form, as rendered."""
    form = page(response).select_one("main form.form")
    assert form is not None
    values: dict[str, str] = {}
    for element in form.select("input[name], textarea[name], select[name]"):
        name = element["name"]
        if element.name == "textarea":
            values[name] = element.text.lstrip("\r\n")
        elif element.name == "select":
            chosen = element.select_one("option[selected]") or element.select_one("option")
            values[name] = chosen["value"] if chosen else ""
        else:
            values[name] = element.get("value", "")
    return values


def field_error(response: Any, name: str) -> str | None:
    """The error shown next to a field (the form macro renders it right below the input)."""
    error = page(response).find(id=f"{name}-error")
    if error is None:
        return None
    field = error.find_parent("div", class_="field")
    assert field is not None and field.find(attrs={"name": name}) is not None, "error not beside its field"
    return error.text


def flashes(response: Any) -> list[str]:
    return [flash.text for flash in page(response).select(".flash")]


def row_ids(response: Any, prefix: str) -> list[int]:
    body = page(response).select_one("table.table tbody")
    if body is None:
        return []
    return [int(link["href"][len(prefix):]) for link in body.select("a[href]")
            if link["href"].startswith(prefix) and link["href"][len(prefix):].isdigit()]


def advisor_options(response: Any) -> set[str]:
    return {option["value"] for option in page(response).select("select#advisor_id option")}


def row_counts() -> tuple[int, int, int]:
    return tuple(db.session.scalar(select(func.count()).select_from(model))  # type: ignore[return-value]
                 for model in (Applicant, Case, AuditEvent))


def data_of(applicant: Applicant, **changes: Any) -> applicants.ApplicantData:
    fields = {name: getattr(applicant, name) for name in applicants.ApplicantData.__dataclass_fields__}
    return applicants.ApplicantData(**{**fields, **changes})


def case_data_of(case: Case, **changes: Any) -> cases.CaseData:
    return dataclasses.replace(cases.CaseData(case.consulate_code, case.planned_submission_on,
                                              case.intended_entry_on, case.notes), **changes)


def fresh(obj: Any) -> Any:
    db.session.expire_all()
    return db.session.get(type(obj), obj.id)


# Creating an applicant opens their first case ------------------------------------------------------

def test_new_applicant_creates_the_applicant_and_a_first_case_assigned_to_me(client, auth, advisor):
    auth.login(advisor.email)
    response = client.post("/applicants/new", data=new_applicant_form(
        passport_number=" ab 123 4567 ", chinese_name="李明", advisor_id=str(advisor.id)))
    assert response.status_code == 302

    applicant = db.session.scalars(select(Applicant)).one()
    case = db.session.scalars(select(Case)).one()
    assert response.headers["Location"] == f"/cases/{case.id}"
    assert case.applicant_id == applicant.id
    assert case.advisor_id == advisor.id and case.created_by_id == advisor.id
    assert case.status == CaseStatus.INTAKE
    assert case.consulate_code == "GB-LON" and case.notes == "First trip."
    assert REFERENCE.match(case.reference)
    assert case.reference.startswith(f"K-{dt.datetime.now(dt.UTC).year}-")
    assert (applicant.family_name, applicant.given_names, applicant.chinese_name) == ("Okafor", "Chidi", "李明")
    assert applicant.passport_number == "AB1234567"
    assert applicant.born_on == dt.date(1996, 5, 17) and applicant.created_by_id == advisor.id
    shown = client.get(response.headers["Location"])
    assert shown.status_code == 200 and case.reference in shown.text
    assert f"case {case.reference} opened" in shown.text


def test_references_count_up_per_case_and_are_unique(client, auth, advisor, make_case):
    auth.login(advisor.email)
    for number in range(3):
        client.post("/applicants/new", data=new_applicant_form(passport_number=f"P{number}000000"))
    opened = make_case(advisor)
    another = cases.open_case(opened.applicant, cases.CaseData("US-NYC", None, None, ""), advisor=advisor,
                              by=advisor)
    db.session.commit()
    references = list(db.session.scalars(select(Case.reference).order_by(Case.id)))
    assert len(references) == 5 and len(set(references)) == 5
    assert all(REFERENCE.match(reference) for reference in references)
    numbers = [int(reference.rsplit("-", 1)[1]) for reference in references]
    assert numbers == list(range(numbers[0], numbers[0] + 5))
    assert another.reference == references[-1]


def test_references_are_numbered_per_year(app):
    assert cases.next_reference(2031) == "K-2031-000001"
    assert cases.next_reference(2031) == "K-2031-000002"
    assert cases.next_reference(2032) == "K-2032-000001"
    assert cases.next_reference(2031) == "K-2031-000003"


def test_advisor_is_offered_only_themselves_and_cannot_assign_to_someone_else(
        client, auth, advisor, other_advisor):
    auth.login(advisor.email)
    form = page(client.get("/applicants/new"))
    offered = [option["value"] for option in form.select("select#advisor_id option")]
    assert offered == [str(advisor.id)]

    before = row_counts()
    response = client.post("/applicants/new", data=new_applicant_form(advisor_id=str(other_advisor.id)))
    assert response.status_code == 200
    assert field_error(response, "advisor_id") == "Not a valid choice."
    assert row_counts() == before


def test_advisor_cannot_open_a_case_for_someone_else_through_the_operation(app, advisor, other_advisor):
    applicant = applicants.create_applicant(applicant_data(), by=advisor)
    with pytest.raises(NotAllowed):
        cases.open_case(applicant, cases.CaseData("GB-LON", None, None, ""), advisor=other_advisor,
                        by=advisor)


def test_admin_can_assign_the_new_case_to_an_advisor(client, auth, admin, advisor, other_advisor):
    auth.login(admin.email)
    offered = advisor_options(client.get("/applicants/new"))
    assert {str(admin.id), str(advisor.id), str(other_advisor.id)} <= offered
    response = client.post("/applicants/new", data=new_applicant_form(advisor_id=str(advisor.id)))
    assert response.status_code == 302
    case = db.session.scalars(select(Case)).one()
    assert case.advisor_id == advisor.id and case.created_by_id == admin.id
    auth.logout()
    auth.login(advisor.email)
    assert client.get(f"/cases/{case.id}").status_code == 200


def test_deactivated_advisor_cannot_be_assigned(client, auth, admin, advisor, make_user, make_case):
    gone = make_user(Role.ADVISOR, name="Gone Advisor", active=False)
    case = make_case(advisor)
    auth.login(admin.email)

    offered = advisor_options(client.get("/applicants/new"))
    assert str(gone.id) not in offered
    before = row_counts()
    response = client.post("/applicants/new", data=new_applicant_form(advisor_id=str(gone.id)))
    assert response.status_code == 200 and field_error(response, "advisor_id") == "Not a valid choice."
    assert row_counts() == before

    detail = page(client.get(f"/cases/{case.id}"))
    assert str(gone.id) not in {option["value"] for option in detail.select("select#advisor_id option")}
    response = client.post(f"/cases/{case.id}/reassign", follow_redirects=True,
                           data={"advisor_id": gone.id, "version": case.version})
    assert "Choose an advisor from the list." in flashes(response)
    assert fresh(case).advisor_id == advisor.id

    # The operations refuse too, whatever a form lets through.
    with pytest.raises(DomainError, match="deactivated"):
        cases.reassign_case(case, gone, version=case.version, by=admin)
    with pytest.raises(DomainError, match="deactivated"):
        cases.open_case(case.applicant, case_data_of(case), advisor=gone, by=admin)
    db.session.rollback()


def test_open_another_case_for_an_applicant(client, auth, advisor, make_case):
    first = make_case(advisor)
    auth.login(advisor.email)
    response = client.post(f"/cases/new/{first.applicant_id}", data={
        "consulate_code": "US-SFO", "advisor_id": advisor.id, "planned_submission_on": "",
        "intended_entry_on": "", "case_notes": "Second trip"})
    assert response.status_code == 302
    second = db.session.scalars(select(Case).where(Case.id != first.id)).one()
    assert second.applicant_id == first.applicant_id and second.advisor_id == advisor.id
    assert second.consulate_code == "US-SFO" and second.reference != first.reference


# Editing ----------------------------------------------------------------------------------------------

def test_edit_applicant(client, auth, advisor, make_case):
    case = make_case(advisor)
    applicant = case.applicant
    version = applicant.version
    auth.login(advisor.email)
    form = form_values(client.get(f"/applicants/{applicant.id}/edit"))
    assert form["family_name"] == "Okafor" and form["version"] == str(version)
    assert form["sex"] == "M" and form["nationality"] == "NG" and form["born_on"] == "1996-05-17"

    form.update(family_name="Okafor-Smith", passport_number="zx 987 6543", chinese_name="李明",
                email="CHIDI@Example.org", notes="Moved to Leeds.")
    response = client.post(f"/applicants/{applicant.id}/edit", data=form)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/applicants/{applicant.id}"
    applicant = fresh(applicant)
    assert applicant.family_name == "Okafor-Smith" and applicant.passport_number == "ZX9876543"
    assert applicant.chinese_name == "李明" and applicant.email == "chidi@example.org"
    assert applicant.notes == "Moved to Leeds." and applicant.version == version + 1


def test_edit_case(client, auth, advisor, make_case):
    case = make_case(advisor)
    version = case.version
    auth.login(advisor.email)
    form = form_values(client.get(f"/cases/{case.id}/edit"))
    assert form["consulate_code"] == "GB-LON" and form["version"] == str(version)
    planned = today() + dt.timedelta(days=45)
    form.update(consulate_code="DE-BER", planned_submission_on=planned.isoformat(),
                intended_entry_on=(planned + dt.timedelta(days=20)).isoformat(), case_notes="Berlin instead")
    response = client.post(f"/cases/{case.id}/edit", data=form)
    assert response.status_code == 302 and response.headers["Location"] == f"/cases/{case.id}"
    case = fresh(case)
    assert case.consulate_code == "DE-BER" and case.planned_submission_on == planned
    assert case.intended_entry_on == planned + dt.timedelta(days=20)
    assert case.notes == "Berlin instead" and case.version == version + 1


# Validation --------------------------------------------------------------------------------------------

IN_FUTURE = today() + dt.timedelta(days=5)
IN_TEN_YEARS = today() + dt.timedelta(days=3650)

INVALID = [
    ("passport too short", "passport_number", {"passport_number": "AB12"}, "5 to 12 letters and digits"),
    ("passport too long", "passport_number", {"passport_number": "AB12345678901"}, "5 to 12 letters"),
    ("passport punctuation", "passport_number", {"passport_number": "AB-123456"}, "5 to 12 letters"),
    ("passport slash", "passport_number", {"passport_number": "AB/123456"}, "5 to 12 letters and digits"),
    ("born in the future", "born_on", {"born_on": today() + dt.timedelta(days=1)}, "at least 14 years ago"),
    ("born 1850", "born_on", {"born_on": "1850-06-01"}, "at least 14 years ago"),
    ("born yesterday", "born_on", {"born_on": today() - dt.timedelta(days=1)}, "at least 14 years ago"),
    ("birth date not a date", "born_on", {"born_on": "17/05/1996"}, "Not a valid date"),
    ("expiry before issue", "passport_expires_on",
     {"passport_issued_on": "2022-03-01", "passport_expires_on": "2022-02-01"}, "after the issue date"),
    ("expiry on issue day", "passport_expires_on",
     {"passport_issued_on": "2022-03-01", "passport_expires_on": "2022-03-01"}, "after the issue date"),
    ("expiry 12 years after issue", "passport_expires_on",
     {"passport_issued_on": "2020-01-01", "passport_expires_on": "2032-01-01"}, "at most 10 years"),
    ("issue in the future", "passport_issued_on",
     {"passport_issued_on": IN_FUTURE, "passport_expires_on": IN_FUTURE + dt.timedelta(days=3650)},
     "cannot be in the future"),
    ("issue before birth", "passport_issued_on",
     {"born_on": "1996-05-17", "passport_issued_on": "1995-01-01", "passport_expires_on": "2004-12-31"},
     "before the date of birth"),
    ("entry before submission", "intended_entry_on",
     {"planned_submission_on": today() + dt.timedelta(days=60),
      "intended_entry_on": today() + dt.timedelta(days=30)}, "cannot be before the planned submission"),
    ("unknown nationality", "nationality", {"nationality": "XX"}, "Not a valid choice"),
    ("unknown residence", "residence_country", {"residence_country": "QQ"}, "Not a valid choice"),
    ("lowercase country code", "nationality", {"nationality": "ng"}, "Not a valid choice"),
    ("unknown consulate", "consulate_code", {"consulate_code": "XX-NOPE"}, "Not a valid choice"),
    ("no consulate", "consulate_code", {"consulate_code": ""}, "Choose a consulate"),
    ("Chinese name with Latin letters", "chinese_name", {"chinese_name": "李Ming"}, "Chinese characters only"),
    ("Chinese name in Latin letters", "chinese_name", {"chinese_name": "Li Ming"}, "Chinese characters only"),
    ("no family name", "family_name", {"family_name": "   "}, "This field is required"),
    ("no sex chosen", "sex", {"sex": ""}, "Choose one"),
    ("unknown sex", "sex", {"sex": "Q"}, "Not a valid choice"),
    ("bad email", "email", {"email": "chidi-at-example"}, "Invalid email"),
]


@pytest.mark.parametrize(("field", "overrides", "message"), [case[1:] for case in INVALID],
                         ids=[case[0] for case in INVALID])
def test_invalid_new_applicant_is_refused_beside_the_field_with_input_kept(
        client, auth, advisor, field, overrides, message):
    auth.login(advisor.email)
    before = row_counts()
    submitted = new_applicant_form(**{"family_name": "Adeyemi-Nwosu", "notes": "Keep me", **overrides})
    response = client.post("/applicants/new", data=submitted)

    assert response.status_code == 200
    error = field_error(response, field)
    assert error is not None and message in error, error
    assert page(response).find(attrs={"name": field})["aria-invalid"] == "true"
    rendered = form_values(response)
    for name, value in submitted.items():
        if name == field and page(response).find("select", attrs={"name": name}):
            continue  # a select can only show the options it offers
        assert rendered[name] == value.strip(), name
    assert row_counts() == before


VALID = [
    ("spaces and lowercase passport", {"passport_number": "  ab 12 345 67 "}, "passport_number", "AB1234567"),
    ("five character passport", {"passport_number": "e1234"}, "passport_number", "E1234"),
    ("twelve character passport", {"passport_number": "AB1234567890"}, "passport_number", "AB1234567890"),
    ("Chinese name", {"chinese_name": "李明"}, "chinese_name", "李明"),
    ("Chinese name with middle dot", {"chinese_name": "艾力·买买提"}, "chinese_name", "艾力·买买提"),
    ("no Chinese name", {"chinese_name": ""}, "chinese_name", None),
    ("ten-year passport", {"passport_issued_on": "2022-03-01", "passport_expires_on": "2032-03-01"},
     "passport_expires_on", dt.date(2032, 3, 1)),
    ("issued today", {"passport_issued_on": today(), "passport_expires_on": IN_TEN_YEARS},
     "passport_issued_on", today()),
    ("entry on submission day", {"planned_submission_on": today() + dt.timedelta(days=20),
                                 "intended_entry_on": today() + dt.timedelta(days=20)}, None, None),
]


@pytest.mark.parametrize(("overrides", "attribute", "stored"), [case[1:] for case in VALID],
                         ids=[case[0] for case in VALID])
def test_valid_new_applicant_is_normalised_and_saved(client, auth, advisor, overrides, attribute, stored):
    auth.login(advisor.email)
    response = client.post("/applicants/new", data=new_applicant_form(**overrides))
    assert response.status_code == 302, [e.text for e in page(response).select(".error")]
    applicant = db.session.scalars(select(Applicant)).one()
    if attribute:
        assert getattr(applicant, attribute) == stored


def test_invalid_applicant_edit_is_refused_and_saves_nothing(client, auth, advisor, make_case):
    case = make_case(advisor)
    applicant = case.applicant
    before = (applicant.version, applicant.passport_number, applicant.family_name)
    auth.login(advisor.email)
    form = form_values(client.get(f"/applicants/{applicant.id}/edit"))
    form.update(family_name="Changed", passport_number="A-1")
    response = client.post(f"/applicants/{applicant.id}/edit", data=form)
    assert response.status_code == 200
    assert "5 to 12" in field_error(response, "passport_number")
    assert form_values(response)["family_name"] == "Changed"
    applicant = fresh(applicant)
    assert (applicant.version, applicant.passport_number, applicant.family_name) == before


def test_invalid_case_edit_is_refused_and_saves_nothing(client, auth, advisor, make_case):
    case = make_case(advisor)
    before = (case.version, case.consulate_code, case.intended_entry_on)
    auth.login(advisor.email)
    form = form_values(client.get(f"/cases/{case.id}/edit"))
    form.update(consulate_code="ZZ-ZZZ", intended_entry_on=today().isoformat(),
                planned_submission_on=(today() + dt.timedelta(days=10)).isoformat())
    response = client.post(f"/cases/{case.id}/edit", data=form)
    assert response.status_code == 200
    assert field_error(response, "consulate_code") == "Not a valid choice."
    assert "before the planned submission" in field_error(response, "intended_entry_on")
    case = fresh(case)
    assert (case.version, case.consulate_code, case.intended_entry_on) == before


@pytest.mark.parametrize(("changes", "message"), [
    ({"consulate_code": "XX-NOPE"}, "Choose a consulate"),
    ({"planned_submission_on": dt.date(2030, 5, 2), "intended_entry_on": dt.date(2030, 5, 1)},
     "cannot be before the planned submission"),
])
def test_case_operations_check_the_data_themselves(app, advisor, make_case, changes, message):
    case = make_case(advisor)
    with pytest.raises(DomainError, match=message):
        cases.update_case(case, case_data_of(case, **changes), version=case.version, by=advisor)
    with pytest.raises(DomainError, match=message):
        cases.open_case(case.applicant, case_data_of(case, **changes), advisor=advisor, by=advisor)
    db.session.rollback()


# Optimistic locking --------------------------------------------------------------------------------------

def assert_conflict_page(response: Any, *, kept: dict[str, str], version: int,
                         differing: set[str]) -> dict[str, str]:
    assert response.status_code == 200
    assert any(CONFLICT_MESSAGE in message for message in flashes(response))
    table = page(response).select_one("section.conflict")
    assert table is not None and "Saved in the meantime" in table.text
    labels = {row.select("td")[0].text for row in table.select("tbody tr")}
    assert differing <= labels, labels
    values = form_values(response)
    for name, value in kept.items():
        assert values[name] == value, name
    assert values["version"] == str(version)
    return values


def test_conflicting_applicant_edit_keeps_the_first_save_and_the_second_input(
        client, auth, admin, advisor, make_case):
    applicant = make_case(advisor).applicant
    auth.login(advisor.email)
    mine = form_values(client.get(f"/applicants/{applicant.id}/edit"))
    opened_on = int(mine["version"])

    applicants.update_applicant(applicant, data_of(applicant, given_names="Chioma"), version=opened_on,
                                by=admin)
    db.session.commit()
    current = applicant.version
    assert current == opened_on + 1

    mine["family_name"] = "Okafor-Smith"
    response = client.post(f"/applicants/{applicant.id}/edit", data=mine)
    values = assert_conflict_page(response, kept={"family_name": "Okafor-Smith", "given_names": "Chidi"},
                                  version=current,
                                  differing={"Family name (as in passport)", "Given names (as in passport)"})
    saved = fresh(applicant)
    assert (saved.given_names, saved.family_name, saved.version) == ("Chioma", "Okafor", current)

    again = client.post(f"/applicants/{applicant.id}/edit", data=values)
    assert again.status_code == 302
    saved = fresh(applicant)
    assert (saved.family_name, saved.version) == ("Okafor-Smith", current + 1)


def test_conflicting_case_edit_keeps_the_first_save_and_the_second_input(
        client, auth, admin, advisor, make_case):
    case = make_case(advisor)
    auth.login(advisor.email)
    mine = form_values(client.get(f"/cases/{case.id}/edit"))
    opened_on = int(mine["version"])

    cases.update_case(case, case_data_of(case, notes="Call the consulate"), version=opened_on, by=admin)
    db.session.commit()
    current = case.version

    mine.update(consulate_code="FR-PAR", case_notes="Paris is faster")
    response = client.post(f"/cases/{case.id}/edit", data=mine)
    values = assert_conflict_page(response, version=current, differing={"Consulate", "Case notes"},
                                  kept={"consulate_code": "FR-PAR", "case_notes": "Paris is faster"})
    saved = fresh(case)
    assert (saved.notes, saved.consulate_code, saved.version) == ("Call the consulate", "GB-LON", current)

    assert client.post(f"/cases/{case.id}/edit", data=values).status_code == 302
    saved = fresh(case)
    assert (saved.notes, saved.consulate_code, saved.version) == ("Paris is faster", "FR-PAR", current + 1)


def test_conflicting_user_edit_keeps_the_first_save_and_the_second_input(client, auth, admin, advisor):
    auth.login(admin.email)
    mine = form_values(client.get(f"/admin/users/{advisor.id}/edit"))
    opened_on = int(mine["version"])
    assert mine["email"] == advisor.email

    accounts.update_user(advisor, email=advisor.email, name="Alexandra Advisor", role=Role.ADVISOR,
                         version=opened_on, by=admin)
    db.session.commit()
    current = advisor.version

    mine["email"] = "alex.advisor@example.com"
    response = client.post(f"/admin/users/{advisor.id}/edit", data=mine)
    values = assert_conflict_page(response, version=current, differing={"Full name", "Email"},
                                  kept={"email": "alex.advisor@example.com", "name": "Alex Advisor"})
    saved = fresh(advisor)
    assert (saved.name, saved.email, saved.version) == ("Alexandra Advisor", "advisor@practice.test", current)

    assert client.post(f"/admin/users/{advisor.id}/edit", data=values).status_code == 302
    saved = fresh(advisor)
    assert (saved.email, saved.version) == ("alex.advisor@example.com", current + 1)


def test_a_row_changed_between_check_and_write_raises_conflict(app, advisor, make_case):
    """The version check passes, then someone else commits before our flush: the UPDATE ... WHERE
    version = N matches no row, SQLAlchemy raises StaleDataError and `editing.commit` turns it into
    a Conflict, rolling back."""
    applicant = make_case(advisor).applicant
    opened_on = applicant.version
    advisor.email  # noqa: B018 - load it now, while we still may
    session = db.session()
    session.expire_on_commit = False
    try:
        session.commit()  # end our transaction (SQLite holds a write lock) but keep the loaded values
        other = create_engine(db.engine.url)
        try:
            with other.begin() as connection:
                connection.execute(Applicant.__table__.update()
                                   .where(Applicant.__table__.c.id == applicant.id)
                                   .values(given_names="Changed elsewhere", version=opened_on + 1))
        finally:
            other.dispose()

        applicants.update_applicant(applicant, data_of(applicant, family_name="Mine"), version=opened_on,
                                    by=advisor)
        with pytest.raises(Conflict):
            editing.commit()
    finally:
        session.expire_on_commit = True

    saved = fresh(applicant)
    assert (saved.given_names, saved.family_name, saved.version) == ("Changed elsewhere", "Okafor",
                                                                     opened_on + 1)
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == "applicant.update")) == 0


def test_stale_version_is_refused_by_the_operations(app, admin, advisor, other_advisor, make_case):
    case = make_case(advisor)
    stale = case.version - 1
    with pytest.raises(Conflict):
        applicants.update_applicant(case.applicant, data_of(case.applicant), version=0, by=advisor)
    with pytest.raises(Conflict):
        cases.update_case(case, case_data_of(case), version=stale, by=advisor)
    with pytest.raises(Conflict):
        cases.reassign_case(case, other_advisor, version=stale, by=admin)
    with pytest.raises(Conflict):
        accounts.update_user(advisor, email=advisor.email, name="X", role=Role.ADVISOR, version=0, by=admin)
    db.session.rollback()


# Finding applicants and cases ------------------------------------------------------------------------------

@pytest.fixture
def people(make_case, advisor):  # type: ignore[no-untyped-def]
    """Four cases of one advisor, each list order different from creation order."""
    rows = [
        dict(family_name="Chen", given_names="Bo", chinese_name="陈波", nationality="CN", born=1985,
             passport="CN1234567", status=CaseStatus.INTAKE, consulate="US-NYC", planned=40,
             case_at=3, app_at=2),
        dict(family_name="Adams", given_names="Zed", chinese_name=None, nationality="US", born=1990,
             passport="US7654321", status=CaseStatus.READY, consulate="DE-BER", planned=90,
             case_at=1, app_at=4),
        dict(family_name="Brown", given_names="Wang Mei", chinese_name="王美", nationality="NG", born=1970,
             passport="AB1234567", status=CaseStatus.COLLECTING, consulate="GB-LON", planned=10, case_at=4,
             app_at=1),
        dict(family_name="Diaz", given_names="Amy", chinese_name=None, nationality="GB", born=1980,
             passport="GB5550001", status=CaseStatus.APPROVED, consulate="FR-PAR", planned=60, case_at=2,
             app_at=3),
    ]
    made = []
    base = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    for row in rows:
        case = make_case(advisor, family_name=row["family_name"], given_names=row["given_names"],
                         chinese_name=row["chinese_name"], nationality=row["nationality"],
                         born_on=dt.date(row["born"], 1, 1), passport_number=row["passport"],
                         status=row["status"])
        case.consulate_code = row["consulate"]
        case.planned_submission_on = today() + dt.timedelta(days=row["planned"])
        db.session.commit()
        made.append((case, row))
    for case, row in made:  # set the timestamps last: every update above moves them
        db.session.execute(Case.__table__.update().where(Case.__table__.c.id == case.id)
                           .values(updated_at=base + dt.timedelta(days=row["case_at"])))
        db.session.execute(Applicant.__table__.update().where(Applicant.__table__.c.id == case.applicant_id)
                           .values(updated_at=base + dt.timedelta(days=row["app_at"])))
    db.session.commit()
    return {row["family_name"]: case for case, row in made}


def case_ids(people: dict[str, Case], *names: str) -> list[int]:
    return [people[name].id for name in names]


def applicant_ids(people: dict[str, Case], *names: str) -> list[int]:
    return [people[name].applicant_id for name in names]


@pytest.mark.parametrize(("q", "expected"), [
    ("chen", ["Chen"]),
    ("ADAMS", ["Adams"]),
    ("Zed", ["Adams"]),
    ("mei", ["Brown"]),
    ("Wang Mei Brown", ["Brown"]),
    ("王美", ["Brown"]),
    ("陈", ["Chen"]),
    ("ab 123 4567", ["Brown"]),
    ("us765", ["Adams"]),
    ("gb 555 0001", ["Diaz"]),
    ("nobody", []),
])
def test_search_applicants_and_cases(client, auth, advisor, people, q, expected):
    auth.login(advisor.email)
    found = row_ids(client.get("/applicants/", query_string={"q": q}), "/applicants/")
    assert sorted(found) == sorted(applicant_ids(people, *expected))
    found = row_ids(client.get("/cases/", query_string={"q": q}), "/cases/")
    assert sorted(found) == sorted(case_ids(people, *expected))


def test_search_cases_by_reference(client, auth, advisor, people):
    auth.login(advisor.email)
    target = people["Diaz"]
    for q in (target.reference, target.reference.lower(), f"  {target.reference} "):
        assert row_ids(client.get("/cases/", query_string={"q": q}), "/cases/") == [target.id], q


CASE_ORDERS = {
    "reference": ["Chen", "Adams", "Brown", "Diaz"],
    "applicant": ["Adams", "Brown", "Chen", "Diaz"],
    "status": ["Diaz", "Brown", "Chen", "Adams"],  # approved, collecting, intake, ready
    "consulate": ["Adams", "Diaz", "Brown", "Chen"],  # DE-BER, FR-PAR, GB-LON, US-NYC
    "planned": ["Brown", "Chen", "Diaz", "Adams"],
    "updated": ["Adams", "Diaz", "Chen", "Brown"],
}
APPLICANT_ORDERS = {
    "name": ["Adams", "Brown", "Chen", "Diaz"],
    "nationality": ["Chen", "Diaz", "Brown", "Adams"],  # CN, GB, NG, US
    "born": ["Brown", "Diaz", "Chen", "Adams"],
    "updated": ["Brown", "Chen", "Diaz", "Adams"],
}


@pytest.mark.parametrize("key", sorted(CASE_ORDERS))
def test_sort_cases_by_each_key_both_ways(client, auth, advisor, people, key):
    auth.login(advisor.email)
    ascending = row_ids(client.get("/cases/", query_string={"sort": key}), "/cases/")
    assert ascending == case_ids(people, *CASE_ORDERS[key])
    descending = row_ids(client.get("/cases/", query_string={"sort": f"-{key}"}), "/cases/")
    assert descending == case_ids(people, *reversed(CASE_ORDERS[key]))


@pytest.mark.parametrize("key", sorted(APPLICANT_ORDERS))
def test_sort_applicants_by_each_key_both_ways(client, auth, advisor, people, key):
    auth.login(advisor.email)
    ascending = row_ids(client.get("/applicants/", query_string={"sort": key}), "/applicants/")
    assert ascending == applicant_ids(people, *APPLICANT_ORDERS[key])
    descending = row_ids(client.get("/applicants/", query_string={"sort": f"-{key}"}), "/applicants/")
    assert descending == applicant_ids(people, *reversed(APPLICANT_ORDERS[key]))


@pytest.mark.parametrize("sort", ["bogus", "-bogus", "", "id", "name; DROP TABLE cases", "--updated"])
def test_unknown_sort_key_falls_back_to_the_default_order(client, auth, advisor, people, sort):
    auth.login(advisor.email)
    default_cases = row_ids(client.get("/cases/"), "/cases/")
    assert default_cases == case_ids(people, *reversed(CASE_ORDERS["updated"]))  # newest first
    response = client.get("/cases/", query_string={"sort": sort})
    assert response.status_code == 200
    assert row_ids(response, "/cases/") == default_cases

    default_applicants = row_ids(client.get("/applicants/"), "/applicants/")
    assert default_applicants == applicant_ids(people, *APPLICANT_ORDERS["name"])
    response = client.get("/applicants/", query_string={"sort": sort})
    assert response.status_code == 200
    assert row_ids(response, "/applicants/") == default_applicants


@pytest.mark.parametrize(("status", "expected"), [
    ("ready", ["Adams"]),
    ("intake", ["Chen"]),
    ("approved", ["Diaz"]),
    ("submitted", []),
    ("bogus", ["Adams", "Brown", "Chen", "Diaz"]),
    ("", ["Adams", "Brown", "Chen", "Diaz"]),
])
def test_filter_cases_by_status(client, auth, advisor, people, status, expected):
    auth.login(advisor.email)
    response = client.get("/cases/", query_string={"status": status})
    assert response.status_code == 200
    assert sorted(row_ids(response, "/cases/")) == sorted(case_ids(people, *expected))


def test_status_filter_and_search_combine(client, auth, advisor, people):
    auth.login(advisor.email)
    response = client.get("/cases/", query_string={"status": "collecting", "q": "brown"})
    assert row_ids(response, "/cases/") == case_ids(people, "Brown")
    response = client.get("/cases/", query_string={"status": "ready", "q": "brown"})
    assert row_ids(response, "/cases/") == []


class TestPagination:
    @pytest.fixture
    def app_config(self) -> dict[str, Any]:
        return {"PAGE_SIZE": 2}

    def test_cases_are_paginated(self, client, auth, advisor, make_case):
        opened = [make_case(advisor, family_name=f"Person{index}") for index in range(5)]
        auth.login(advisor.email)
        pages = [row_ids(client.get("/cases/", query_string={"page": n, "sort": "reference"}), "/cases/")
                 for n in (1, 2, 3)]
        assert [len(ids) for ids in pages] == [2, 2, 1]
        assert [case_id for ids in pages for case_id in ids] == [case.id for case in opened]

    def test_applicants_are_paginated(self, client, auth, advisor, make_case):
        opened = [make_case(advisor, family_name=f"Person{index}") for index in range(3)]
        auth.login(advisor.email)
        first = row_ids(client.get("/applicants/", query_string={"page": 1}), "/applicants/")
        second = row_ids(client.get("/applicants/", query_string={"page": 2}), "/applicants/")
        assert first == [opened[0].applicant_id, opened[1].applicant_id]
        assert second == [opened[2].applicant_id]

    @pytest.mark.parametrize("path", ["/cases/", "/applicants/", "/audit/"])
    def test_a_page_beyond_the_end_is_empty_not_an_error(self, client, auth, admin, advisor, make_case, path):
        for index in range(3):
            make_case(advisor, family_name=f"Person{index}")
        auth.login(admin.email)
        response = client.get(path, query_string={"page": 50})
        assert response.status_code == 200
        assert page(response).select("table.table tbody tr") == []

    @pytest.mark.parametrize("number", ["0", "-1", "abc"])
    def test_a_nonsense_page_number_shows_the_first_page(self, client, auth, advisor, make_case, number):
        make_case(advisor)
        auth.login(advisor.email)
        response = client.get("/cases/", query_string={"page": number})
        assert response.status_code == 200
        assert len(row_ids(response, "/cases/")) == 1


# Reassigning and deleting (admin) ------------------------------------------------------------------------

def test_admin_reassigns_a_case(client, auth, admin, advisor, other_advisor, make_case):
    case = make_case(advisor)
    auth.login(admin.email)
    detail = form_values_of_reassign(client.get(f"/cases/{case.id}"))
    assert detail["advisor_id"] == str(advisor.id)
    detail["advisor_id"] = str(other_advisor.id)
    response = client.post(f"/cases/{case.id}/reassign", data=detail)
    assert response.status_code == 302 and response.headers["Location"] == f"/cases/{case.id}"

    assert fresh(case).advisor_id == other_advisor.id
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "case.reassign")).one()
    assert event.changes == {"advisor": [advisor.email, other_advisor.email]}
    assert (event.actor_id, event.case_id, event.object_id) == (admin.id, case.id, case.id)

    auth.logout()
    auth.login(advisor.email)
    assert client.get(f"/cases/{case.id}").status_code == 404
    assert row_ids(client.get("/cases/"), "/cases/") == []
    auth.logout()
    auth.login(other_advisor.email)
    assert row_ids(client.get("/cases/"), "/cases/") == [case.id]


def form_values_of_reassign(response: Any) -> dict[str, str]:
    form = page(response).select_one("form.inline-form")
    assert form is not None
    chosen = form.select_one("select#advisor_id option[selected]")
    return {"version": form.select_one("input[name=version]")["value"], "advisor_id": chosen["value"]}


def test_reassign_on_a_stale_page_is_refused(client, auth, admin, advisor, other_advisor, make_case):
    case = make_case(advisor)
    auth.login(admin.email)
    stale = form_values_of_reassign(client.get(f"/cases/{case.id}"))
    cases.update_case(case, case_data_of(case, notes="edited meanwhile"), version=case.version, by=advisor)
    db.session.commit()
    stale["advisor_id"] = str(other_advisor.id)
    response = client.post(f"/cases/{case.id}/reassign", data=stale, follow_redirects=True)
    assert any(CONFLICT_MESSAGE in message for message in flashes(response))
    assert fresh(case).advisor_id == advisor.id


def test_admin_deletes_a_case_after_confirming(client, auth, admin, advisor, make_case):
    case = make_case(advisor)
    auth.login(admin.email)
    confirm = client.get(f"/cases/{case.id}/delete")
    assert confirm.status_code == 200 and "Yes, delete" in confirm.text
    assert fresh(case).deleted_at is None  # looking at the page deletes nothing

    response = client.post(f"/cases/{case.id}/delete")
    assert response.status_code == 302 and response.headers["Location"] == "/cases/"
    deleted = fresh(case)
    assert deleted is not None and deleted.deleted_at is not None  # still there: a soft delete
    assert client.get(f"/cases/{case.id}").status_code == 404
    assert row_ids(client.get("/cases/"), "/cases/") == []
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "case.delete")).one()
    assert (event.actor_id, event.case_id) == (admin.id, case.id)


def test_admin_deletes_an_applicant_and_their_cases_after_confirming(client, auth, admin, advisor, make_case):
    case = make_case(advisor)
    second = cases.open_case(case.applicant, case_data_of(case), advisor=advisor, by=advisor)
    db.session.commit()
    auth.login(admin.email)
    confirm = client.get(f"/applicants/{case.applicant_id}/delete")
    assert confirm.status_code == 200 and "Yes, delete" in confirm.text and "2 case(s)" in confirm.text
    assert fresh(case.applicant).deleted_at is None

    response = client.post(f"/applicants/{case.applicant_id}/delete")
    assert response.status_code == 302 and response.headers["Location"] == "/applicants/"
    assert fresh(case.applicant).deleted_at is not None
    assert fresh(case).deleted_at is not None and fresh(second).deleted_at is not None
    assert client.get(f"/applicants/{case.applicant_id}").status_code == 404
    actions = sorted(db.session.scalars(select(AuditEvent.action).where(AuditEvent.actor_id == admin.id,
                                                                        AuditEvent.action.like("%.delete"))))
    assert actions == ["applicant.delete", "case.delete", "case.delete"]


def test_only_an_admin_may_delete_or_reassign_through_the_operations(app, advisor, other_advisor, make_case):
    case = make_case(advisor)
    with pytest.raises(NotAllowed):
        cases.delete_case(case, by=advisor)
    with pytest.raises(NotAllowed):
        cases.reassign_case(case, other_advisor, version=case.version, by=advisor)
    with pytest.raises(DomainError):
        applicants.delete_applicant(case.applicant, by=advisor)
    db.session.rollback()
    case = fresh(case)
    assert case.deleted_at is None and case.advisor_id == advisor.id



@pytest.mark.parametrize("q", ["%", "_", "O%r"])
def test_search_wildcards_are_taken_literally(client, auth, advisor, make_case, q):
    make_case(advisor, family_name="Okafor")
    auth.login(advisor.email)
    for path in ("/cases/", "/applicants/"):
        response = client.get(path, query_string={"q": q})
        assert response.status_code == 200
        assert "OKAFOR" not in page(response).select_one("main").get_text()
