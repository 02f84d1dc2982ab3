"""The landing page (the user's cases at a glance) and the health check."""
from flask import Blueprint, render_template
from flask_login import login_required
from sqlalchemy import text

from advisor import cases
from models import db

from .access import user

bp = Blueprint("main", __name__)


@bp.get("/health")
def health():  # type: ignore[no-untyped-def]
    db.session.execute(text("SELECT 1"))
    return {"status": "ok"}


@bp.get("/")
@login_required
def dashboard():  # type: ignore[no-untyped-def]
    me = user()
    recent = db.session.scalars(cases.search_cases(me, sort="-updated").limit(10)).all()
    return render_template("main/dashboard.html", counts=cases.count_by_status(me), recent=recent)
