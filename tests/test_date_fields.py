"""Every date field of every form, at the ends of the calendar: a form error or an accepted value, never a 500.

The forms are found from the WTForms classes in `views.forms`, so a new form with a date field fails
`test_every_form_with_a_date_field_is_in_the_table` until it is added to the table below. After a value is
accepted, the pages that compute with dates (case, applicant, dashboard, documents, an assessment) must render.
"""
from __future__ import annotations

import datetime as dt
import importlib
import inspect
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from bs4 import BeautifulSoup
from flask import Flask
from flask_wtf import FlaskForm
from wtforms import DateField

import views.forms
from advisor import dates, documents, institutions, readiness, records
from models import Case, CaseDocument, DegreeLevel, Education, Position, PositionRole, User, db
from views.forms.applicants import ApplicantForm, NewApplicantForm
from views.forms.audit import AuditFilterForm
from views.forms.cases import CaseForm, OpenCaseForm
from views.forms.documents import DetailsForm, RequestForm
from views.forms.records import EducationForm, PositionForm
from views.forms.tasks import TaskForm

EXTREMES = ["0001-01-01", "9999-12-31"]


def today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


@dataclass
class World:
    admin: User
    advisor: User
    case: Case
    education: Education
    position: Position
    line: CaseDocument


def applicant_fields(world: World) -> dict[str, str]:
    applicant = world.case.applicant
    return {"family_name": applicant.family_name, "given_names": applicant.given_names, "chinese_name": "",
            "sex": applicant.sex.value, "born_on": "1996-05-17", "nationality": "NG", "residence_country": "GB",
            "passport_number": applicant.passport_number, "passport_issued_on": "2022-03-01",
            "passport_expires_on": "2032-02-28", "email": "", "phone": "", "notes": ""}


def case_fields() -> dict[str, str]:
    return {"consulate_code": "GB-LON", "pathway": "degree",
            "planned_submission_on": (today() + dt.timedelta(days=30)).isoformat(),
            "intended_entry_on": (today() + dt.timedelta(days=60)).isoformat(), "case_notes": ""}


@dataclass
class Route:
    form: type[FlaskForm]
    method: str
    url: Callable[[World], str]
    data: Callable[[World], dict[str, str]]
    as_admin: bool = False


ROUTES = {
    "new applicant": Route(NewApplicantForm, "POST", lambda w: "/applicants/new", lambda w: {
        **applicant_fields(w), "passport_number": "N1234567", **case_fields(), "advisor_id": str(w.advisor.id)}),
    "edit applicant": Route(ApplicantForm, "POST", lambda w: f"/applicants/{w.case.applicant_id}/edit", lambda w: {
        **applicant_fields(w), "version": str(w.case.applicant.version)}),
    "edit case": Route(CaseForm, "POST", lambda w: f"/cases/{w.case.id}/edit", lambda w: {
        **case_fields(), "version": str(w.case.version)}),
    "open case": Route(OpenCaseForm, "POST", lambda w: f"/cases/new/{w.case.applicant_id}", lambda w: {
        **case_fields(), "advisor_id": str(w.advisor.id)}),
    "new degree": Route(EducationForm, "POST", lambda w: f"/applicants/{w.case.applicant_id}/education/new",
                        lambda w: {"level": "master", "field_code": "0533", "institution": "Date Institute",
                                   "awarded_on": "2020-06-30", "version": "0"}),
    "edit degree": Route(EducationForm, "POST",
                         lambda w: f"/applicants/{w.case.applicant_id}/education/{w.education.id}/edit",
                         lambda w: {"level": "master", "field_code": "0533", "institution": "Date Institute",
                                    "awarded_on": "2020-06-30", "version": str(w.education.version)}),
    "new position": Route(PositionForm, "POST", lambda w: f"/applicants/{w.case.applicant_id}/positions/new",
                          lambda w: {"role": "research", "field_code": "0533", "institution": "Date Institute",
                                     "started_on": "2021-09-01", "ended_on": "", "version": "0"}),
    "edit position": Route(PositionForm, "POST",
                           lambda w: f"/applicants/{w.case.applicant_id}/positions/{w.position.id}/edit",
                           lambda w: {"role": "research", "field_code": "0533", "institution": "Date Institute",
                                      "started_on": "2021-09-01", "ended_on": "",
                                      "version": str(w.position.version)}),
    "document details": Route(DetailsForm, "POST",
                              lambda w: f"/cases/{w.case.id}/documents/{w.line.id}/details",
                              lambda w: {"number": "P123", "issued_on": "2022-03-01", "expires_on": "2032-02-28",
                                         "language": "en", "version": str(w.line.version)}),
    "ask for documents": Route(RequestForm, "POST", lambda w: f"/cases/{w.case.id}/documents/request",
                               lambda w: {"documents": str(w.line.id), "due_on": ""}),
    "new task": Route(TaskForm, "POST", lambda w: f"/cases/{w.case.id}/tasks/add",
                      lambda w: {"title": "Call", "due_on": ""}),
    "audit filter": Route(AuditFilterForm, "GET", lambda w: "/audit/", lambda w: {"date_from": "", "date_to": ""},
                          as_admin=True),
}


def date_fields(form_class: type[FlaskForm]) -> list[str]:
    form = form_class(formdata=None, meta={"csrf": False})
    return [field.name for field in form if isinstance(field, DateField)]


