"""Settings: defaults here, then `instance/advisor.toml`, then `ADVISOR_*` environment variables.

Every setting is listed in the README. `DATABASE_URL` is also read without the prefix, as hosting
platforms set it that way.
"""
from __future__ import annotations

import os
import secrets
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Flask


class Defaults:
    ENV = "production"  # "development" relaxes only the secret-key and secure-cookie rules
    SECRET_KEY: str | None = None
    DATABASE_URL: str | None = None  # default: SQLite file in the instance folder
    SQLITE_BUSY_TIMEOUT_MS = 5000
    PRACTICE_NAME = "Advisor"
    PAGE_SIZE = 25
    DASHBOARD_IDLE_DAYS = 14  # an open case untouched this long shows as idle on the dashboard

    # Sessions: idle and absolute timeouts, and how recent a login must be for user admin.
    SESSION_IDLE_MINUTES = 30
    SESSION_ABSOLUTE_HOURS = 12
    REAUTH_MINUTES = 15
    SESSION_COOKIE_NAME = "advisor_session"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE: bool | None = None  # None: on, except in development
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"

    # Login throttling, per email and per client address.
    LOGIN_MAX_FAILURES = 5
    LOGIN_MAX_FAILURES_PER_IP = 50
    LOGIN_WINDOW_MINUTES = 15
    LOGIN_LOCKOUT_MINUTES = 15

    # argon2id; the defaults are RFC 9106's second recommendation (64 MiB, 3 passes).
    ARGON2_TIME_COST = 3
    ARGON2_MEMORY_KIB = 65536
    ARGON2_PARALLELISM = 4
    PASSWORD_LINK_HOURS = 72

    # Number of reverse proxies in front of the app whose X-Forwarded-* headers are trusted.
    TRUSTED_PROXIES = 0
    # The address users open the app at, e.g. https://advisor.example.org: every link sent out (upload links,
    # request letters, password links, the CLI's) is built on it, never on a request's Host header.
    # Default: SERVER_NAME if set, else http://127.0.0.1:5000 in development.
    EXTERNAL_URL: str | None = None
    # Host names a request may name (Flask's setting; others answer 400). Default: EXTERNAL_URL's host name,
    # and 127.0.0.1 and localhost in development.
    TRUSTED_HOSTS: list[str] | None = None

    RULES_FOLDER: str | None = None  # default: the repository's rules/ folder
    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session, which has its own limits
    # Uploads: a limit per file, and one for the whole request (several files go in one request).
    UPLOAD_MAX_FILE_MB = 25
    MAX_CONTENT_LENGTH = 100 * 1024 * 1024
    UPLOAD_MAX_PIXELS = 60_000_000  # an image's width × height; larger ones are refused as possible bombs
    UPLOAD_MAX_PAGES = 300
    UPLOAD_LINK_DAYS = 14
    UPLOAD_LINK_FILES_PER_HOUR = 30
    REDIS_URL: str | None = None  # set: final packets are exported by an RQ worker (`rq worker --url … packets`)
    STORAGE_URL: str | None = None  # default: the `files` folder in the instance folder; or s3://bucket/prefix


def load_config(app: Flask, test_config: dict[str, Any] | None) -> None:
    app.config.from_object(Defaults)
    app.config.from_file("advisor.toml", load=tomllib.load, text=False, silent=True)
    if os.environ.get("DATABASE_URL"):
        app.config["DATABASE_URL"] = os.environ["DATABASE_URL"]
    app.config.from_prefixed_env("ADVISOR")
    if test_config:
        app.config.update(test_config)
    _derive(app)


def _derive(app: Flask) -> None:
    config = app.config
    development = config["ENV"] == "development"
    if not config.get("SECRET_KEY"):
        if not development:
            raise RuntimeError(
                "ADVISOR_SECRET_KEY is not set. Set it in the environment or in instance/advisor.toml "
                "(outside development the app refuses to start without one)."
            )
        config["SECRET_KEY"] = _development_secret(Path(app.instance_path))
    if config["SESSION_COOKIE_SECURE"] is None:
        config["SESSION_COOKIE_SECURE"] = not development
    config["REMEMBER_COOKIE_SECURE"] = config["SESSION_COOKIE_SECURE"]
    if not config.get("RULES_FOLDER"):
        config["RULES_FOLDER"] = str(Path(app.root_path).parent / "rules")
    _derive_hosts(config, development)
    config["SQLALCHEMY_DATABASE_URI"] = database_uri(config.get("DATABASE_URL"), Path(app.instance_path))
    config["PERMANENT_SESSION_LIFETIME"] = config["SESSION_ABSOLUTE_HOURS"] * 3600
    if config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        config.setdefault(
            "SQLALCHEMY_ENGINE_OPTIONS",
            {"connect_args": {"timeout": config["SQLITE_BUSY_TIMEOUT_MS"] / 1000}},
        )
    else:
        # A pooled connection is tested before use: after a database restart every worker's pool holds dead
        # connections, and without the check the first request of each would fail.
        config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {"pool_pre_ping": True})


def _derive_hosts(config: Any, development: bool) -> None:
    external = config.get("EXTERNAL_URL")
    if not external and config.get("SERVER_NAME"):
        external = f"{config['PREFERRED_URL_SCHEME']}://{config['SERVER_NAME']}"
    if not external and development:
        external = "http://127.0.0.1:5000"
    if external:
        parts = urlsplit(external)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            raise RuntimeError(f"EXTERNAL_URL must look like https://advisor.example.org, not {external!r}.")
        external = external.rstrip("/")
    config["EXTERNAL_URL"] = external
    hosts = config.get("TRUSTED_HOSTS")
    if isinstance(hosts, str):  # ADVISOR_TRUSTED_HOSTS=a.example,b.example
        hosts = [host.strip() for host in hosts.split(",") if host.strip()]
    if hosts is None and external:
        hosts = [urlsplit(external).hostname, *(["127.0.0.1", "localhost"] if development else [])]
    config["TRUSTED_HOSTS"] = list(dict.fromkeys(hosts)) if hosts else None


def database_uri(url: str | None, instance: Path) -> str:
    if not url:
        return f"sqlite:///{instance / 'advisor.sqlite3'}"
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _development_secret(instance: Path) -> str:
    """A random key kept in the instance folder, so development sessions survive a restart."""
    path = instance / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key
