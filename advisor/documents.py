"""Documents of a case: keeping the checklist in step, uploads, review, and the rules checked on each line.

States: missing → requested → received → accepted | rejected (with a reason); waived (with a reason) from any
state but accepted. An upload before a review joins the line's current revision; an upload after a review
starts a new one, so nothing is ever overwritten. A batch of files is stored whole or not at all.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import and_, func, select
from sqlalchemy import case as when
from sqlalchemy.orm.exc import StaleDataError

from models import Case, CaseDocument, DocumentFile, DocumentState, UploadLink, User, db, utcnow

from . import audit, checklist, files, filestore
from .checklist import Requirement
from .dates import add_months
from .errors import Conflict, DomainError

REVIEWABLE = (DocumentState.RECEIVED,)
OPEN_STATES = (DocumentState.MISSING, DocumentState.REQUESTED, DocumentState.RECEIVED, DocumentState.REJECTED)


# The checklist ----------------------------------------------------------------------------------------

def sync_checklist(case: Case, *, by: User | None = None, opening: bool = False) -> bool:
    """Bring the case's lines in step with the checklist for its pathway, residence and consulate.

    New requirements get a `missing` line; lines no longer asked for are marked as not applying and keep
    their files and history; lines asked for again come back as they were. Returns whether anything changed.
    `opening`: the case is new and its creation is audited already.
    """
    applicant = case.applicant
    needed = {line.requirement.code: line for line in checklist.requirements_for(
        pathway=case.pathway.value, nationality=applicant.nationality,
        residence_country=applicant.residence_country, consulate_code=case.consulate_code)}
    existing = {line.requirement_code: line for line in _lines_of(case)}
    added, dropped = [], []
    for code, line in needed.items():
        row = existing.get(code)
        if row is None:
            db.session.add(CaseDocument(case_id=case.id, requirement_code=code, required=line.required,
                                        applies=True, position=line.position, state=DocumentState.MISSING))
            added.append(code)
            continue
        if not row.applies:
            added.append(code)
        row.applies, row.required, row.position = True, line.required, line.position
    for code, row in existing.items():
        if code not in needed and row.applies:
            row.applies = False
            dropped.append(code)
    if (added or dropped) and not opening:
        audit.record("documents.checklist", actor=by, obj=case, case_id=case.id,
                     details={"added": added, "no_longer_required": dropped})
    db.session.flush()
    return bool(added or dropped)


def _lines_of(case: Case) -> list[CaseDocument]:
    return list(db.session.scalars(
        select(CaseDocument).where(CaseDocument.case_id == case.id).order_by(CaseDocument.position)))


def requirement_of(line: CaseDocument) -> Requirement:
    requirement = checklist.current().get(line.requirement_code)
    if requirement is None:  # a code dropped from the data file: keep showing the line under its code
        return Requirement(code=line.requirement_code, title=line.requirement_code, title_zh="", order=999,
                           required_when="optional", status="assumed", instructions="", instructions_zh="",
                           fields=(), sources=("Not on the current checklist",))
    return requirement


# Rules checked on a line --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Check:
    rule: str
    ok: bool | None  # None: cannot tell yet (a date is missing)
    message: str

    @property
    def problem_code(self) -> str:
        if self.ok is None:
            return "document_details_missing"
        return {"valid_months_after_submission": "passport_expiring", "taken_within_months": "photo_too_old",
                "valid_on_submission": "residence_permit_expired"}[self.rule]


def checks(line: CaseDocument, case: Case) -> list[Check]:
    """The automatic checks of a line against the planned submission date, as the checklist defines them."""
    requirement = requirement_of(line)
    planned = case.planned_submission_on
    expires_on = line.expires_on
    if expires_on is None and line.requirement_code == "passport":
        expires_on = case.applicant.passport_expires_on
    found = []
    for rule, value in requirement.rules.items():
        if planned is None:
            found.append(Check(rule, None, "Set the planned submission date to check this document."))
        elif rule == "valid_months_after_submission":
            found.append(_expiry_check(rule, expires_on, add_months(planned, value),
                                       f"at least {value} months after the planned submission on {planned}"))
        elif rule == "valid_on_submission":
            found.append(_expiry_check(rule, expires_on, planned, f"on the planned submission date {planned}"))
        elif rule == "taken_within_months":
            earliest = add_months(planned, -value)
            if line.issued_on is None:
                found.append(Check(rule, None, "Record the date it was taken to check its age."))
            elif line.issued_on < earliest:
                found.append(Check(rule, False, f"Taken on {line.issued_on}: more than {value} months before the "
                                                f"planned submission on {planned} (needs {earliest} or later)."))
            else:
                found.append(Check(rule, True, f"Taken on {line.issued_on}, within {value} months of the "
                                               f"planned submission."))
    return found


def _expiry_check(rule: str, expires_on: dt.date | None, needed: dt.date, wording: str) -> Check:
    if expires_on is None:
        return Check(rule, None, "Record the expiry date to check its validity.")
    if expires_on < needed:
        return Check(rule, False, f"Expires on {expires_on}; it must be valid {wording} (until {needed}).")
    return Check(rule, True, f"Valid until {expires_on}, {wording}.")


# Completeness --------------------------------------------------------------------------------------------

@dataclass
class Completeness:
    settled: int = 0
    total: int = 0
    missing: list[CaseDocument] = field(default_factory=list)
    awaiting_review: list[CaseDocument] = field(default_factory=list)
    rejected: list[CaseDocument] = field(default_factory=list)

    @property
    def is_complete(self) -> bool:
        return self.total > 0 and self.settled == self.total

    @property
    def percent(self) -> int:
        return round(100 * self.settled / self.total) if self.total else 0


def completeness(lines: Iterable[CaseDocument]) -> Completeness:
    """Required lines settled (accepted or waived) out of all required lines, and what holds up the rest."""
    result = Completeness()
    for line in lines:
        if not (line.applies and line.required):
            continue
        result.total += 1
        if line.state.is_settled:
            result.settled += 1
        elif line.state == DocumentState.RECEIVED:
            result.awaiting_review.append(line)
        elif line.state == DocumentState.REJECTED:
            result.rejected.append(line)
        else:
            result.missing.append(line)
    return result


def lines_of(case: Case) -> list[CaseDocument]:
    """The lines a case page shows: those that apply, then those kept only for their files."""
    lines = _lines_of(case)
    return [line for line in lines if line.applies] + [line for line in lines if not line.applies and line.revision]


def counts_for(case_ids: Sequence[int]) -> dict[int, tuple[int, int]]:
    """(settled, total) required lines of each case, in one query, for a list page (even an empty one, so
    a page costs the same number of statements whatever it holds)."""
    settled = func.sum(when((CaseDocument.state.in_([DocumentState.ACCEPTED, DocumentState.WAIVED]), 1), else_=0))
    rows = db.session.execute(
        select(CaseDocument.case_id, settled, func.count())
        .where(CaseDocument.case_id.in_(case_ids), CaseDocument.applies, CaseDocument.required)
        .group_by(CaseDocument.case_id))
    return {case_id: (int(done or 0), int(total)) for case_id, done, total in rows}


def open_required_line() -> object:
    """SQL condition for "this line still needs work", for filters over many cases."""
    return and_(CaseDocument.applies, CaseDocument.required, CaseDocument.state.in_(OPEN_STATES))


# Review --------------------------------------------------------------------------------------------------

def _check_version(line: CaseDocument, version: int | None) -> None:
    if version is not None and version != line.version:
        raise Conflict("Someone else changed this document while you were looking at it. Check its current "
                       "state and try again.")


def _record(action: str, line: CaseDocument, by: User | None, **details: object) -> None:
    audit.record(action, actor=by, obj=line, case_id=line.case_id,
                 details={"document": line.requirement_code, **details})


def accept(line: CaseDocument, *, by: User, version: int | None = None) -> None:
    """Accept the current revision. Needs files, and none of the line's automatic checks may fail."""
    _check_version(line, version)
    if line.state != DocumentState.RECEIVED:
        raise DomainError(f"Only a received document can be accepted; this one is {line.state.value}.")
    if not line.current_files():
        raise DomainError("There is no file to accept.")
    failed = [check.message for check in checks(line, line.case) if check.ok is False]
    if failed:
        raise DomainError("It cannot be accepted: " + " ".join(failed))
    line.state, line.reason = DocumentState.ACCEPTED, ""
    line.reviewed_by_id, line.reviewed_at = by.id, utcnow()
    _record("document.accept", line, by, revision=line.revision)


