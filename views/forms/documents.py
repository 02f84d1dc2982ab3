"""Document forms: uploads, review decisions, recorded details, requests and upload links."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    MultipleFileField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from .common import DateRange, VersionedForm, strip

# Phones offer the camera for an image type; the server checks the content whatever the browser sends.
ACCEPT = "application/pdf,image/jpeg,image/png"


class UploadForm(FlaskForm):
    files = MultipleFileField("Files", render_kw={"accept": ACCEPT},
                              description="PDF, JPEG or PNG. Several files at once become one version "
                                          "(e.g. the pages of a transcript).")


class DecisionForm(VersionedForm):
    """Accept, reject, waive or reopen; a reason is needed to reject or waive (the operation says so)."""

    reason = TextAreaField("Reason", validators=[Length(max=2000)], filters=[strip])


class DetailsForm(VersionedForm):
    number = StringField("Document number", validators=[Length(max=60)], filters=[strip])
    issued_on = DateField("Issued on (photo: taken on)", validators=[Optional(), DateRange(
        min_days=-60 * 365, max_days=1, message="Choose a date in the past.")])
    expires_on = DateField("Expires on", validators=[Optional(), DateRange(
        min_days=-20 * 365, max_days=30 * 365, message="Choose a plausible expiry date.")])
    language = StringField("Language", validators=[Length(max=40)], filters=[strip])
    translation_attached = BooleanField("Translation attached")


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class RequestForm(FlaskForm):
    documents = MultiCheckboxField("Documents", coerce=int, validators=[DataRequired("Choose the documents.")])
    due_on = DateField("Due on", validators=[Optional(), DateRange(
        min_days=0, max_days=365, message="Choose a due date within the next year.")])


class LinkForm(FlaskForm):
    documents = MultiCheckboxField("Documents to ask for", coerce=int,
                                   validators=[DataRequired("Choose at least one document.")])
    days = IntegerField("Valid for (days)", validators=[  # default: the UPLOAD_LINK_DAYS setting
        DataRequired("Say how many days the link lasts."), NumberRange(1, 90, "Between 1 and 90 days.")])
    message = TextAreaField("Message to the applicant", validators=[Length(max=2000)], filters=[strip],
                            description="Shown on the upload page, e.g. what to scan and how.")
