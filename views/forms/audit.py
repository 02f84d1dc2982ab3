"""The audit log's filter form (a GET form: no CSRF token, nothing changes)."""
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField
from wtforms.validators import Length, Optional

from .common import strip


class AuditFilterForm(FlaskForm):
    class Meta:
        csrf = False

    user = SelectField("User", coerce=str, default="")
    case = StringField("Case reference", validators=[Optional(), Length(max=20)], filters=[strip])
    action = StringField("Action", validators=[Optional(), Length(max=64)], filters=[strip],
                         description="e.g. case.update or auth.")
    date_from = DateField("From", validators=[Optional()])
    date_to = DateField("To", validators=[Optional()])