def reject(line: CaseDocument, reason: str, *, by: User, version: int | None = None) -> None:
    """Reject the current revision with a reason the applicant will read."""
    _check_version(line, version)
    if line.state not in (DocumentState.RECEIVED, DocumentState.ACCEPTED):
        raise DomainError(f"Only a received or accepted document can be rejected; this one is {line.state.value}.")
    if not reason.strip():
        raise DomainError("Say why the document is rejected: the applicant reads the reason.")
    line.state, line.reason = DocumentState.REJECTED, reason.strip()
    line.reviewed_by_id, line.reviewed_at = by.id, utcnow()
    _record("document.reject", line, by, revision=line.revision, reason=line.reason)


def waive(line: CaseDocument, reason: str, *, by: User, version: int | None = None) -> None:
    """Settle a line without a document, e.g. a consulate that does not ask for it; the reason is kept."""
    _check_version(line, version)
    if line.state == DocumentState.ACCEPTED:
        raise DomainError("An accepted document cannot be waived; reject it first.")
    if not reason.strip():
        raise DomainError("Say why this document is not needed.")
    line.state, line.reason = DocumentState.WAIVED, reason.strip()
    line.reviewed_by_id, line.reviewed_at = by.id, utcnow()
    _record("document.waive", line, by, reason=line.reason)


