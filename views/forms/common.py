"""Pieces shared by the forms of every area."""
from __future__ import annotations

import datetime as dt

from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField, IntegerField, SelectChoice
from wtforms.validators import InputRequired, ValidationError

from advisor import dates


class ActionForm(FlaskForm):
    """A button that changes state: nothing but the CSRF token."""


class VersionedForm(FlaskForm):
    """An edit form that carries the version it was opened on, for optimistic locking."""

    version = IntegerField(widget=HiddenField.widget, validators=[InputRequired()])


def today() -> dt.date:
    return dates.today()


class DateRange:
    """A date within [today + min_days, today + max_days]; either bound may be None."""

    def __init__(self, *, min_days: int | None = None, max_days: int | None = None,
                 earliest: dt.date | None = None, message: str) -> None:
        self.min_days, self.max_days, self.earliest, self.message = min_days, max_days, earliest, message

    def __call__(self, form: FlaskForm, field: DateField) -> None:
        value = field.data
        if value is None:
            return
        now = today()
        if self.earliest and value < self.earliest:
            raise ValidationError(self.message)
        if self.min_days is not None and value < now + dt.timedelta(days=self.min_days):
            raise ValidationError(self.message)
        if self.max_days is not None and value > now + dt.timedelta(days=self.max_days):
            raise ValidationError(self.message)


def strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


def choices(pairs: list[tuple[object, str]]) -> list[SelectChoice]:
    """Select options from (value, label) pairs."""
    return [SelectChoice(value, label) for value, label in pairs]  # type: ignore[arg-type]
