"""Blueprints, one per area: parse the request, authorise, call an operation, commit, render."""
from flask import Flask

from advisor import consulates, countries

from . import admin, applicants, audit, auth, cases, errors, main

# Routes that work without a login; a test walks the URL map to hold every other route to this.
PUBLIC_ENDPOINTS = frozenset({"auth.login", "auth.set_password", "main.health", "static"})


def register_blueprints(app: Flask) -> None:
    for module in (main, auth, admin, applicants, cases, audit):
        app.register_blueprint(module.bp)
    errors.register(app)
    app.jinja_env.filters["country"] = countries.name
    app.jinja_env.filters["consulate"] = _consulate_label


def _consulate_label(code: str) -> str:
    consulate = consulates.get(code)
    return consulate.city if consulate else code