def reopen(line: CaseDocument, *, by: User, version: int | None = None) -> None:
    """Undo a waiver or a decision: the line goes back to where its files leave it."""
    _check_version(line, version)
    if line.state not in (DocumentState.WAIVED, DocumentState.ACCEPTED, DocumentState.REJECTED):
        raise DomainError("Only a waived, accepted or rejected document can be reopened.")
    line.state = DocumentState.RECEIVED if line.current_files() else DocumentState.MISSING
    line.reason = ""
    _record("document.reopen", line, by)


def request(lines: Iterable[CaseDocument], *, by: User | None, due_on: dt.date | None,
            link: UploadLink | None = None) -> list[CaseDocument]:
    """Mark lines as asked of the applicant, with a date they are due. Settled lines are left alone."""
    asked = []
    for line in lines:
        if line.state in (DocumentState.MISSING, DocumentState.REQUESTED, DocumentState.REJECTED):
            if line.state != DocumentState.REJECTED:
                line.state = DocumentState.REQUESTED
            line.requested_at, line.request_due_on = utcnow(), due_on
            asked.append(line)
    if asked:
        audit.record("documents.request", actor=by, obj=asked[0].case, case_id=asked[0].case_id,
                     details={"documents": [line.requirement_code for line in asked],
                              "due_on": due_on.isoformat() if due_on else None, "link": link.id if link else None})
    return asked


@dataclass
class Details:
    number: str | None = None
    issued_on: dt.date | None = None
    expires_on: dt.date | None = None
    language: str | None = None
    translation_attached: bool = False


def update_details(line: CaseDocument, details: Details, *, by: User, version: int | None = None) -> None:
    """Record what the document says: number, dates, language, whether a translation is attached."""
    _check_version(line, version)
    if details.issued_on and details.expires_on and details.expires_on < details.issued_on:
        raise DomainError("The expiry date cannot be before the issue date.")
    line.number = (details.number or "").strip() or None
    line.issued_on, line.expires_on = details.issued_on, details.expires_on
    line.language = (details.language or "").strip() or None
    line.translation_attached = details.translation_attached
    diff = audit.changes(line)
    if "number" in diff:  # a document number identifies a person as a passport number does: the log masks it
        diff["number"] = [audit.mask(value) for value in diff["number"]]
    if diff:
        audit.record("document.details", actor=by, obj=line, case_id=line.case_id,
                     details={"document": line.requirement_code, **diff})


# Uploads -------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Incoming:
    name: str
    data: bytes


@dataclass
class UploadResult:
    saved: list[DocumentFile] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)


class Refused(DomainError):
    """One or more files of a batch were refused; nothing of the batch was stored."""

    def __init__(self, reasons: list[tuple[str, str]], *, too_large: bool = False) -> None:
        self.reasons, self.too_large = reasons, too_large
        super().__init__("Nothing was saved. " + " ".join(f"{name}: {why}" for name, why in reasons))


@dataclass(frozen=True)
class Limits:
    max_bytes: int
    max_pixels: int
    max_pages: int


@dataclass(frozen=True)
class Prepared:
    """A file that passed every check, with its packet-ready pages and its thumbnail, not stored yet."""

    name: str
    data: bytes
    info: files.Inspected
    pages: bytes
    thumbnail: bytes


def prepare(incoming: Sequence[Incoming], *, limits: Limits, requirement: Requirement | None = None) -> list[Prepared]:
    """Check and convert a batch of files; any refusal refuses the batch (Refused lists each file's reason).
    The requirement the files are for decides how their packet pages are laid out (its print size).

    This is the slow part of an upload (seconds for big scans) and touches no database, so a view can run it
    outside any transaction: on SQLite, a write transaction held meanwhile would make every other writer wait.
    """
    if not incoming:
        raise DomainError("Choose at least one file to upload.")
    prepared, refused = [], []
    print_size = requirement.print_size_mm if requirement else None
    for item in incoming:
        name = files.safe_filename(item.name)
        try:
            info = files.inspect(item.data, max_bytes=limits.max_bytes, max_pixels=limits.max_pixels,
                                 max_pages=limits.max_pages)
            # Converted before anything is stored: a file that passes the checks but cannot be made into
            # packet pages or a preview is refused like any other.
            pages = files.packet_pages(item.data, info, print_size_mm=print_size)
            # A PDF's preview is drawn from its packet pages, so it shows what the packet will: the annotations
            # that print and none of the others. An image's preview is what its packet page is made to match.
            preview = files.thumbnail(pages if info.kind == "pdf" else item.data, info)
            prepared.append(Prepared(name, item.data, info, pages, preview))
        except files.Rejected as why:
            refused.append((name, str(why)))
    if refused:
        raise Refused(refused, too_large=any(len(item.data) > limits.max_bytes for item in incoming))
    return prepared


