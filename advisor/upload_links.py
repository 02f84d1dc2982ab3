"""Upload links: how an applicant sends the documents asked of them without an account.

A link names a case and the checklist lines it may fill, and expires (14 days by default). Only the token's
SHA-256 is stored, so a database leak does not open any link. The advisor can revoke a link at any time; a
link takes a limited number of files an hour; every visit and upload is audited.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import math
import secrets
from collections.abc import Sequence

from flask import current_app
from sqlalchemy import or_, select, update

from models import Case, CaseDocument, CaseStatus, DocumentState, UploadLink, User, db, utcnow

from . import audit, documents
from .documents import Incoming, Limits, Prepared, UploadResult
from .errors import DomainError

LINKABLE = (DocumentState.MISSING, DocumentState.REQUESTED, DocumentState.REJECTED)
COLLECTING = (CaseStatus.INTAKE, CaseStatus.COLLECTING, CaseStatus.READY)  # a link works while these last


class LinkClosed(DomainError):
    """The link expired or was revoked; the message tells the applicant what to do, in English and in Chinese
    (`chinese` says the same thing: the applicant may read only one of the two)."""

    def __init__(self, message: str, chinese: str) -> None:
        super().__init__(message)
        self.chinese = chinese


class TooManyUploads(DomainError):
    pass


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def linkable_lines(case: Case) -> list[CaseDocument]:
    """The lines an applicant can still be asked for: those that apply and are not received or settled."""
    return [line for line in documents.lines_of(case) if line.applies and line.state in LINKABLE]


def create_link(case: Case, lines: Sequence[CaseDocument], *, days: int, message: str,
                by: User) -> tuple[UploadLink, str]:
    """A new link for these lines, which are marked requested until the link expires; returns the token."""
    if not lines:
        raise DomainError("Choose at least one document to ask for.")
    if any(line.case_id != case.id or line.state not in LINKABLE for line in lines):
        raise DomainError("Only missing, requested or rejected documents of this case can be asked for.")
    if not 1 <= days <= 90:
        raise DomainError("A link lasts between 1 and 90 days.")
    token = secrets.token_urlsafe(32)
    expires_at = utcnow() + dt.timedelta(days=days)
    link = UploadLink(case_id=case.id, token_hash=_digest(token), message=message.strip(),
                      requirement_codes=[line.requirement_code for line in lines], expires_at=expires_at,
                      created_by_id=by.id)
    db.session.add(link)
    db.session.flush()
    documents.request(lines, by=by, due_on=expires_at.date(), link=link)
    audit.record("upload_link.create", actor=by, obj=link, case_id=case.id,
                 details={"documents": link.requirement_codes, "expires_at": expires_at.isoformat()})
    return link, token


def find(token: str) -> UploadLink | None:
    if not token or len(token) > 100:
        return None
    return db.session.scalar(select(UploadLink).where(UploadLink.token_hash == _digest(token)))


def open_link(token: str, *, now: dt.datetime | None = None) -> UploadLink:
    """The usable link for a token. Unknown tokens and deleted cases look the same as no link at all."""
    link = find(token)
    if link is None or link.case.deleted_at is not None:
        raise LinkClosed("This link is not valid. Check that you copied the whole address, or ask your advisor "
                         "for a new link.",
                         "此链接无效。请检查您是否复制了完整的网址，或请您的顾问提供新的链接。")
    now = now or utcnow()
    if link.revoked_at is not None:
        raise LinkClosed("This link has been withdrawn by your advisor. Ask them for a new one if you still "
                         "need to send documents.",
                         "此链接已被您的顾问撤销。如您仍需提交材料，请向顾问索取新的链接。")
    if now >= link.expires_at:
        raise LinkClosed(f"This link expired on {link.expires_at:%d %B %Y}. Ask your advisor for a new one.",
                         f"此链接已于{link.expires_at:%Y年%m月%d日}过期。请向您的顾问索取新的链接。")
    if link.case.status not in COLLECTING:
        raise LinkClosed("Your application no longer takes documents through this link: it has been submitted "
                         "or closed. Ask your advisor if something is still needed.",
                         "您的申请已提交或已结案，不再通过此链接接收材料。如仍需提供材料，请咨询您的顾问。")
    return link


def lines_in_scope(link: UploadLink) -> list[CaseDocument]:
    codes = set(link.requirement_codes)
    return [line for line in documents.lines_of(link.case) if line.requirement_code in codes and line.applies]


def line_in_scope(link: UploadLink, document_id: int) -> CaseDocument | None:
    return next((line for line in lines_in_scope(link) if line.id == document_id), None)


def record_visit(link: UploadLink) -> None:
    link.last_used_at = utcnow()
    audit.record("upload_link.open", actor=None, obj=link, case_id=link.case_id,
                 actor_label=f"upload link #{link.id}")


def check_scope(link: UploadLink, line: CaseDocument) -> None:
    """The link may fill this line: it names it, and the line still wants a document."""
    if line.requirement_code not in link.requirement_codes or line.case_id != link.case_id:
        raise DomainError("This link cannot upload that document.")
    if line.state == DocumentState.ACCEPTED:
        raise DomainError("This document has already been accepted; nothing more is needed.")
    if line.state == DocumentState.WAIVED:
        raise DomainError("Your advisor has waived this document: nothing more is needed.")


def store_upload(link: UploadLink, line: CaseDocument, prepared: Sequence[Prepared]) -> UploadResult:
    """Store checked files from the applicant on a line the link covers."""
    check_scope(link, line)
    return documents.store(line, prepared, link=link)


def take_upload(link: UploadLink, line: CaseDocument, incoming: Sequence[Incoming], *, limits: Limits,
                now: dt.datetime | None = None) -> UploadResult:
    """Check, charge and store in one go (the view splits these, to check files outside a transaction)."""
    check_scope(link, line)
    charge(link, len(incoming), now=now)
    return store_upload(link, line, documents.prepare(incoming, limits=limits,
                                                      requirement=documents.requirement_of(line)))


def charge(link: UploadLink, count: int, *, now: dt.datetime | None = None) -> None:
    """Count `count` files against the link's hourly allowance, refused files too, so a link cannot be used
    to hammer the upload checks. Two statements that each check and add in the database itself, so requests
    racing each other (several workers) cannot together pass the limit."""
    now = now or utcnow()
    limit = link_limit()
    quiet = {"synchronize_session": False}
    db.session.execute(update(UploadLink).where(
        UploadLink.id == link.id,
        or_(UploadLink.window_started_at.is_(None), UploadLink.window_started_at <= now - dt.timedelta(hours=1)),
    ).values(window_started_at=now, window_uploads=0).execution_options(**quiet))
    taken = db.session.execute(update(UploadLink).where(
        UploadLink.id == link.id, UploadLink.window_uploads + count <= limit,
    ).values(window_uploads=UploadLink.window_uploads + count, last_used_at=now).execution_options(**quiet))
    db.session.refresh(link, ["window_started_at", "window_uploads", "last_used_at"])
    if taken.rowcount == 0:  # type: ignore[attr-defined]
        started = link.window_started_at or now
        minutes = max(1, math.ceil((started + dt.timedelta(hours=1) - now).total_seconds() / 60))
        raise TooManyUploads(f"This link has taken {limit} files in the last hour, its limit. "
                             f"Try again in {minutes} minutes.")


def link_limit() -> int:
    return int(current_app.config["UPLOAD_LINK_FILES_PER_HOUR"])


def revoke(link: UploadLink, *, by: User) -> None:
    if link.revoked_at is not None:
        return
    link.revoked_at = utcnow()
    audit.record("upload_link.revoke", actor=by, obj=link, case_id=link.case_id)


def links_of(case: Case) -> list[UploadLink]:
    return list(db.session.scalars(
        select(UploadLink).where(UploadLink.case_id == case.id).order_by(UploadLink.created_at.desc())))
