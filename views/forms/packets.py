"""Packet export form."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.validators import Length

from .common import strip


class PacketForm(FlaskForm):
    cover_letter = TextAreaField("Cover letter (optional)", validators=[Length(max=6000)], filters=[strip],
                                 description="Printed after the eligibility summary, signed with your name.")
