"""Background packet exports on Redis (RQ), used when `REDIS_URL` is set.

A final packet of hundreds of pages may take longer than a web request should; with Redis configured the
export runs in an `rq worker -w advisor.jobs.PacketWorker` process and the page follows its progress. Without
Redis everything runs in the request, as before. The worker builds its own app from the same settings
(environment variables or instance/advisor.toml); `app_factory` lets the tests hand it theirs.

A worker can die mid-export (SIGKILL, out of memory, a lost machine). `PacketWorker` heartbeats every two
seconds on keys that expire ten seconds after the last beat, so its death shows within seconds: it drops
out of `Worker.all`, which the progress page reads to say that no worker is running, and its job's entry
in RQ's started registry expires, which RQ's abandoned-job handling (`StartedJobRegistry.cleanup`, run by
every worker's maintenance and by the progress page) turns into a retry (`Retry(max=RETRIES)`).
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app
from rq import Worker

QUEUE = "packets"
JOB_TIMEOUT = 5 * 60  # seconds: a 300-page packet takes seconds; beyond this something is stuck
RETRIES = 2  # further attempts after a worker died or the job broke unexpectedly (a refusal is not retried)
HEARTBEAT_SECONDS = 2  # how often a PacketWorker says it is alive, idle or busy
HEARTBEAT_TTL = 10  # seconds after its last heartbeat that a worker (and its job) count as dead
MAINTENANCE_SECONDS = 5  # how often a PacketWorker looks for the jobs of dead workers
app_factory: Callable[[], Flask] | None = None
_worker_app: Flask | None = None


class PacketWorker(Worker):
    """The worker to run: `rq worker -w advisor.jobs.PacketWorker --url $REDIS_URL packets`.

    RQ's forking worker with short heartbeats. RQ's own keep a dead worker listed for up to seven minutes
    and its job "started" for 90 seconds, then wait for the next maintenance (every ten minutes) to retry it;
    here each is a matter of seconds. The settings are fixed rather than taken from the command line because
    the progress page's "no worker" message and the retry depend on them."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.pop("default_worker_ttl", None)
        # RQ blocks on the queue for worker_ttl - 15 seconds between heartbeats of an idle worker.
        kwargs.update(worker_ttl=HEARTBEAT_SECONDS + 15, job_monitoring_interval=HEARTBEAT_SECONDS,
                      maintenance_interval=MAINTENANCE_SECONDS)
        super().__init__(*args, **kwargs)

    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
        super().heartbeat(HEARTBEAT_TTL, pipeline=pipeline)

    def get_heartbeat_ttl(self, job: Any, working_time: float = 0.0) -> int:
        # How long the job's entry in the started registry outlives the last heartbeat (RQ adds 60 s).
        return HEARTBEAT_TTL


def enabled() -> bool:
    return bool(current_app.config.get("REDIS_URL"))


def _queue(url: str) -> Any:
    from redis import Redis
    from rq import Queue

    return Queue(QUEUE, connection=Redis.from_url(url))


def enqueue_final(case_id: int, user_id: int, cover_letter: str, *, eligibility_page: bool = True) -> str:
    """Queue a final export; the job's id is what the progress page asks about."""
    from rq import Retry

    job = _queue(current_app.config["REDIS_URL"]).enqueue(
        run_final, case_id, user_id, cover_letter, eligibility_page, job_timeout=JOB_TIMEOUT, result_ttl=24 * 3600,
        failure_ttl=24 * 3600, retry=Retry(max=RETRIES),
        meta={"case_id": case_id, "progress": "Waiting for a worker",
              "queued_at": dt.datetime.now(dt.UTC).isoformat()})
    return str(job.id)


@dataclass(frozen=True)
class JobState:
    status: str  # queued | started | finished | failed | missing
    progress: str
    packet_id: int | None = None
    error: str | None = None
    workers: int = 0  # live workers on the queue
    attempt: int = 0  # the attempt that ran or runs, 0 before the first began

    @property
    def done(self) -> bool:
        return self.status in ("finished", "failed", "missing")

    @property
    def stalled(self) -> bool:
        """Not done, and nothing alive to do it."""
        return not self.done and self.workers == 0

    @property
    def retrying(self) -> bool:
        """Queued again after an attempt that was cut short."""
        return self.status == "queued" and self.attempt > 0


