"""Forms of the admin pages."""
from wtforms import EmailField, SelectField, StringField
from wtforms.validators import DataRequired, Email, Length

from models import Role

from .common import VersionedForm, choices, strip

ROLE_CHOICES = [(Role.ADVISOR.value, "Advisor"), (Role.ADMIN.value, "Admin")]


class UserForm(VersionedForm):
    name = StringField("Full name", validators=[DataRequired(), Length(max=120)], filters=[strip],
                       render_kw={"autocomplete": "off"})
    email = EmailField("Email", validators=[DataRequired(), Email(check_deliverability=False), Length(max=254)],
                       filters=[strip], render_kw={"autocomplete": "off"})
    role = SelectField("Role", choices=choices(ROLE_CHOICES), default=Role.ADVISOR.value)
