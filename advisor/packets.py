"""Submission packets of a case: drafts any time, finals only when nothing blocks the case.

A final is stored immutably through the storage backend with its SHA-256, size, page count and manifest,
and remembers the fingerprint of the case it was built from; when the case changes afterwards, the packet is
stale and the case cannot be submitted until a new final is exported.

The eligibility page states each criterion as the practice asserts it to the consulate: met, with its evidence
and exhibits, and where the advisor's judgement settled it, the judgement's note as the reasoning. The engine's
own doubts (unknown results, rule statuses) stay on the advisor's pages. The advisor may leave the page out;
the final's manifest records whether it is in.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import current_app, render_template
from sqlalchemy import func, select

from models import Assessment, Case, CaseDocument, DocumentFile, DocumentState, Packet, User, db, utcnow

from . import assessments, audit, consulates, dates, documents, filestore, records
from . import eligibility as engine
from .errors import DomainError
from .packet_pdf import Built, Exhibit, Meta, Placed, build

Progress = Callable[..., None]  # progress("what is happening now"): shown while a background export runs


class NotReady(DomainError):
    """A final packet was asked for while problems block the case."""

    def __init__(self, problems: list[Any]) -> None:
        self.problems = problems
        super().__init__("A final packet needs a case with nothing blocking it: "
                         + " ".join(problem.message for problem in problems) + " A draft can be exported any time.")


class Damaged(Exception):
    """A stored final packet whose bytes are not the ones recorded when it was exported."""

    def __init__(self, packet: Packet) -> None:
        self.packet = packet
        super().__init__(f"The stored file of packet {packet.number} is not the one that was exported: its SHA-256 "
                         f"differs from the one recorded. It was not handed out.")


def accepted_lines(case: Case) -> list[tuple[CaseDocument, list[DocumentFile]]]:
    """The exhibits: accepted lines that apply, in packet order, with their current files."""
    return [(line, line.current_files()) for line in documents.lines_of(case)
            if line.applies and line.state == DocumentState.ACCEPTED and line.current_files()]


def fingerprint(case: Case) -> str:
    """A hash of everything a packet prints or holds; any change to it makes earlier packets stale."""
    applicant = case.applicant
    latest = assessments.latest(case)
    state = {
        "case": [case.reference, case.consulate_code, case.pathway.value, str(case.planned_submission_on),
                 str(case.intended_entry_on), case.advisor_id],
        "applicant": [applicant.family_name, applicant.given_names, applicant.chinese_name, applicant.sex.value,
                      str(applicant.born_on), applicant.nationality, applicant.residence_country,
                      applicant.passport_number, str(applicant.passport_issued_on),
                      str(applicant.passport_expires_on)],
        "records": [[r.id, r.version, r.institution.name]
                    for r in [*records.education_of(applicant), *records.positions_of(applicant)]],
        "assessment": [latest.id, sorted((j.criterion, j.decision, j.note) for j in latest.judgements)]
        if latest else None,
        "exhibits": [[line.requirement_code, line.revision, [f.id for f in files]]
                     for line, files in accepted_lines(case)],
    }
    return hashlib.sha256(json.dumps(state, sort_keys=True, default=str).encode()).hexdigest()


def _exhibits(case: Case) -> list[Exhibit]:
    store = filestore.current()
    found = []
    for line, files in accepted_lines(case):
        requirement = documents.requirement_of(line)
        found.append(Exhibit(
            title=requirement.title, title_zh=requirement.title_zh, code=line.requirement_code,
            pdfs=tuple(store.get(f.pages_key) for f in files), page_counts=tuple(f.page_count for f in files),
            files=tuple({"file_id": f.id, "name": f.original_name, "sha256": f.sha256, "revision": f.revision,
                         "pages": f.page_count} for f in files)))
    return found


@dataclass(frozen=True)
class Asserted:
    """One criterion as the packet states it."""

    title: str
    state: str  # "met", "not_met", or "open" (a draft of a case whose assessment is not settled yet)
    statement: str  # the fact asserted, for a criterion the rules settled
    reasoning: str  # the advisor's note, for a criterion a judgement settled
    evidence: tuple[str, ...]
    documents: tuple[str, ...]


def asserted_criteria(assessment: Assessment) -> list[Asserted]:
    """The criteria of an assessment as the practice asserts them: settled by the rules (the statement) or
    by the advisor's judgement (its note), never the engine's unknowns or its rules' statuses."""
    judgements = {j.criterion: j for j in assessment.judgements}
    rows = []
    for criterion in assessments.criteria_of(assessment):
        judgement = judgements.get(criterion.code) if criterion.needs_judgement else None
        decided = judgement.decision if judgement else None if criterion.needs_judgement else criterion.result
        state = {engine.PASS: "met", engine.FAIL: "not_met"}.get(decided or "", "open")
        statement = ""
        if state == "met" and judgement is None:
            # Snapshots made before statements existed: the evidence alone, which names no rule status.
            statement = criterion.statement or "; ".join(criterion.evidence) or criterion.title
        rows.append(Asserted(title=criterion.title, state=state, statement=statement,
                             reasoning=judgement.note if judgement else "", evidence=criterion.evidence,
                             documents=criterion.documents))
    return rows


