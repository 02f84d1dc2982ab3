"""Education and position forms. The institution is typed by name (with suggestions where JavaScript
runs) and resolved against the registry by the view."""
from __future__ import annotations

import datetime as dt

from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from advisor import countries, isced
from models import DegreeLevel, PositionRole

from .common import DateRange, VersionedForm, choices, strip

LEVELS = [(DegreeLevel.BACHELOR.value, "Bachelor's"), (DegreeLevel.MASTER.value, "Master's"),
          (DegreeLevel.DOCTORATE.value, "Doctorate"), (DegreeLevel.OTHER.value, "Other (below a bachelor's)")]
ROLES = [(PositionRole.RESEARCH.value, "Research"), (PositionRole.TEACHING.value, "Teaching"),
         (PositionRole.OTHER.value, "Other")]


def field_choices() -> list[SelectChoice]:
    return [SelectChoice("", "Choose a field…"),
            *[SelectChoice(code, label, optgroup=group) for code, label, group in isced.grouped_choices()]]


class InstitutionFields(FlaskForm):
    institution = StringField("Institution", validators=[DataRequired(), Length(max=200)], filters=[strip],
                              description="Type to search the registry; an unknown name can be added.",
                              render_kw={"list": "institution-options", "autocomplete": "off"})
    institution_country = SelectField("Country of a new institution", validators=[Optional()])
    confirm_new = BooleanField("Add it as a new institution (unverified until an admin decides)")

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.institution_country.choices = choices([("", "—"), *countries.choices()])


class EducationForm(InstitutionFields, VersionedForm):
    level = SelectField("Degree level", choices=choices(LEVELS), validators=[InputRequired()])
    field_code = SelectField("Field (ISCED-F 2013)", validators=[DataRequired("Choose a field.")])
    awarded_on = DateField("Awarded on", validators=[Optional(), DateRange(
        earliest=dt.date(1950, 1, 1), max_days=0, message="An award date cannot be in the future.")])
    pending = BooleanField("Pending (not yet awarded)")

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.field_code.choices = field_choices()


class PositionForm(InstitutionFields, VersionedForm):
    role = SelectField("Role", choices=choices(ROLES), validators=[InputRequired()])
    field_code = SelectField("Field (ISCED-F 2013)", validators=[DataRequired("Choose a field.")])
    started_on = DateField("From", validators=[InputRequired("Enter the start date."), DateRange(
        earliest=dt.date(1950, 1, 1), max_days=366, message="Enter a start date from 1950 to a year ahead.")])
    ended_on = DateField("To", validators=[Optional()], description="Leave empty while the position lasts.")

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.field_code.choices = field_choices()


class JudgementForm(FlaskForm):
    criterion = StringField(validators=[DataRequired(), Length(max=32)])
    decision = SelectField("Your judgement", choices=choices([("pass", "Meets it"), ("fail", "Does not meet it")]))
    note = StringField("Why", validators=[DataRequired("Say why."), Length(max=2000)], filters=[strip])