def upload(line: CaseDocument, incoming: Sequence[Incoming], *, limits: Limits, by: User | None = None,
           link: UploadLink | None = None) -> UploadResult:
    """Check every file, then store them all as one revision of the line; any refusal stores nothing."""
    return store(line, prepare(incoming, limits=limits, requirement=requirement_of(line)), by=by, link=link)


def store(line: CaseDocument, prepared: Sequence[Prepared], *, by: User | None = None,
          link: UploadLink | None = None) -> UploadResult:
    """Store checked files as one revision of the line.

    Each file is kept as received, as packet-ready PDF pages and as a thumbnail. Files uploaded before a
    review join the line's current revision; after one, they start a new revision. A file identical to one
    already in the current revision is skipped; one identical to a file elsewhere in the case is kept with a
    notice (not for an applicant's link, which must not learn of the case's other documents).
    """
    result = UploadResult()
    current = {f.sha256: f for f in line.current_files()} if line.state == DocumentState.RECEIVED else {}
    elsewhere = _same_hashes(line, [item.info.sha256 for item in prepared])
    starts_new = line.state != DocumentState.RECEIVED or line.revision == 0
    revision = line.revision + 1 if starts_new else line.revision
    position = 0 if starts_new else max((f.position for f in line.current_files()), default=-1) + 1
    seen: set[str] = set()
    for item in prepared:
        name, info = item.name, item.info
        if info.sha256 in current or info.sha256 in seen:
            result.notices.append(f"{name} is identical to a file already in this version; it was not added again.")
            continue
        seen.add(info.sha256)
        if info.sha256 in elsewhere and link is None:  # a link holder learns nothing of the case's other lines
            other = elsewhere[info.sha256]
            result.notices.append(f"{name} is identical to {other.original_name} under "
                                  f"{requirement_of(other.document).title}.")
        stored = DocumentFile(
            case_document_id=line.id, case_id=line.case_id, revision=revision, position=position,
            original_name=name, kind=info.kind, content_type=info.content_type, size=info.size,
            pages_size=len(item.pages), sha256=info.sha256, page_count=info.page_count, width=info.width,
            height=info.height, uploaded_by_id=by.id if by else None, upload_link_id=link.id if link else None,
            storage_key=filestore.write("uploads", item.data),
            pages_key=filestore.write("pages", item.pages),
            thumbnail_key=filestore.write("thumbnails", item.thumbnail),
        )
        db.session.add(stored)
        result.saved.append(stored)
        position += 1
    if result.saved:
        line.revision = revision
        line.state, line.reason = DocumentState.RECEIVED, ""
        line.reviewed_by_id = line.reviewed_at = None
        line.updated_at = utcnow()
        try:
            db.session.flush()
        except StaleDataError:  # another upload or a review of the same line was saved in between
            raise Conflict("This document changed while your files were being checked. Nothing was saved: "
                           "upload them again.") from None
        audit.record("document.upload", actor=by, obj=line, case_id=line.case_id,
                     actor_label=None if by else f"upload link #{link.id}" if link else None,
                     details={"document": line.requirement_code, "revision": revision,
                              "files": [f.summary() for f in result.saved]})
    return result


def _same_hashes(line: CaseDocument, hashes: list[str]) -> dict[str, DocumentFile]:
    rows = db.session.scalars(
        select(DocumentFile).where(DocumentFile.case_id == line.case_id, DocumentFile.sha256.in_(hashes),
                                   DocumentFile.case_document_id != line.id, DocumentFile.deleted_at.is_(None)))
    return {row.sha256: row for row in rows}


def get_file(case: Case, file_id: int) -> DocumentFile | None:
    """A file of this case, or None: the case's access check covers its files."""
    found = db.session.get(DocumentFile, file_id)
    if found is None or found.case_id != case.id or found.deleted_at is not None:
        return None
    return found


def get_line(case: Case, document_id: int) -> CaseDocument | None:
    found = db.session.get(CaseDocument, document_id)
    return found if found is not None and found.case_id == case.id else None
