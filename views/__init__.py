"""Blueprints, one per area: parse the request, authorise, call an operation, commit, render."""
from flask import Flask
from werkzeug.routing import IntegerConverter

from advisor import consulates, countries, isced

from . import admin, applicants, audit, auth, cases, eligibility, errors, institutions, main, records, tasks

# Routes that work without a login; a test walks the URL map to hold every other route to this.
PUBLIC_ENDPOINTS = frozenset({"auth.login", "auth.set_password", "main.health", "static"})


class IdConverter(IntegerConverter):
    """`<int:...>` for row ids: no row has an id past a 32-bit integer, and asking the database for one
    overflows its driver (a 500), so such a URL simply does not match and answers 404."""

    def __init__(self, map, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(map, *args, **kwargs)


def register_blueprints(app: Flask) -> None:
    app.url_map.converters["int"] = IdConverter  # before any rule is added: rules bind it when added
    for module in (main, auth, admin, applicants, cases, tasks, audit, records, eligibility, institutions):
        app.register_blueprint(module.bp)
    errors.register(app)
    app.jinja_env.filters["country"] = countries.name
    app.jinja_env.filters["consulate"] = _consulate_label
    app.jinja_env.filters["field_name"] = _field_label


def _consulate_label(code: str) -> str:
    consulate = consulates.get(code)
    return consulate.city if consulate else code


def _field_label(code: str) -> str:
    return f"{isced.name(code)} ({code})" if code else ""
