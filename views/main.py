"""The landing page (what needs the user's attention across their cases) and the health check."""
from flask import Blueprint, render_template
from flask_login import login_required
from sqlalchemy import text

from advisor.dashboard import dashboard_for
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
    return render_template("main/dashboard.html", board=dashboard_for(user()))
