"""Advisor: the back office in which visa advisors run their K-visa cases.

`create_app` reads top to bottom: settings, database, extensions, blueprints, error pages, web
hardening, commands.
"""
from __future__ import annotations

from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from models import db

from . import assessments, checklist, consulates, filestore, links, packet_pdf, web
from .cli import register_commands
from .config import load_config
from .database import configure_engine
from .extensions import csrf, login_manager, migrate


def create_app(test_config: dict[str, Any] | None = None, *, instance_path: str | None = None) -> Flask:
    app = Flask(
        __name__,
        instance_path=instance_path,
        instance_relative_config=True,
        template_folder="../templates",
        static_folder="../static",
    )
    load_config(app, test_config)
    consulates.all_consulates()  # a broken data file stops start-up here, naming the entry
    assessments.load_into(app)  # so does a broken rule-set file, naming the file and the field
    checklist.current()  # and a broken checklist, naming the requirement
    filestore.init_app(app)
    packet_pdf.check_renderer(app.logger)
    register_extensions(app)
    register_blueprints(app)
    web.register_hardening(app)
    register_commands(app)
    links.guard_logs(app)  # no token in access logs: the link's id instead
    if app.config["TRUSTED_PROXIES"]:
        count = int(app.config["TRUSTED_PROXIES"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)  # type: ignore[method-assign]
    return app


def register_extensions(app: Flask) -> None:
    db.init_app(app)
    with app.app_context():
        configure_engine(db.engine, app.config)
    migrate.init_app(app, db, directory=str(app.root_path + "/../migrations"))
    csrf.init_app(app)
    login_manager.init_app(app)
    web.configure_login(login_manager)


def register_blueprints(app: Flask) -> None:
    from views import register_blueprints as register

    register(app)
