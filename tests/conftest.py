"""Fixtures: the app on SQLite and on a real PostgreSQL, a client, factories for rows, and an S3 server.

Every test that uses `app` runs once per backend (`--db sqlite` or `--db postgresql` picks one). The S3
server is moto's real HTTP server on loopback, started once for the session when a test first asks for it.
"""
from __future__ import annotations

import contextvars
import datetime as dt
import itertools
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, has_app_context
from flask.testing import FlaskClient
from sqlalchemy import text

from advisor import accounts, applicants, cases, create_app, documents, institutions
from advisor.storage import s3_client as s3_client_for
from models import Applicant, Case, CaseStatus, Role, Sex, User, db

from . import postgres

PASSWORD = "violet-harbour-lantern-42"
REGION = "us-east-1"
_counter = itertools.count(1)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--db", choices=["both", "sqlite", "postgresql"], default="both",
                     help="database backends to run the suite on")


def pytest_configure(config: pytest.Config) -> None:
    # The suite is hermetic: settings from the developer's shell never leak into it (ADVISOR_TEST_* are the
    # suite's own, e.g. ADVISOR_TEST_ARTIFACTS).
    for name in [n for n in os.environ if (n.startswith("ADVISOR_") and not n.startswith("ADVISOR_TEST_"))
                 or n == "DATABASE_URL"]:
        del os.environ[name]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        choice = metafunc.config.getoption("--db")
        backends = ["sqlite", "postgresql"] if choice == "both" else [choice]
        metafunc.parametrize("backend", backends, scope="session")


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Any]:
    with postgres.postgres_server() as executor:
        yield executor


@pytest.fixture(scope="session")
def pg_url(pg_server: Any) -> Iterator[str]:
    with postgres.database(pg_server, "advisor_test") as url:
        yield url


def base_config(database_url: str, **overrides: Any) -> dict[str, Any]:
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key-not-for-production",
        "DATABASE_URL": database_url,
        "WTF_CSRF_ENABLED": False,
        "SESSION_COOKIE_SECURE": False,
        "SERVER_NAME": "advisor.test",
        # Cheap hashing keeps the suite fast; production uses the RFC 9106 defaults.
        "ARGON2_TIME_COST": 1,
        "ARGON2_MEMORY_KIB": 1024,
        "ARGON2_PARALLELISM": 1,
        **overrides,
    }


@pytest.fixture
def rules_folder(tmp_path: Any) -> Any:
    """A private copy of the rule sets, so a test can add a version without touching the repository."""
    folder = tmp_path / "rules"
    folder.mkdir()
    for path in (Path(__file__).resolve().parent.parent / "rules").glob("*.toml"):
        shutil.copy(path, folder)
    return folder


@pytest.fixture
def app_config() -> dict[str, Any]:
    """Override in a test module to change settings."""
    return {}


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest, tmp_path: Any) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'advisor.sqlite3'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def app(backend: str, database_url: str, app_config: dict[str, Any], tmp_path: Any) -> Iterator[Flask]:
    app = make_app(database_url, instance_path=str(tmp_path / "instance"), **app_config)
    with app.app_context():
        db.create_all()
        try:
            yield app
        finally:
            db.session.remove()
            if backend == "postgresql":
                tables = ", ".join(t.name for t in db.metadata.sorted_tables)
                with db.engine.begin() as connection:
                    connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
            db.engine.dispose()


class RequestIsolatingClient(FlaskClient):
    """A test client whose every request gets a fresh app context, hence its own `g` and DB session.

    The `app` fixture keeps an app context open for the whole test and Flask would reuse it for
    requests, so Flask-Login's cached user (`g._login_user`) and uncommitted rows would leak from one
    request, or one client, into the next. The test's own transaction is committed first: the request
    sees what the test set up, and SQLite's write lock is free for it. A streamed body is read to the
    end inside that context too (`buffered`), as a server reads it on the request's own thread.
    """

    def open(self, *args: Any, **kwargs: Any) -> Any:
        if has_app_context():  # not when following a redirect, which runs inside the request's context
            db.session.commit()
        kwargs.setdefault("buffered", True)
        return contextvars.Context().run(super().open, *args, **kwargs)


def make_app(database_url: str, instance_path: str | None = None, **overrides: Any) -> Flask:
    app = create_app(base_config(database_url, **overrides), instance_path=instance_path)
    app.test_client_class = RequestIsolatingClient
    return app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> Any:
    return app.test_cli_runner()


