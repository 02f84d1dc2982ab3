"""Background packet exports on Redis (RQ), used when `REDIS_URL` is set.

A final packet of hundreds of pages may take longer than a web request should; with Redis configured the
export runs in an `rq worker --url $REDIS_URL packets` process and the page follows its progress. Without
Redis everything runs in the request, as before. The worker builds its own app from the same settings
(environment variables or instance/advisor.toml); `app_factory` lets the tests hand it theirs.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app

QUEUE = "packets"
JOB_TIMEOUT = 30 * 60  # seconds: far beyond a 300-page packet, which takes seconds
app_factory: Callable[[], Flask] | None = None
_worker_app: Flask | None = None


def enabled() -> bool:
    return bool(current_app.config.get("REDIS_URL"))


def _queue(url: str) -> Any:
    from redis import Redis
    from rq import Queue

    return Queue(QUEUE, connection=Redis.from_url(url))


def enqueue_final(case_id: int, user_id: int, cover_letter: str) -> str:
    """Queue a final export; the job's id is what the progress page asks about."""
    job = _queue(current_app.config["REDIS_URL"]).enqueue(
        run_final, case_id, user_id, cover_letter, job_timeout=JOB_TIMEOUT, result_ttl=24 * 3600,
        failure_ttl=24 * 3600, meta={"case_id": case_id, "progress": "Waiting for a worker"})
    return str(job.id)


@dataclass(frozen=True)
class JobState:
    status: str  # queued | started | finished | failed | missing
    progress: str
    packet_id: int | None = None
    error: str | None = None

    @property
    def done(self) -> bool:
        return self.status in ("finished", "failed", "missing")


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
    status = job.get_status(refresh=True)
    return JobState(status=str(getattr(status, "value", status)), progress=str(meta.get("progress", "")),
                    packet_id=meta.get("packet_id"),
                    error=meta.get("error"))


def _app() -> Flask:
    global _worker_app
    if app_factory is not None:
        return app_factory()
    if _worker_app is None:
        from . import create_app

        _worker_app = create_app()
    return _worker_app


def run_final(case_id: int, user_id: int, cover_letter: str) -> int | None:
    """The job: export a final packet in the worker, reporting progress in the job's meta."""
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

    with _app().app_context():
        case, by = db.session.get(Case, case_id), db.session.get(User, user_id)
        if case is None or case.deleted_at is not None:
            report("Failed", error="The case no longer exists.")
            return None
        try:
            db.session.commit()  # build in a read-only transaction: no write lock held while rendering
            db.session.connection(execution_options=READ_ONLY)
            built, state = packets.build_final(case, cover_letter=cover_letter, progress=report)
            db.session.commit()
            packet = packets.record_final(case, built, state, by=by, cover_letter=cover_letter, progress=report)
            db.session.commit()
        except (DomainError, PacketError, MissingFile) as problem:
            db.session.rollback()
            report("Failed", error=str(problem) if not isinstance(problem, MissingFile) else
                   "A stored file of an accepted document is missing: run the storage check.")
            return None
        report("Done", packet_id=packet.id)
        return packet.id