def _html_for(case: Case, *, draft: bool, cover_letter: str, eligibility_page: bool):  # type: ignore[no-untyped-def]
    applicant = case.applicant
    latest = assessments.latest(case)
    context = dict(
        case=case, applicant=applicant, draft=draft, cover_letter=cover_letter.strip(),
        consulate=consulates.get(case.consulate_code), practice=current_app.config["PRACTICE_NAME"],
        today=dates.today(), assessment=latest, eligibility_page=eligibility_page,
        asserted=asserted_criteria(latest) if latest else [],
        final=assessments.final_outcome(latest) if latest else None,
        education=records.education_of(applicant), positions=records.positions_of(applicant),
    )

    def html(placed: list[Placed], front_pages: int) -> str:
        by_code = {item.exhibit.code: item.number for item in placed}

        def exhibit_numbers(codes: list[str]) -> list[int]:
            return sorted({by_code[code] for code in codes if code in by_code})

        return render_template("packets/front.html", placed=placed, front_pages=front_pages,
                               total_pages=front_pages + sum(item.exhibit.pages for item in placed),
                               exhibit_numbers=exhibit_numbers, **context)

    return html


def _quiet(step: str, **extra: Any) -> None:
    pass


def build_packet(case: Case, *, draft: bool, cover_letter: str = "", eligibility_page: bool = True,
                 progress: Progress = _quiet) -> Built:
    """The packet PDF of the case as it is now (nothing stored); `eligibility_page=False` leaves that page out."""
    progress("Collecting the accepted documents")
    exhibits = _exhibits(case)
    meta = Meta(reference=case.reference, title=f"{case.reference} K visa submission packet",
                author=f"{case.advisor.name}, {current_app.config['PRACTICE_NAME']}",
                subject=f"K visa application of {case.applicant.full_name}", created_at=utcnow(), draft=draft)
    # Cover, index, applicant, eligibility: one page each, plus the cover letter; a long index re-renders.
    estimate = (3 + (1 if eligibility_page else 0) + (1 if cover_letter.strip() else 0)
                + max(0, len(exhibits) - 20) // 30)
    return build(_html_for(case, draft=draft, cover_letter=cover_letter, eligibility_page=eligibility_page),
                 render_template("packets/packet.css"), exhibits, meta, estimate=estimate, progress=progress)


def export_draft(case: Case, *, by: User, cover_letter: str = "", eligibility_page: bool = True) -> Built:
    built = build_packet(case, draft=True, cover_letter=cover_letter, eligibility_page=eligibility_page)
    record_draft(case, built, by=by, eligibility_page=eligibility_page)
    return built


def record_draft(case: Case, built: Built, *, by: User | None, eligibility_page: bool = True) -> None:
    audit.record("packet.draft", actor=by, obj=case, case_id=case.id,
                 details={"pages": built.page_count, "sha256": built.sha256, "eligibility_page": eligibility_page})


def build_final(case: Case, *, cover_letter: str = "", eligibility_page: bool = True,
                progress: Progress = _quiet) -> tuple[Built, str]:
    """A final packet of the case as it is now, and the fingerprint of that state; refused (NotReady) while
    the readiness check finds problems. Only reads: a view runs it in a read-only transaction."""
    from . import readiness

    problems = readiness.problems(case, packets=False)
    if problems:
        raise NotReady(problems)
    state = fingerprint(case)
    return build_packet(case, draft=False, cover_letter=cover_letter, eligibility_page=eligibility_page,
                        progress=progress), state


def record_final(case: Case, built: Built, state: str, *, by: User | None, cover_letter: str = "",
                 eligibility_page: bool = True, progress: Progress = _quiet) -> Packet:
    """Store a built final immutably and list it on the case. `state` is the fingerprint it was built from:
    should the case have changed since, the packet shows as stale at once. The manifest records whether the
    eligibility page is in."""
    progress("Storing the packet")
    number = (db.session.scalar(select(func.max(Packet.number)).where(Packet.case_id == case.id)) or 0) + 1
    packet = Packet(case_id=case.id, number=number, storage_key=filestore.write("packets", built.pdf),
                    sha256=built.sha256, size=len(built.pdf), page_count=built.page_count, fingerprint=state,
                    manifest={**built.manifest(), "eligibility_page": eligibility_page},
                    cover_letter=cover_letter.strip(), created_by_id=by.id if by else None)
    db.session.add(packet)
    db.session.flush()
    audit.record("packet.final", actor=by, obj=packet, case_id=case.id,
                 details={"number": number, "pages": built.page_count, "size": packet.size, "sha256": built.sha256,
                          "eligibility_page": eligibility_page})
    return packet


def export_final(case: Case, *, by: User | None, cover_letter: str = "", eligibility_page: bool = True,
                 progress: Progress = _quiet) -> Packet:
    """Build, store and record a final packet in one go (the command line; views split the two)."""
    built, state = build_final(case, cover_letter=cover_letter, eligibility_page=eligibility_page, progress=progress)
    return record_final(case, built, state, by=by, cover_letter=cover_letter, eligibility_page=eligibility_page,
                        progress=progress)


def packets_of(case: Case) -> list[Packet]:
    return list(db.session.scalars(select(Packet).where(Packet.case_id == case.id).order_by(Packet.number.desc())))


def latest_final(case: Case) -> Packet | None:
    return db.session.scalar(select(Packet).where(Packet.case_id == case.id).order_by(Packet.number.desc()).limit(1))


def is_stale(packet: Packet, case: Case) -> bool:
    return packet.fingerprint != fingerprint(case)


def get_packet(case: Case, packet_id: int) -> Packet | None:
    found = db.session.get(Packet, packet_id)
    return found if found is not None and found.case_id == case.id else None


def recorded_since(case: Case, since: dt.datetime, *, by: User | None, cover_letter: str) -> Packet | None:
    """The final packet of the case this user recorded since `since` with this cover letter, if any: what a
    retried background export looks for, so a worker that died after recording one does not cause a second."""
    return db.session.scalar(
        select(Packet).where(Packet.case_id == case.id, Packet.created_at >= since,
                             Packet.created_by_id == (by.id if by else None),
                             Packet.cover_letter == cover_letter.strip())
        .order_by(Packet.number.desc()).limit(1))


def read_final(packet: Packet, *, by: User | None) -> bytes:
    """The stored PDF of a final packet, only if its SHA-256 and size are those recorded at the export.
    Otherwise the refusal is audited (`packet.damaged`, for the caller to commit) and Damaged raised: bytes
    changed since — by a disk fault, a hand on the storage, a tampered backup — are never served as the packet."""
    data = filestore.current().get(packet.storage_key)
    found = hashlib.sha256(data).hexdigest()
    if found != packet.sha256 or len(data) != packet.size:
        audit.record("packet.damaged", actor=by, obj=packet, case_id=packet.case_id,
                     details={"number": packet.number, "recorded_sha256": packet.sha256, "found_sha256": found,
                              "recorded_size": packet.size, "found_size": len(data)})
        raise Damaged(packet)
    return data
