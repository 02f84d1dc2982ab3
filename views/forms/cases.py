"""Case forms."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField, SearchField, SelectField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from advisor import cases, consulates, countries
from advisor.cases import CaseData
from models import CaseStatus, Pathway, User

from .common import DateRange, VersionedForm, choices, strip


class CaseFieldsMixin(FlaskForm):
    consulate_code = SelectField("Consulate", validators=[DataRequired("Choose a consulate.")])
    pathway = SelectField(
        "Pathway", default=Pathway.DEGREE.value,
        choices=choices([(p.value, p.label) for p in Pathway]), validate_choice=True,
        description="Decides the proofs the checklist asks for: the degree certificate, the proof of "
                    "teaching or research, or both.")
    planned_submission_on = DateField(
        "Planned submission date", validators=[Optional(), DateRange(
            min_days=-365, max_days=2 * 365, message="Choose a date within a year back and two years ahead.")],
        description="Drives the passport and photo validity checks.",
    )
    intended_entry_on = DateField("Intended entry date", validators=[Optional(), DateRange(
        min_days=-365, max_days=3 * 365, message="Choose a date within a year back and three years ahead.")])
    case_notes = TextAreaField("Case notes", validators=[Length(max=5000)], filters=[strip])

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.consulate_code.choices = choices([("", "Choose a consulate…"), *consulates.choices()])

    def validate_intended_entry_on(self, field: DateField) -> None:
        planned = self.planned_submission_on.data
        if field.data and planned and field.data < planned:
            raise ValidationError("The intended entry cannot be before the planned submission.")

    def case_data(self) -> CaseData:
        return CaseData(consulate_code=self.consulate_code.data,
                        planned_submission_on=self.planned_submission_on.data,
                        intended_entry_on=self.intended_entry_on.data,
                        notes=self.case_notes.data or "", pathway=Pathway(self.pathway.data))


class CaseForm(CaseFieldsMixin, VersionedForm):
    """Editing a case."""


class OpenCaseForm(CaseFieldsMixin):
    """Another case for an existing applicant."""

    advisor_id = SelectField("Assigned advisor", coerce=int, validate_choice=True)


class ReassignForm(VersionedForm):
    advisor_id = SelectField("Assign to", coerce=int, validate_choice=True)


class StatusForm(FlaskForm):
    status = SelectField("Move to", validators=[DataRequired("Choose a status.")])
    note = TextAreaField("Note", validators=[Length(max=2000)], filters=[strip],
                         description="Required for a decision or a withdrawal; kept in the case history.")


class CaseFilterForm(FlaskForm):
    """The case list's search and filters (a GET form: no CSRF token, nothing changes). An advisor's
    list is always their own, so the advisor filter is offered to admins only (`advisors` given)."""

    class Meta:
        csrf = False

    q = SearchField("Search", render_kw={"placeholder": "Reference, name or passport", "maxlength": 100})
    status = SelectField("Status")
    advisor = SelectField("Advisor")
    consulate = SelectField("Consulate")
    nationality = SelectField("Nationality")
    outcome = SelectField("Eligibility")
    documents = SelectField("Documents")
    sort = HiddenField()

    def __init__(self, *args, advisors: list[User] | None = None, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.status.choices = choices([("", "Any status"), *[(s.value, s.value.capitalize()) for s in CaseStatus]])
        self.consulate.choices = choices([("", "Any consulate"), *consulates.choices()])
        self.nationality.choices = choices([("", "Any nationality"), *countries.choices()])
        self.outcome.choices = choices([("", "Any outcome"), *cases.OUTCOMES.items()])
        self.documents.choices = choices([("", "Any documents"), *cases.COMPLETENESS.items()])
        if advisors is None:
            del self.advisor
        else:
            self.advisor.choices = choices([("", "Any advisor"), *[(str(p.id), p.name) for p in advisors]])
