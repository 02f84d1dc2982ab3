"""Blueprints, one per area: parse the request, authorise, call an operation, commit, render."""
from flask import Flask
from werkzeug.routing import IntegerConverter

from advisor import checklist, consulates, countries, isced
from models import utcnow

from . import (
    admin,
    applicants,
    audit,
    auth,
    cases,
    documents,
    eligibility,
    errors,
    institutions,
    main,
    packets,
    records,
    tasks,
    upload_links,
)

# Routes that work without a login; a test walks the URL map to hold every other route to this.
PUBLIC_ENDPOINTS = frozenset({"auth.login", "auth.set_password", "main.health", "static", "upload_links.public",
                              "upload_links.public_upload"})


class IdConverter(IntegerConverter):
    """`<int:...>` for row ids: no row has an id past a 32-bit integer, and asking the database for one
    overflows its driver (a 500), so such a URL simply does not match and answers 404."""

    def __init__(self, map, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(map, *args, **kwargs)


def register_blueprints(app: Flask) -> None:
    app.url_map.converters["int"] = IdConverter  # before any rule is added: rules bind it when added
    for module in (main, auth, admin, applicants, cases, tasks, audit, records, eligibility, institutions,
                   documents, upload_links, packets):
        app.register_blueprint(module.bp)
    errors.register(app)
    app.context_processor(lambda: {"now": utcnow()})
    app.jinja_env.filters["country"] = countries.name
    app.jinja_env.filters["consulate"] = _consulate_label
    app.jinja_env.filters["field_name"] = _field_label
    app.jinja_env.filters["document_title"] = _document_title


def _consulate_label(code: str) -> str:
    consulate = consulates.get(code)
    return consulate.city if consulate else code


def _field_label(code: str) -> str:
    return f"{isced.name(code)} ({code})" if code else ""


def _document_title(code: str) -> str:
    requirement = checklist.current().get(code)
    return requirement.title if requirement else code