def form_classes() -> list[type[FlaskForm]]:
    found = []
    for info in pkgutil.iter_modules(views.forms.__path__):
        module = importlib.import_module(f"views.forms.{info.name}")
        found += [cls for _, cls in inspect.getmembers(module, inspect.isclass)
                  if issubclass(cls, FlaskForm) and cls.__module__ == module.__name__]
    return found


def cases_of_the_table() -> list[tuple[str, str, str]]:
    """(route, field, value) for every date field of every route's form, and every field at once."""
    with Flask(__name__).test_request_context():
        return [(name, field, value) for name, route in ROUTES.items()
                for field in [*date_fields(route.form), *(["*"] if len(date_fields(route.form)) > 1 else [])]
                for value in EXTREMES]


@pytest.fixture
def world(app, admin, advisor, make_case) -> World:  # type: ignore[no-untyped-def]
    institution = institutions.save(None, institutions.InstitutionData(
        name="Date Institute", country="GB", aliases=[], rank=None, renowned=True, source="Practice list"), by=admin)
    case = make_case(advisor)
    education = records.add_education(case.applicant, records.EducationData(
        level=DegreeLevel.MASTER, field_code="0533", institution=institution, awarded_on=dt.date(2020, 6, 30),
        pending=False), by=advisor)
    position = records.add_position(case.applicant, records.PositionData(
        role=PositionRole.RESEARCH, field_code="0533", institution=institution, started_on=dt.date(2021, 9, 1),
        ended_on=None), by=advisor)
    line = next(line for line in documents.lines_of(case) if line.requirement_code == "passport")
    db.session.commit()
    return World(admin, advisor, case, education, position, line)


def test_every_form_with_a_date_field_is_in_the_table(app):
    covered = {route.form for route in ROUTES.values()}
    with app.test_request_context():
        with_dates = {cls for cls in form_classes() if date_fields(cls)}
    # A mixin is covered through the forms built on it.
    bases = {base for cls in covered for base in cls.__mro__[1:]}
    assert with_dates - covered - bases == set()
    assert {NewApplicantForm, PositionForm, DetailsForm, AuditFilterForm} <= with_dates


def page_works(client: Any, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    assert response.content_type == "text/html; charset=utf-8"


@pytest.mark.parametrize("route_name, field, value", cases_of_the_table())
def test_a_date_at_the_end_of_the_calendar_is_refused_or_taken(client, auth, world, route_name, field, value):
    route = ROUTES[route_name]
    data = route.data(world)
    with client.application.test_request_context():
        fields = date_fields(route.form)
    data.update({name: value for name in fields} if field == "*" else {field: value})
    auth.login((world.admin if route.as_admin else world.advisor).email)

    response = client.open(route.url(world), method=route.method,
                           **({"query_string": data} if route.method == "GET" else {"data": data}))
    assert response.status_code in (200, 302, 422), (route_name, field, response.status_code)
    assert response.content_type == "text/html; charset=utf-8"
    if response.status_code != 302:
        if route.method == "GET":
            return
        # Refused: by the form (a field's error) or by the operation (a flashed refusal).
        assert BeautifulSoup(response.data, "html.parser").select(".field .error, .flash-error"), (route_name, field)
        return
    # Taken: the pages that compute with the case's and applicant's dates still work.
    for path in (f"/cases/{world.case.id}", f"/applicants/{world.case.applicant_id}", "/", "/cases/",
                 f"/cases/{world.case.id}/documents", f"/cases/{world.case.id}/documents/{world.line.id}"):
        page_works(client, path)
    assessed = client.post(f"/cases/{world.case.id}/eligibility/run")
    assert assessed.status_code == 302
    page_works(client, f"/cases/{world.case.id}/eligibility")


def test_the_issue_and_expiry_at_the_end_of_the_calendar_are_a_form_error(client, auth, world):
    data = {**applicant_fields(world), "version": str(world.case.applicant.version),
            "passport_issued_on": "9999-12-30", "passport_expires_on": "9999-12-31"}
    auth.login(world.advisor.email)
    response = client.post(f"/applicants/{world.case.applicant_id}/edit", data=data)
    assert response.status_code == 200 and response.content_type == "text/html; charset=utf-8"
    errors = [p.get_text() for p in BeautifulSoup(response.data, "html.parser").select(".field .error")]
    assert "The issue date cannot be in the future." in errors


@pytest.mark.parametrize("day, months, expected", [
    (dt.date(2026, 8, 31), 6, dt.date(2027, 2, 28)),
    (dt.date(2027, 8, 31), 6, dt.date(2028, 2, 29)),
    (dt.date(2026, 3, 31), -1, dt.date(2026, 2, 28)),
    (dt.date(9999, 10, 1), 6, dt.date.max),  # past the calendar's end: the last day there is
    (dt.date(9999, 12, 31), 1, dt.date.max),
    (dt.date(1, 3, 1), -6, dt.date.min),
    (dt.date.min, 0, dt.date.min),
])
def test_add_months_stays_inside_the_calendar(day, months, expected):
    assert dates.add_months(day, months) == expected


def test_a_passport_at_the_end_of_the_calendar_is_not_expiring():
    assert not readiness.passport_too_short(dt.date.max, dt.date(9999, 10, 1))
    assert readiness.passport_too_short(dt.date(9999, 12, 1), dt.date(9999, 10, 1))
