"""Friendly error pages that never show a trace, and a clear 503 when something the app needs is down.

A database, file storage or Redis that is down, read-only or full is not a bug: the page says which one
it is and that nothing was saved (the request's transaction is rolled back, and the files it wrote go
with it, see advisor/filestore.py). Pages of server errors render without the database: base.html is
told to leave out the account bar, and a user not loaded yet is not looked up for them (Flask-Login's
context processor would otherwise run the user loader, a query, for every template).
"""
from __future__ import annotations

import contextlib
import errno

from flask import Flask, current_app, g, render_template, request
from flask_wtf.csrf import CSRFError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from werkzeug.exceptions import HTTPException, SecurityError

from advisor.storage import StorageError
from models import db

MESSAGES = {
    400: ("Bad request", "The request could not be understood. Go back and try again."),
    403: ("Not allowed", "Your account does not have access to this page."),
    404: ("Not found", "There is nothing here, or you do not have access to it."),
    405: ("Not allowed", "This page cannot be used that way."),
    413: ("File too large", "The upload is larger than the limit. Make the file smaller and try again."),
    429: ("Too many requests", "Slow down a little and try again in a minute."),
    500: ("Something went wrong", "The error has been logged and nothing was saved. Please try again."),
}
NOTHING_SAVED = "Nothing was saved. Please try again in a few minutes; if it persists, tell your administrator."
UNAVAILABLE = {
    "database": ("The database is not available",
                 f"The database server could not be reached. {NOTHING_SAVED}"),
    "database_busy": ("The database is busy",
                      "The database was too busy to take this change in time. Nothing was saved. Please try again."),
    "database_full": ("The database cannot store anything",
                      f"The disk that holds the database is full or read-only. {NOTHING_SAVED}"),
    "storage": ("File storage is not available",
                f"The file storage is read-only, full or unreachable, so the files could not be stored. "
                f"{NOTHING_SAVED}"),
    "queue": ("The job queue is not available",
              f"Redis, which runs packet exports in the background, could not be reached, so no export was "
              f"started. {NOTHING_SAVED}"),
}
# What an OSError that no storage backend wrapped says about the disk: a fault to report, not a bug.
STORAGE_ERRNOS = {errno.EROFS, errno.ENOSPC, errno.EACCES, errno.EPERM, errno.EDQUOT, errno.EIO}
RETRY_AFTER = "30"


def database_problem(error: OperationalError) -> str:
    text = str(error.orig or error).lower()
    if "locked" in text or "busy" in text:
        return "database_busy"
    if "readonly" in text or "read-only" in text or "full" in text or "disk i/o" in text:
        return "database_full"
    return "database"


def without_database() -> None:
    """Prepare a server error's page: roll back (a database that is down cannot, which is fine) and count
    a user not loaded yet as signed out for this page. `g._login_user` is where Flask-Login keeps the user
    of the request; set, its context processor asks no user loader."""
    with contextlib.suppress(SQLAlchemyError):
        db.session.rollback()
    if "_login_user" not in g:
        g._login_user = current_app.login_manager.anonymous_user()  # type: ignore[attr-defined]


def register(app: Flask) -> None:
    def refuse_untrusted_host() -> None:
        # Flask keeps a Host outside TRUSTED_HOSTS as the routing error, raised only after the before-request
        # hooks, which build URLs and read the host. Refuse it before any of them runs.
        if isinstance(request.routing_exception, SecurityError):
            raise request.routing_exception

    app.before_request_funcs.setdefault(None, []).insert(0, refuse_untrusted_host)

    @app.errorhandler(SecurityError)
    def untrusted_host(error: SecurityError):  # type: ignore[no-untyped-def]
        return render_template("errors/bad_host.html"), 400

    def unavailable(problem: str, error: Exception):  # type: ignore[no-untyped-def]
        app.logger.error("Service unavailable (%s): %s", problem, error)
        without_database()
        title, message = UNAVAILABLE[problem]
        return (render_template("errors/error.html", code=503, title=title, message=message, hide_account=True),
                503, {"Retry-After": RETRY_AFTER})

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):  # type: ignore[no-untyped-def]
        return render_template("errors/error.html", code=400, title="Form expired",
                               message="The form was open too long or was sent from elsewhere. "
                                       "Go back, reload the page and submit again."), 400

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):  # type: ignore[no-untyped-def]
        code = error.code or 500
        title, message = MESSAGES.get(code, (error.name, error.description or ""))
        # Keep what the error adds to the response, such as `Allow` on a 405 or `Retry-After` on a 429.
        headers = [(name, value) for name, value in error.get_headers() if name.lower() != "content-type"]
        return (render_template("errors/error.html", code=code, title=title, message=message,
                                hide_account=code >= 500), code, headers)

    @app.errorhandler(OperationalError)
    def database_down(error: OperationalError):  # type: ignore[no-untyped-def]
        return unavailable(database_problem(error), error)

    @app.errorhandler(StorageError)
    def storage_down(error: StorageError):  # type: ignore[no-untyped-def]
        return unavailable("storage", error)

    @app.errorhandler(RedisConnectionError)
    @app.errorhandler(RedisTimeoutError)
    def queue_down(error: Exception):  # type: ignore[no-untyped-def]
        return unavailable("queue", error)

    @app.errorhandler(OSError)
    def disk_error(error: OSError):  # type: ignore[no-untyped-def]
        if error.errno in STORAGE_ERRNOS:
            return unavailable("storage", error)
        return server_error(error)

    @app.errorhandler(Exception)
    def server_error(error: Exception):  # type: ignore[no-untyped-def]
        app.logger.exception("Unhandled error")
        without_database()
        title, message = MESSAGES[500]
        return render_template("errors/error.html", code=500, title=title, message=message, hide_account=True), 500
