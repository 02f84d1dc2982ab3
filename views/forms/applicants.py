"""Applicant forms: the passport data page, contact details and, for a new applicant, the first case."""
from __future__ import annotations

import datetime as dt
import re

from flask_wtf import FlaskForm
from wtforms import DateField, EmailField, SelectField, StringField, TelField, TextAreaField
from wtforms.validators import DataRequired, Email, InputRequired, Length, Optional, Regexp, ValidationError

from advisor import countries
from advisor.applicants import ApplicantData, normalize_passport_number
from models import Sex

from .cases import CaseFieldsMixin
from .common import DateRange, VersionedForm, choices, strip, today

PASSPORT_SHAPE = re.compile(r"^[A-Z0-9]{5,12}$")
# CJK ideographs with extensions A to H (rare characters in names are often outside the BMP), 〇, and
# the middle dots and spaces of transliterated foreign names.
CHINESE_NAME = re.compile(r"[\u3007\u3400-\u9fff\uf900-\ufaff\U00020000-\U000323af·・ ]+")
SEX_CHOICES = [("", "Choose…"), (Sex.FEMALE.value, "Female"), (Sex.MALE.value, "Male"),
               (Sex.UNSPECIFIED.value, "Unspecified (X)")]


def country_choices() -> list:  # type: ignore[type-arg]
    return choices([("", "Choose a country…"), *countries.choices()])


class ApplicantFields(FlaskForm):
    family_name = StringField("Family name (as in passport)", validators=[DataRequired(), Length(max=100)],
                              filters=[strip])
    given_names = StringField("Given names (as in passport)", validators=[DataRequired(), Length(max=150)],
                              filters=[strip])
    chinese_name = StringField("Chinese name", validators=[Optional(), Length(max=50)], filters=[strip],
                               description="Optional, in Chinese characters, e.g. 李明.")
    sex = SelectField("Sex", choices=choices(SEX_CHOICES), validators=[DataRequired("Choose one.")])
    born_on = DateField("Date of birth", validators=[InputRequired(message="Enter the date of birth."),
                        DateRange(earliest=dt.date(1900, 1, 1), max_days=-14 * 365,
                                  message="Enter a date of birth at least 14 years ago.")])
    nationality = SelectField("Nationality", validators=[DataRequired("Choose a country.")])
    residence_country = SelectField("Country of residence", validators=[DataRequired("Choose a country.")])
    passport_number = StringField("Passport number", validators=[DataRequired(), Length(max=20)],
                                  filters=[strip], render_kw={"autocomplete": "off", "spellcheck": "false"})
    passport_issued_on = DateField("Passport issued on", validators=[
        InputRequired(message="Enter the issue date."),
        DateRange(earliest=dt.date(1990, 1, 1), max_days=0, message="The issue date cannot be in the future."),
    ])
    passport_expires_on = DateField("Passport expires on",
                                    validators=[InputRequired(message="Enter the expiry date.")])
    email = EmailField("Email", validators=[Optional(), Email(check_deliverability=False), Length(max=254)],
                       filters=[strip])
    phone = TelField("Phone", validators=[Optional(), Length(max=40),
                                          Regexp(r"^\+?[0-9 ()./-]{6,40}$", message="Enter a phone number.")],
                     filters=[strip])
    notes = TextAreaField("Notes", validators=[Length(max=5000)], filters=[strip])

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.nationality.choices = country_choices()
        self.residence_country.choices = country_choices()

    def validate_passport_number(self, field: StringField) -> None:
        if not PASSPORT_SHAPE.match(normalize_passport_number(field.data or "")):
            raise ValidationError("A passport number has 5 to 12 letters and digits.")

    def validate_passport_expires_on(self, field: DateField) -> None:
        issued = self.passport_issued_on.data
        if field.data and issued:
            if field.data <= issued:
                raise ValidationError("The expiry date must be after the issue date.")
            # A difference, not issued + 11 years: that sum overflows past 9999-12-31 (an issue date typed there).
            if (field.data - issued).days > 11 * 366:
                raise ValidationError("A passport is valid for at most 10 years; check the dates.")

    def validate_passport_issued_on(self, field: DateField) -> None:
        if field.data and self.born_on.data and field.data < self.born_on.data:
            raise ValidationError("The passport cannot be issued before the date of birth.")

    def validate_chinese_name(self, field: StringField) -> None:
        if field.data and not CHINESE_NAME.fullmatch(field.data):
            raise ValidationError("Use Chinese characters only.")

    def applicant_data(self) -> ApplicantData:
        values = {name: getattr(self, name).data for name in ApplicantData.__dataclass_fields__}
        values["sex"] = Sex(values["sex"])
        return ApplicantData(**values)


class ApplicantForm(ApplicantFields, VersionedForm):
    """Editing an applicant."""


class NewApplicantForm(ApplicantFields, CaseFieldsMixin):
    """A new applicant together with their first case, so the advisor keeps access to both."""

    advisor_id = SelectField("Assigned advisor", coerce=int, validate_choice=True)


__all__ = ["ApplicantForm", "NewApplicantForm", "today"]
