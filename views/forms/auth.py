"""Sign-in and password forms."""
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, EqualTo, Length

from .common import strip


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)], filters=[strip],
                       render_kw={"autocomplete": "username", "autofocus": True})
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)],
                             render_kw={"autocomplete": "current-password"})


class ConfirmIdentityForm(FlaskForm):
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)],
                             render_kw={"autocomplete": "current-password", "autofocus": True})


class SetPasswordForm(FlaskForm):
    password = PasswordField(
        "New password", validators=[DataRequired(), Length(max=1024)],
        description="At least 8 characters. A long phrase you can remember works well.",
        render_kw={"autocomplete": "new-password", "autofocus": True},
    )
    confirm = PasswordField("Repeat the new password",
                            validators=[DataRequired(), EqualTo("password", "The two passwords differ.")],
                            render_kw={"autocomplete": "new-password"})


class ChangePasswordForm(SetPasswordForm):
    current = PasswordField("Current password", validators=[DataRequired(), Length(max=1024)],
                            render_kw={"autocomplete": "current-password"})
