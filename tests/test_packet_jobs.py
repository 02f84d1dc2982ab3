"""Final packets exported in the background: a real Redis, an in-process RQ worker and a real `rq worker`."""
from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis import Redis
from rq import Queue, SimpleWorker
from sqlalchemy import func, select

from advisor import assessments, jobs
from models import Packet, db

from .conftest import settle_documents
from .test_workflow import give_degree, save_institution

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    server = shutil.which("redis-server")
    assert server, "redis-server is missing: `make test` installs it (Debian package redis-server)"
    port = free_port()
    process = subprocess.Popen([server, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = Redis(port=port)
    try:
        for _ in range(200):
            try:
                client.ping()
                break
            except Exception:
                time.sleep(0.02)
        else:
            raise RuntimeError("redis-server did not answer")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        client.close()
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def app_config(redis_url, tmp_path):
    return {"REDIS_URL": redis_url, "STORAGE_URL": f"file://{tmp_path / 'files'}"}


@pytest.fixture
def queue(redis_url) -> Iterator[Queue]:
    connection = Redis.from_url(redis_url)
    connection.flushdb()
    yield Queue(jobs.QUEUE, connection=connection)
    connection.close()


@pytest.fixture
def worker_uses_test_app(app, monkeypatch):
    monkeypatch.setattr(jobs, "app_factory", lambda: app)


@pytest.fixture
def ready_case(app, admin, advisor, make_case):
    case = make_case(advisor)
    give_degree(case, save_institution(admin, "ETH Zurich", renowned=True), advisor)
    assessments.run(case, by=advisor)
    settle_documents(case, advisor)
    return case


def job_id_of(response) -> str:
    match = re.search(r"/packets/jobs/([0-9a-f-]+)$", response.headers["Location"])
    assert match, response.headers.get("Location")
    return match.group(1)


def packets_of(case) -> int:
    return db.session.scalar(select(func.count()).select_from(Packet).where(Packet.case_id == case.id))


def test_a_final_export_is_queued_then_done_by_the_worker(client, auth, advisor, ready_case, queue,
                                                          worker_uses_test_app):
    auth.login(advisor.email)
    response = client.post(f"/cases/{ready_case.id}/packets/final", data={"cover_letter": ""})
    assert response.status_code == 302
    job_id = job_id_of(response)
    assert packets_of(ready_case) == 0  # nothing is built in the request

    waiting = client.get(f"/cases/{ready_case.id}/packets/jobs/{job_id}")
    assert waiting.status_code == 200
    assert b"Waiting for a worker" in waiting.data
    assert b'http-equiv="refresh"' in waiting.data

    db.session.commit()
    SimpleWorker([queue], connection=queue.connection).work(burst=True)

    db.session.expire_all()
    assert packets_of(ready_case) == 1
    done = client.get(f"/cases/{ready_case.id}/packets/jobs/{job_id}")
    assert b"Final packet 1 is ready" in done.data
    assert b'http-equiv="refresh"' not in done.data
    packet = db.session.scalar(select(Packet).where(Packet.case_id == ready_case.id))
    download = client.get(f"/cases/{ready_case.id}/packets/{packet.id}")
    assert download.status_code == 200 and download.data.startswith(b"%PDF")


def test_a_case_that_is_not_ready_is_refused_before_queueing(client, auth, advisor, make_case, queue):
    case = make_case(advisor)
    auth.login(advisor.email)
    response = client.post(f"/cases/{case.id}/packets/final", data={"cover_letter": ""}, follow_redirects=True)
    assert b"A final packet needs a case with nothing blocking it" in response.data
    assert queue.count == 0


def test_a_job_failing_in_the_worker_says_why(client, auth, advisor, ready_case, queue, worker_uses_test_app):
    auth.login(advisor.email)
    job_id = job_id_of(client.post(f"/cases/{ready_case.id}/packets/final", data={"cover_letter": ""}))
    ready_case.planned_submission_on = None  # the case changes before the worker gets to it
    db.session.commit()
    SimpleWorker([queue], connection=queue.connection).work(burst=True)
    page = client.get(f"/cases/{ready_case.id}/packets/jobs/{job_id}")
    assert b"The export failed" in page.data
    assert b"planned submission date" in page.data
    assert packets_of(ready_case) == 0


def test_job_pages_of_other_cases_and_unknown_jobs_answer_404(client, auth, advisor, other_advisor, ready_case,
                                                              make_case, queue):
    auth.login(advisor.email)
    job_id = job_id_of(client.post(f"/cases/{ready_case.id}/packets/final", data={"cover_letter": ""}))
    mine_too = make_case(advisor)
    assert client.get(f"/cases/{mine_too.id}/packets/jobs/{job_id}").status_code == 404  # a job of another case
    assert client.get(f"/cases/{ready_case.id}/packets/jobs/00000000-0000-0000-0000-000000000000").status_code == 404
    assert client.get(f"/cases/{ready_case.id}/packets/jobs/..%2F..%2Fetc").status_code == 404
    auth.logout()
    auth.login(other_advisor.email)
    assert client.get(f"/cases/{ready_case.id}/packets/jobs/{job_id}").status_code == 404


def test_a_real_rq_worker_process_exports_the_packet(app, client, auth, advisor, ready_case, queue, redis_url,
                                                     database_url, tmp_path):
    auth.login(advisor.email)
    job_id = job_id_of(client.post(f"/cases/{ready_case.id}/packets/final", data={"cover_letter": "To the consulate"}))
    db.session.commit()
    environment = {key: value for key, value in os.environ.items() if not key.startswith("ADVISOR_")}
    environment.update(ADVISOR_SECRET_KEY=app.config["SECRET_KEY"], ADVISOR_DATABASE_URL=database_url,
                       ADVISOR_STORAGE_URL=app.config["STORAGE_URL"], ADVISOR_REDIS_URL=redis_url,
                       ADVISOR_RULES_FOLDER=app.config["RULES_FOLDER"] or "")
    if not environment["ADVISOR_RULES_FOLDER"]:
        del environment["ADVISOR_RULES_FOLDER"]
    rq = Path(sys.executable).with_name("rq")
    finished = subprocess.run([str(rq), "worker", "--burst", "--url", redis_url, jobs.QUEUE],
                              cwd=str(Path(__file__).resolve().parent.parent), env=environment,
                              capture_output=True, text=True, timeout=120)
    assert finished.returncode == 0, finished.stderr[-2000:]
    db.session.expire_all()
    page = client.get(f"/cases/{ready_case.id}/packets/jobs/{job_id}")
    assert b"Final packet 1 is ready" in page.data, finished.stderr[-2000:]
    packet = db.session.scalar(select(Packet).where(Packet.case_id == ready_case.id))
    assert packet.cover_letter == "To the consulate"