def live_workers(queue: Any) -> int:
    """Workers on the queue whose heartbeat key is still there: a PacketWorker's lapses within seconds of
    its last beat, so a killed one stops counting almost at once."""
    return len(Worker.all(queue=queue))


def hand_back_abandoned(queue: Any) -> None:
    """Run RQ's abandoned-job handling now rather than at the next worker's maintenance: a job whose worker
    stopped heartbeating is retried (put back on the queue) or, out of retries, failed. Under RQ's own
    maintenance lock, so a worker doing the same at this moment cannot retry the job twice."""
    from rq.registry import StartedJobRegistry

    if queue.acquire_maintenance_lock():
        try:
            StartedJobRegistry(queue=queue).cleanup()
        finally:
            queue.release_maintenance_lock()


def state(job_id: str, case_id: int) -> JobState:
    """Where a job stands; a job of another case (or none at all) is `missing`."""
    from rq.exceptions import NoSuchJobError
    from rq.job import Job

    queue = _queue(current_app.config["REDIS_URL"])
    try:
        job = Job.fetch(job_id, connection=queue.connection)
    except (NoSuchJobError, ValueError):
        return JobState("missing", "")
    meta = job.get_meta(refresh=True)
    if meta.get("case_id") != case_id:
        return JobState("missing", "")
    hand_back_abandoned(queue)
    found = job.get_status(refresh=True)
    status = str(getattr(found, "value", found))
    progress = "Waiting for a worker" if status == "queued" else str(meta.get("progress", ""))
    return JobState(status=status, progress=progress, packet_id=meta.get("packet_id"), error=meta.get("error"),
                    workers=live_workers(queue), attempt=int(meta.get("attempt", 0)))


def _app() -> Flask:
    global _worker_app
    if app_factory is not None:
        return app_factory()
    if _worker_app is None:
        from . import create_app

        _worker_app = create_app()
    return _worker_app


def _recorded_by_an_earlier_attempt(job: Any, case: Any, by: Any, cover_letter: str) -> Any:
    # A worker may die after committing the packet and before RQ marks the job finished.
    from . import packets

    queued_at = job.meta.get("queued_at") if job is not None else None
    if not queued_at:
        return None
    return packets.recorded_since(case, dt.datetime.fromisoformat(queued_at), by=by, cover_letter=cover_letter)


def run_final(case_id: int, user_id: int, cover_letter: str, eligibility_page: bool = True) -> int | None:
    """The job: export a final packet in the worker, reporting progress in the job's meta. (Jobs queued
    before the eligibility page became optional have no `eligibility_page`: they keep it.)"""
    from rq import get_current_job

    from models import Case, User, db

    from . import packets
    from .database import READ_ONLY
    from .errors import DomainError
    from .packet_pdf import PacketError
    from .storage import MissingFile

    job = get_current_job()

    def report(step: str, **extra: Any) -> None:
        if job is not None:
            job.meta.update(progress=step, **extra)
            job.save_meta()

    attempt = int(job.get_meta(refresh=True).get("attempt", 0)) + 1 if job is not None else 1
    report("Starting", attempt=attempt)
    with _app().app_context():
        # Everything up to recording the packet only reads: no write lock is held while rendering.
        db.session.connection(execution_options=READ_ONLY)
        case, by = db.session.get(Case, case_id), db.session.get(User, user_id)
        if case is None or case.deleted_at is not None:
            report("Failed", error="The case no longer exists.")
            return None
        earlier = _recorded_by_an_earlier_attempt(job, case, by, cover_letter) if attempt > 1 else None
        if earlier is not None:  # the attempt that died had recorded it already: never a second copy
            report("Done", packet_id=earlier.id)
            return earlier.id
        try:
            built, state = packets.build_final(case, cover_letter=cover_letter, eligibility_page=eligibility_page,
                                               progress=report)
            db.session.commit()
            packet = packets.record_final(case, built, state, by=by, cover_letter=cover_letter,
                                          eligibility_page=eligibility_page, progress=report)
            db.session.commit()
        except (DomainError, PacketError, MissingFile) as problem:
            db.session.rollback()
            report("Failed", error=str(problem) if not isinstance(problem, MissingFile) else
                   "A stored file of an accepted document is missing: run the storage check.")
            return None
        report("Done", packet_id=packet.id)
        return packet.id
