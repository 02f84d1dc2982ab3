"""Friendly error pages that never show a trace."""
from __future__ import annotations

from flask import Flask, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, SecurityError

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
        return render_template("errors/error.html", code=code, title=title, message=message), code, headers

    @app.errorhandler(Exception)
    def server_error(error: Exception):  # type: ignore[no-untyped-def]
        app.logger.exception("Unhandled error")
        db.session.rollback()
        title, message = MESSAGES[500]
        return render_template("errors/error.html", code=500, title=title, message=message), 500
