"""Packet export form."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, TextAreaField
from wtforms.validators import Length

from .common import strip


class PacketForm(FlaskForm):
    cover_letter = TextAreaField("Cover letter (optional)", validators=[Length(max=6000)], filters=[strip],
                                 description="Printed after the eligibility statement, signed with your name.")
    # Unticked (and absent) keeps the page: leaving it out is the exception, chosen case by case.
    leave_out_eligibility = BooleanField("Leave out the eligibility statement page")

    @property
    def eligibility_page(self) -> bool:
        return not self.leave_out_eligibility.data
