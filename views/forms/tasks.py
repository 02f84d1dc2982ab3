"""Task forms."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, StringField
from wtforms.validators import DataRequired, Length, Optional

from advisor.tasks import TITLE_MAX

from .common import DateRange, strip


class TaskForm(FlaskForm):
    title = StringField("Task", validators=[DataRequired("Say what needs doing."), Length(max=TITLE_MAX)],
                        filters=[strip])
    due_on = DateField("Due on", validators=[Optional(), DateRange(
        min_days=-31, max_days=2 * 365, message="Choose a due date from a month back to two years ahead.")])
