"""Final packets exported in the background: a real Redis, an in-process RQ worker and a real `rq worker`."""
from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis import Redis
from rq import Queue, SimpleWorker
from rq.job import Job
from sqlalchemy import func, select, text

from advisor import assessments, jobs, packet_pdf
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


def test_the_worker_leaves_the_eligibility_page_out_when_asked(client, auth, advisor, ready_case, queue,
                                                             worker_uses_test_app):
    auth.login(advisor.email)
    job_id_of(client.post(f"/cases/{ready_case.id}/packets/final", data={"leave_out_eligibility": "y"}))
    db.session.commit()
    SimpleWorker([queue], connection=queue.connection).work(burst=True)
    db.session.expire_all()
    packet = db.session.scalar(select(Packet).where(Packet.case_id == ready_case.id))
    assert packet.manifest["eligibility_page"] is False and packet.page_count == 3
    download = client.get(f"/cases/{ready_case.id}/packets/{packet.id}")
    assert download.mimetype == "application/pdf"
    assert not any("Eligibility statement" in text for text in packet_pdf.page_texts(download.data))


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


REPOSITORY = Path(__file__).resolve().parent.parent
RQ = Path(sys.executable).with_name("rq")


def worker_environment(app, database_url: str, redis_url: str) -> dict[str, str]:
    """What an `rq worker` process needs to build the same app as the test's."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("ADVISOR_")}
    environment.update(ADVISOR_SECRET_KEY=app.config["SECRET_KEY"], ADVISOR_DATABASE_URL=database_url,
                       ADVISOR_STORAGE_URL=app.config["STORAGE_URL"], ADVISOR_REDIS_URL=redis_url,
                       # A worker blocked on the test's lock waits for it rather than failing after 5 s.
                       ADVISOR_SQLITE_BUSY_TIMEOUT_MS="120000")
    if app.config["RULES_FOLDER"]:
        environment["ADVISOR_RULES_FOLDER"] = app.config["RULES_FOLDER"]
    return environment


def test_a_real_rq_worker_process_exports_the_packet(app, client, auth, advisor, ready_case, queue, redis_url,
                                                     database_url, tmp_path):
    auth.login(advisor.email)
    job_id = job_id_of(client.post(f"/cases/{ready_case.id}/packets/final", data={"cover_letter": "To the consulate"}))
    db.session.commit()
    finished = subprocess.run([str(RQ), "worker", "--burst", "--url", redis_url, jobs.QUEUE],
                              cwd=str(REPOSITORY), env=worker_environment(app, database_url, redis_url),
                              capture_output=True, text=True, timeout=120)
    assert finished.returncode == 0, finished.stderr[-2000:]
    db.session.expire_all()
    page = client.get(f"/cases/{ready_case.id}/packets/jobs/{job_id}")
    assert b"Final packet 1 is ready" in page.data, finished.stderr[-2000:]
    packet = db.session.scalar(select(Packet).where(Packet.case_id == ready_case.id))
    assert packet.cover_letter == "To the consulate"


def page_of(client, case, job_id: str) -> bytes:
    page = client.get(f"/cases/{case.id}/packets/jobs/{job_id}")
    assert page.status_code == 200 and page.mimetype == "text/html"
    return page.data


NO_WORKER = b"No worker is running; the export will start when one is."


def test_the_page_says_at_once_when_no_worker_is_running(client, auth, advisor, ready_case, queue):
    auth.login(advisor.email)
    job_id = job_id_of(client.post(f"/cases/{ready_case.id}/packets/final", data={"cover_letter": ""}))
    first = page_of(client, ready_case, job_id)
    assert b"Waiting for a worker" in first and NO_WORKER in first
    assert b'http-equiv="refresh"' in first

    worker = jobs.PacketWorker([queue], connection=queue.connection)
    worker.register_birth()
    worker.heartbeat()
    try:
        waiting = page_of(client, ready_case, job_id)
        assert b"Waiting for a worker" in waiting and NO_WORKER not in waiting
    finally:
        worker.register_death()  # a worker that stops cleanly leaves the list at once
    assert NO_WORKER in page_of(client, ready_case, job_id)


def test_a_packet_worker_is_given_short_heartbeats_whatever_the_command_line_says(queue):
    worker = jobs.PacketWorker([queue], connection=queue.connection, worker_ttl=420, default_worker_ttl=420,
                               job_monitoring_interval=30, maintenance_interval=600)
    assert (worker.dequeue_timeout, worker.job_monitoring_interval, worker.maintenance_interval) == (
        jobs.HEARTBEAT_SECONDS, jobs.HEARTBEAT_SECONDS, jobs.MAINTENANCE_SECONDS)
    worker.register_birth()
    try:
        worker.heartbeat(500)
        assert 0 < queue.connection.ttl(worker.key) <= jobs.HEARTBEAT_TTL
    finally:
        worker.register_death()


@contextlib.contextmanager
def packets_table_locked() -> Iterator[None]:
    """Hold a lock that lets the export read everything but not insert its packet row, so a worker is
    stopped at a known point of the export: SQLite's write lock, or a SHARE lock on PostgreSQL's table."""
    with db.engine.connect() as connection, connection.begin():  # SQLite: BEGIN IMMEDIATE
        if connection.dialect.name == "postgresql":
            connection.execute(text("LOCK TABLE packets IN SHARE MODE"))
        yield


def wait_for(condition, *, timeout: float, what: str) -> float:
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, f"waited {timeout} s for {what}"
        time.sleep(0.1)
    return time.monotonic() - started


def kill_with_its_work_horse(worker: subprocess.Popen) -> None:
    """SIGKILL the worker and the process it forked for the job, as when their machine or container dies."""
    children = [int(pid) for task in Path(f"/proc/{worker.pid}/task").iterdir()
                for pid in (task / "children").read_text().split()]
    assert children, "the worker has no work horse"
    for pid in [worker.pid, *children]:
        os.kill(pid, signal.SIGKILL)
    worker.wait(timeout=10)
    for pid in children:  # the horse is the worker's child: reaped by nobody, it shows as gone once it is
        wait_for(lambda pid=pid: not Path(f"/proc/{pid}").exists()
                 or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2], timeout=10, what="the horse to die")


def test_a_job_whose_worker_was_killed_is_retried_and_finished_by_the_next_worker(
        app, client, auth, advisor, ready_case, queue, redis_url, database_url, worker_uses_test_app):
    auth.login(advisor.email)
    job_id = job_id_of(client.post(f"/cases/{ready_case.id}/packets/final", data={"cover_letter": "Second try"}))
    db.session.commit()
    environment = worker_environment(app, database_url, redis_url)
    job = Job.fetch(job_id, connection=queue.connection)

    with packets_table_locked():
        worker = subprocess.Popen([str(RQ), "worker", "-w", "advisor.jobs.PacketWorker", "--url", redis_url,
                                   jobs.QUEUE], cwd=str(REPOSITORY), env=environment,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for(lambda: job.get_meta(refresh=True).get("progress") == "Storing the packet", timeout=120,
                     what="the export to reach the packet's row")
            assert job.get_status(refresh=True) == "started"
        finally:
            kill_with_its_work_horse(worker)

    # Within seconds, the page says no worker is there, and the job is back on the queue for the next one.
    noticed = wait_for(lambda: NO_WORKER in page_of(client, ready_case, job_id), timeout=30, what="the message")
    assert noticed <= jobs.HEARTBEAT_TTL + 3
    wait_for(lambda: b"the export is tried again (attempt 2)" in page_of(client, ready_case, job_id), timeout=15,
             what="the job to be handed back")
    job.refresh()
    assert job.get_status() == "queued" and job.retries_left == jobs.RETRIES - 1
    assert packets_of(ready_case) == 0
    db.session.commit()  # SQLite: the test's read above holds the write lock until its transaction ends

    # The next worker (in this process, to keep the test short) finds the job on the queue and finishes it.
    assert SimpleWorker([queue], connection=queue.connection).work(burst=True)
    db.session.expire_all()
    page = page_of(client, ready_case, job_id)
    assert b"Final packet 1 is ready" in page
    assert packets_of(ready_case) == 1
    assert db.session.scalar(select(Packet.cover_letter).where(Packet.case_id == ready_case.id)) == "Second try"