# S3: moto's server ------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def aws_env() -> Iterator[None]:
    """Dummy credentials, and nothing from the developer's ~/.aws or an instance metadata service."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_ACCESS_KEY_ID", "testing")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "testing-secret")
        patch.setenv("AWS_DEFAULT_REGION", REGION)
        patch.setenv("AWS_EC2_METADATA_DISABLED", "true")
        patch.setenv("AWS_CONFIG_FILE", os.devnull)
        patch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
            patch.delenv(name, raising=False)
        yield


@pytest.fixture(scope="session")
def moto_endpoint(aws_env: None) -> Iterator[str]:
    """One moto server for the whole session; every test gets its own bucket, so tests cannot see each other."""
    from moto.server import ThreadedMotoServer  # imported here: most test runs never start it

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="session")
def s3_url(moto_endpoint: str) -> Callable[..., str]:
    """`s3_url(bucket, prefix="")`: the STORAGE_URL for a bucket on the test server."""

    def make(bucket: str, prefix: str = "") -> str:
        return f"s3://{bucket}/{prefix}?endpoint_url={moto_endpoint}&region={REGION}"

    return make


@pytest.fixture(scope="session")
def s3_client(moto_endpoint: str) -> Any:
    """The client `from_url` would build, made once: building one costs ~70 ms, a request ~4 ms."""
    return s3_client_for(endpoint_url=moto_endpoint, region=REGION)


@pytest.fixture
def s3_bucket(s3_client: Any) -> str:
    """A fresh, empty bucket."""
    name = f"test-{uuid.uuid4().hex[:20]}"
    s3_client.create_bucket(Bucket=name)
    return name


# Factories ------------------------------------------------------------------------------------

@pytest.fixture
def make_user(app: Flask):  # type: ignore[no-untyped-def]
    def make(role: Role = Role.ADVISOR, *, email: str | None = None, name: str | None = None,
             password: str | None = PASSWORD, active: bool = True) -> User:
        number = next(_counter)
        user, _ = accounts.create_user(email=email or f"user{number}@practice.test",
                                       name=name or f"Advisor {number}", role=role, by=None,
                                       password=password)
        user.active = active
        db.session.commit()
        return user

    return make


@pytest.fixture
def admin(make_user) -> User:  # type: ignore[no-untyped-def]
    return make_user(Role.ADMIN, email="admin@practice.test", name="Ada Admin")


@pytest.fixture
def institution(admin):  # type: ignore[no-untyped-def]
    """A renowned institution, as an admin decided: assessments resting on it find the applicant eligible."""
    found = institutions.save(None, institutions.InstitutionData(
        name="Access Test Institute", country="GB", aliases=[], rank=None, renowned=True, source="Practice list"),
        by=admin)
    db.session.commit()
    return found


@pytest.fixture
def advisor(make_user) -> User:  # type: ignore[no-untyped-def]
    return make_user(Role.ADVISOR, email="advisor@practice.test", name="Alex Advisor")


@pytest.fixture
def other_advisor(make_user) -> User:  # type: ignore[no-untyped-def]
    return make_user(Role.ADVISOR, email="other@practice.test", name="Olga Other")


def applicant_data(**overrides: Any) -> applicants.ApplicantData:
    values: dict[str, Any] = dict(
        family_name="Okafor", given_names="Chidi", chinese_name=None, sex=Sex.MALE,
        born_on=dt.date(1996, 5, 17), nationality="NG", residence_country="GB",
        passport_number=f"A{next(_counter):07d}", passport_issued_on=dt.date(2022, 3, 1),
        passport_expires_on=dt.date(2032, 2, 28), email="chidi@example.org", phone="+44 20 7946 0000",
        notes="",
    )
    values.update(overrides)
    return applicants.ApplicantData(**values)


@pytest.fixture
def make_case(app: Flask):  # type: ignore[no-untyped-def]
    def make(advisor: User, *, applicant: Applicant | None = None, status: CaseStatus = CaseStatus.INTAKE,
             **applicant_overrides: Any) -> Case:
        if applicant is None:
            applicant = applicants.create_applicant(applicant_data(**applicant_overrides), by=advisor)
        case = cases.open_case(applicant, cases.CaseData(consulate_code="GB-LON",
                                                         planned_submission_on=dt.date.today() + dt.timedelta(days=30),
                                                         intended_entry_on=None, notes=""),
                               advisor=advisor, by=advisor)
        case.status = status
        db.session.commit()
        return case

    return make


def settle_documents(case: Case, by: User) -> None:
    """Waive every open required line of the case's checklist, so documents block nothing."""
    for line in documents.lines_of(case):
        if line.applies and line.required and not line.state.is_settled:
            documents.waive(line, "Handed in on paper", by=by)
    db.session.commit()


class AuthActions:
    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def login(self, email: str, password: str = PASSWORD, next: str | None = None) -> Any:
        url = "/auth/login" + (f"?next={next}" if next else "")
        return self.client.post(url, data={"email": email, "password": password})

    def logout(self) -> Any:
        return self.client.post("/auth/logout")


@pytest.fixture
def auth(client: FlaskClient) -> AuthActions:
    return AuthActions(client)
