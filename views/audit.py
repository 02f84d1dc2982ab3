"""The audit log, for admins: filtered by user, case, action and date range."""
from flask import Blueprint, render_template, request

from advisor import audit
from models import User, db

from .access import admin_required
from .forms.audit import AuditFilterForm
from .forms.common import choices
from .listing import list_args, paginate

bp = Blueprint("audit", __name__, url_prefix="/audit")


@bp.get("/")
@admin_required
def index():  # type: ignore[no-untyped-def]
    form = AuditFilterForm(request.args)
    people = db.session.scalars(db.select(User).order_by(User.name)).all()
    form.user.choices = choices([("", "Anyone"), *[(str(p.id), f"{p.name} <{p.email}>") for p in people]])
    form.validate()
    query = audit.search_events(
        user_id=int(form.user.data) if form.user.data and not form.user.errors else None,
        case_reference=form.case.data or None,
        action=form.action.data or None,
        date_from=form.date_from.data if not form.date_from.errors else None,
        date_to=form.date_to.data if not form.date_to.errors else None,
    )
    return render_template("audit/index.html", form=form, page=paginate(query), args=list_args(""))
