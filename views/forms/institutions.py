"""Institution registry forms: an admin's decision on one institution, and a CSV file to import."""
from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError

from advisor import countries
from advisor.institutions import IMPORT_MAX_BYTES, MAX_NAME, MAX_RANK, InstitutionData
from models import Institution

from .common import VersionedForm, choices, strip

RENOWNED_CHOICES = [("", "Not judged"), ("yes", "Renowned"), ("no", "Not renowned")]
RENOWNED_VALUES = {"": None, "yes": True, "no": False}


def _lines(text: str | None) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


class InstitutionForm(VersionedForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=MAX_NAME)], filters=[strip],
                       description="The official name in English, as the institution writes it.")
    country = SelectField("Country", validators=[DataRequired("Choose a country.")])
    aliases = TextAreaField("Other names", validators=[Length(max=5000)], render_kw={"rows": 4},
                            description="One per line: abbreviations, former names, the name in its own "
                                        "language. Search finds the institution by any of them.")
    rank = IntegerField("Rank", validators=[Optional(), NumberRange(min=1, max=MAX_RANK,
                                                                    message="Enter a whole number of 1 or more.")],
                        description="Optional: its place in the ranking the source names.")
    renowned = SelectField("Renowned?", choices=choices(RENOWNED_CHOICES), default="")
    source = TextAreaField("Source of the judgement", validators=[Length(max=2000)], filters=[strip],
                           render_kw={"rows": 2},
                           description="Required when you judge it renowned or not: the ranking, list or "
                                       "decision it rests on.")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.country.choices = choices([("", "Choose a country…"), *countries.choices()])

    def validate_source(self, field: TextAreaField) -> None:
        if self.renowned.data and not field.data:
            raise ValidationError("Say on what source the judgement rests.")

    def validate_aliases(self, field: TextAreaField) -> None:
        if any(len(alias) > MAX_NAME for alias in _lines(field.data)):
            raise ValidationError(f"An alias has at most {MAX_NAME} characters.")

    def institution_data(self) -> InstitutionData:
        return InstitutionData(name=self.name.data, country=self.country.data, aliases=_lines(self.aliases.data),
                               rank=self.rank.data, renowned=RENOWNED_VALUES.get(self.renowned.data),
                               source=self.source.data or "")

    def differences_from(self, institution: Institution) -> list[tuple[str, str, str]]:
        """(label, saved, typed) for each field where the saved institution differs from the input."""
        saved, typed = form_values(institution), {name: self[name].data for name in FIELDS}
        labels = dict(RENOWNED_CHOICES)
        shown = {"country": countries.name, "renowned": lambda value: labels.get(value or "", value),
                 "aliases": lambda value: ", ".join(_lines(value))}
        differences = []
        for name in FIELDS:
            if _comparable(name, saved[name]) != _comparable(name, typed[name]):
                show = shown.get(name, lambda value: "" if value is None else str(value))
                differences.append((self[name].label.text, show(saved[name]), show(typed[name])))
        return differences


FIELDS = ("name", "country", "aliases", "rank", "renowned", "source")


def _comparable(name: str, value: Any) -> Any:
    return _lines(value) if name == "aliases" else (value if value not in ("", None) else None)


def form_values(institution: Institution) -> dict[str, Any]:
    """The form's fields for a saved institution (the model's shapes differ: a list, a yes/no)."""
    renowned = {None: "", True: "yes", False: "no"}[institution.renowned]
    return {"name": institution.name, "country": institution.country, "aliases": "\n".join(institution.aliases),
            "rank": institution.rank, "renowned": renowned, "source": institution.source,
            "version": institution.version}


class ImportForm(FlaskForm):
    file = FileField("CSV file", validators=[FileRequired("Choose a CSV file.")],
                     render_kw={"accept": ".csv,text/csv"},
                     description=f"UTF-8 text, at most {IMPORT_MAX_BYTES // 2**20} MB.")
