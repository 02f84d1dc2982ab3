"""Links that leave the system, and keeping their tokens out of access logs.

A link sent to an applicant or a new advisor is built from the `EXTERNAL_URL` setting, never from the request's
Host header: a forged Host would otherwise put an attacker's address in a letter that carries a live token.

Upload and password links carry their token in the path, and servers log paths. Two guards keep tokens out of
the logs, each writing the link's id instead (`/u/link-12`, `/auth/password/link-3`):
- `TokenLogFilter` on the `werkzeug` logger, for `flask run` (its log line is built from the raw request line);
- `RedactTokenPaths`, a WSGI middleware that rewrites `RAW_URI`, `REQUEST_URI` and `PATH_INFO` once the
  response is made, before a server such as gunicorn writes its access log line from the environ.
"""
from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, current_app
from sqlalchemy import select

from .database import READ_ONLY
from .errors import DomainError

# A token segment after one of the token-bearing prefixes, up to the next slash, query, space or quote.
TOKEN_PATH = re.compile(r"(/u/|/auth/password/)([^/?#\s\"]+)")
ENVIRON_KEYS = ("RAW_URI", "REQUEST_URI", "PATH_INFO")


class NoExternalUrl(DomainError):
    pass


def external_url(endpoint: str, **values: Any) -> str:
    """The absolute URL of `endpoint` on the configured external address."""
    base = current_app.config.get("EXTERNAL_URL")
    if not base:
        raise NoExternalUrl("Links for applicants and new users need the EXTERNAL_URL setting (the address they "
                            "open the app at). Ask an administrator to set it.")
    parts = urlsplit(base)
    adapter = current_app.url_map.bind(parts.netloc, script_name=parts.path or "/", url_scheme=parts.scheme)
    return adapter.build(endpoint, values, force_external=True)


def _link_label(prefix: str, token: str) -> str:
    """`link-<id>` of the upload or password link a token opens (whatever its state), else `unknown-link`.

    Its own short read-only connection, not the session: the log line may be written inside a request whose
    session is busy, or after it, and on SQLite it must not take the write lock."""
    from models import PasswordLink, UploadLink, db

    model: Any = UploadLink if prefix == "/u/" else PasswordLink
    digest = hashlib.sha256(token.encode()).hexdigest()  # both kinds of link store their token's SHA-256 only
    with db.engine.connect().execution_options(**READ_ONLY) as connection:
        found = connection.scalar(select(model.id).where(model.token_hash == digest)) if len(token) <= 100 else None
    return f"link-{found}" if found is not None else "unknown-link"


def redact(text: str, label: Callable[[str, str], str]) -> str:
    """`text` with every token segment replaced by `label(prefix, token)`."""
    return TOKEN_PATH.sub(lambda match: match.group(1) + label(match.group(1), match.group(2)), text)


class TokenLogFilter(logging.Filter):
    """Rewrites werkzeug's request log lines so that they name the link, not its token."""

    def __init__(self, app: Flask) -> None:
        super().__init__()
        self.app = app

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if not TOKEN_PATH.search(message):
            return True
        with self.app.app_context():
            record.msg, record.args = redact(message, _link_label), ()
        return True


class RedactTokenPaths:
    """WSGI middleware: after the app has answered, the environ's paths name the link instead of its token.

    The app has read the path by then (an upload link's pages are never streamed), and servers that log from
    the environ (gunicorn's `%(r)s`, `%(U)s`) log the rewritten value."""

    def __init__(self, app: Flask, wsgi_app: Callable[..., Iterable[bytes]]) -> None:
        self.app, self.wsgi_app = app, wsgi_app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        response = self.wsgi_app(environ, start_response)
        if TOKEN_PATH.search(environ.get("PATH_INFO", "")):
            with self.app.app_context():
                for key in ENVIRON_KEYS:
                    if key in environ:
                        environ[key] = redact(environ[key], _link_label)
        return response


def guard_logs(app: Flask) -> None:
    """Install both guards (the filter once per process: the werkzeug logger is global)."""
    logger = logging.getLogger("werkzeug")
    for old in [f for f in logger.filters if isinstance(f, TokenLogFilter)]:
        logger.removeFilter(old)
    logger.addFilter(TokenLogFilter(app))
    app.wsgi_app = RedactTokenPaths(app, app.wsgi_app)  # type: ignore[method-assign]
