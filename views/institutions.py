"""The institution registry, for admins: search, decide on institutions, import a CSV file.

Its suggestions (`/institutions/suggest`) serve every advisor's institution fields.
"""
from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from werkzeug.datastructures import FileStorage

from advisor import institutions
from advisor.errors import Conflict, DomainError
from models import Institution, User, db

from .access import require_login, user
from .editing import begin_write, commit, show_conflict
from .forms.institutions import ImportForm, InstitutionForm, form_values
from .listing import list_args, paginate

bp = Blueprint("institutions", __name__, url_prefix="/institutions")

FOR_EVERY_ADVISOR = frozenset({"institutions.suggest"})
FILTERS = {"verified": "Verified", "unverified": "Unverified", "renowned": "Renowned"}
SUGGEST_MIN_CHARS = 2
MULTIPART_OVERHEAD = 64 * 1024  # room for the form's other parts around the file


@bp.before_request
def require_admin():  # type: ignore[no-untyped-def]
    """Deciding on institutions is an admin's job: advisors get 403 before any lookup."""
    refused = require_login()
    if refused is None and request.endpoint not in FOR_EVERY_ADVISOR and not user().is_admin:
        abort(403)
    return refused


@bp.get("/")
def index():  # type: ignore[no-untyped-def]
    args = list_args("name")
    show = request.args.get("show") if request.args.get("show") in FILTERS else None
    page = paginate(institutions.registry(q=args.q, show=show, sort=args.sort))
    return render_template("institutions/index.html", page=page, args=args, show=show, filters=FILTERS,
                           awaiting=institutions.count_unverified())


@bp.get("/suggest")
def suggest():  # type: ignore[no-untyped-def]
    q = request.args.get("q", "")[:100]
    found = institutions.search(q) if len(" ".join(q.split())) >= SUGGEST_MIN_CHARS else []
    return jsonify([{"name": i.name, "country": i.country, "verified": i.verified} for i in found])


@bp.route("/new", methods=["GET", "POST"])
def new():  # type: ignore[no-untyped-def]
    form = InstitutionForm(version=0)
    if form.validate_on_submit():
        try:
            begin_write()
            institution = institutions.save(None, form.institution_data(), by=user())
        except DomainError as refused:
            db.session.rollback()
            form.name.errors.append(str(refused))
        else:
            commit()
            flash(f"{institution.name} is in the registry, verified.", "success")
            return redirect(url_for("institutions.index"))
    return render_template("institutions/form.html", form=form, institution=None)


@bp.route("/<int:institution_id>/edit", methods=["GET", "POST"])
def edit(institution_id: int):  # type: ignore[no-untyped-def]
    institution = db.get_or_404(Institution, institution_id)
    form = InstitutionForm(data=form_values(institution) if request.method == "GET" else None)
    differences: list[tuple[str, str, str]] = []
    if form.validate_on_submit():
        try:
            begin_write()
            institutions.save(institution, form.institution_data(), version=form.version.data, by=user())
            commit()
        except Conflict as conflict:
            flash(str(conflict), "error")
            show_conflict(form, institution, {})
            differences = form.differences_from(institution)
        except DomainError as refused:
            db.session.rollback()
            form.name.errors.append(str(refused))
        else:
            flash(f"Saved {institution.name}; it is verified.", "success")
            return redirect(url_for("institutions.index"))
    added_by = db.session.get(User, institution.created_by_id) if institution.created_by_id else None
    return render_template("institutions/form.html", form=form, institution=institution,
                           differences=differences, added_by=added_by)


@bp.route("/import", methods=["GET", "POST"])
def import_registry():  # type: ignore[no-untyped-def]
    if (request.content_length or 0) > institutions.IMPORT_MAX_BYTES + MULTIPART_OVERHEAD:
        abort(413)
    form = ImportForm()
    errors: list[str] = []
    if form.validate_on_submit():
        try:
            rows = institutions.decode_csv(_read(form.file.data))
            begin_write()
            report = institutions.import_csv(rows, by=user())
        except DomainError as refused:
            errors = [str(refused)]
        else:
            errors = report.errors
            if not errors:
                commit()
                flash(f"Imported: {report.created} created, {report.updated} updated, "
                      f"{report.unchanged} unchanged.", "success")
                return redirect(url_for("institutions.index"))
        db.session.rollback()
    return render_template("institutions/import.html", form=form, errors=errors)


def _read(upload: FileStorage) -> bytes:
    """The uploaded file, refused with 413 beyond the limit (the request's length may be unknown)."""
    raw = upload.stream.read(institutions.IMPORT_MAX_BYTES + 1)
    if len(raw) > institutions.IMPORT_MAX_BYTES:
        abort(413)
    return raw
