"""A realistic demo practice: an admin, three advisors, about forty applicants, cases in every status,
and the starter institution registry; optionally topped up to thousands of generated cases.

Every hand-made case gets where it is through the real operations, as an advisor would take it there: opened,
its records added, assessed, judged, its documents uploaded and accepted, a final packet exported, then moved
by the workflow, whose guards decide. A case the guards stop stays where it was stopped, so every status is one
the app could have reached, and every planned submission date is still ahead.

Deterministic (a fixed random seed) and idempotent: accounts are found by email, applicants by
passport number and institutions by name and country, so running it again adds nothing.
"""
from __future__ import annotations

import datetime as dt
import io
import random
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, text

from models import (
    Applicant,
    Assessment,
    Case,
    CaseDocument,
    CaseStatus,
    CaseTransition,
    DegreeLevel,
    DocumentState,
    Education,
    Institution,
    Pathway,
    Position,
    PositionRole,
    Role,
    Sex,
    User,
    db,
    utcnow,
)
from models.applicant import search_text_of

from . import (
    accounts,
    applicants,
    assessments,
    audit,
    checklist,
    consulates,
    dates,
    documents,
    institutions,
    isced,
    packets,
    records,
    workflow,
)
from . import eligibility as engine
from .cases import CaseData, open_case, reserve_references
from .errors import DomainError
from .passwords import hash_password

DEFAULT_PASSWORD = "k-visa demo practice"
PRACTICE_DOMAIN = "advisor-demo.example"
STARTER_REGISTRY = Path(__file__).parent / "data" / "institutions.csv"

STAFF = [
    ("lead", "Maria Okafor", Role.ADMIN),
    ("chen.wei", "Chen Wei", Role.ADVISOR),
    ("s.lindqvist", "Sofia Lindqvist", Role.ADVISOR),
    ("r.iyer", "Rahul Iyer", Role.ADVISOR),
]

# family, given, Chinese name, sex, nationality, residence
PEOPLE = [
    ("Müller", "Jonas", None, "M", "DE", "DE"),
    ("Schneider", "Lea Marie", None, "F", "DE", "NL"),
    ("Smith", "Olivia", None, "F", "GB", "GB"),
    ("O'Brien", "Cian", None, "M", "IE", "GB"),
    ("Dubois", "Camille", None, "F", "FR", "FR"),
    ("Rossi", "Lorenzo", None, "M", "IT", "CH"),
    ("García López", "Lucía", None, "F", "ES", "ES"),
    ("Kowalski", "Piotr", None, "M", "PL", "DE"),
    ("Novák", "Tereza", None, "F", "CZ", "CZ"),
    ("Jansen", "Daan", None, "M", "NL", "NL"),
    ("Nilsson", "Elsa", None, "F", "SE", "SE"),
    ("Virtanen", "Aino", None, "F", "FI", "FI"),
    ("Johnson", "Ethan", None, "M", "US", "US"),
    ("Nguyen", "Anh Thu", None, "F", "US", "US"),
    ("Wong", "Kevin", "黄家明", "M", "CA", "CA"),
    ("Tremblay", "Émilie", None, "F", "CA", "CA"),
    ("Silva", "Gabriel", None, "M", "BR", "BR"),
    ("Fernández", "Valentina", None, "F", "AR", "BR"),
    ("Hernández", "Diego", None, "M", "MX", "US"),
    ("Sharma", "Priya", None, "F", "IN", "IN"),
    ("Patel", "Arjun", None, "M", "IN", "GB"),
    ("Rahman", "Nusrat", None, "F", "BD", "BD"),
    ("Khan", "Imran", None, "M", "PK", "PK"),
    ("Perera", "Dilani", None, "F", "LK", "LK"),
    ("Tan", "Wei Ling", "陈慧玲", "F", "SG", "SG"),
    ("Lim", "Jun Jie", "林俊杰", "M", "MY", "SG"),
    ("Lee", "Ji-woo", None, "F", "KR", "KR"),
    ("Sato", "Haruto", None, "M", "JP", "JP"),
    ("Santos", "Maria Clara", None, "F", "PH", "PH"),
    ("Pham", "Minh Quan", None, "M", "VN", "VN"),
    ("Wijaya", "Putri", None, "F", "ID", "ID"),
    ("Saetang", "Narin", None, "M", "TH", "TH"),
    ("Adeyemi", "Tunde", None, "M", "NG", "NG"),
    ("Mwangi", "Wanjiru", None, "F", "KE", "KE"),
    ("Haile", "Selam", None, "F", "ET", "ET"),
    ("Nkosi", "Sipho", None, "M", "ZA", "ZA"),
    ("Haddad", "Rania", None, "F", "EG", "AE"),
    ("Yılmaz", "Emre", None, "M", "TR", "DE"),
    ("Ivanova", "Anastasia", None, "F", "KZ", "KZ"),
    ("Chen", "Michael", "陈志明", "M", "AU", "AU"),
    ("Brown", "Charlotte", None, "F", "NZ", "AU"),
    ("Zhang", "Emily", "张怡", "F", "US", "US"),
]

STATUS_CYCLE = [CaseStatus.INTAKE, CaseStatus.COLLECTING, CaseStatus.COLLECTING, CaseStatus.READY,
                CaseStatus.SUBMITTED, CaseStatus.APPROVED, CaseStatus.REFUSED, CaseStatus.WITHDRAWN]


@dataclass
class Summary:
    users: list[User] = field(default_factory=list)
    applicants: int = 0
    cases: int = 0
    created: int = 0
    institutions: int = 0
    institutions_created: int = 0


def _staff(password: str) -> list[User]:
    people = []
    password_hash = hash_password(password)
    for local, name, role in STAFF:
        email = f"{local}@{PRACTICE_DOMAIN}"
        user = accounts.find_user_by_email(email)
        if user is None:
            user, _ = accounts.create_user(email=email, name=name, role=role, by=None, password=password)
        else:
            user.password_hash = password_hash
        people.append(user)
    return people


@cache
def _consulate_for(residence: str) -> str:
    """The first mission in the country of residence (applicants apply where they live)."""
    in_country = sorted(c.code for c in consulates.all_consulates().values() if c.country == residence)
    return in_country[0] if in_country else "US-WAS"


def _passport(rng: random.Random, nationality: str) -> str:
    letters = "".join(rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(2))
    return f"{letters}{rng.randrange(10**6, 10**7)}"


def seed(*, password: str = DEFAULT_PASSWORD, today: dt.date | None = None, cases: int = 0) -> Summary:
    """Create what is missing of the demo practice, then generate cases until there are `cases` in all
    (see `add_bulk_cases`), and return a summary."""
    today = today or dates.today()
    staff = _staff(password)
    admin, advisors = staff[0], staff[1:]
    rng = random.Random(2025_10_01)
    summary = Summary(users=staff)
    known_before = db.session.scalar(select(db.func.count()).select_from(Institution)) or 0
    _starter_registry(admin)
    for index, (family, given, chinese, sex, nationality, residence) in enumerate(PEOPLE):
        passport = _passport(rng, nationality)
        born = dt.date(1982, 1, 1) + dt.timedelta(days=rng.randrange(0, 21 * 365))
        issued = today - dt.timedelta(days=rng.randrange(30, 9 * 365))
        planned = today + dt.timedelta(days=rng.randrange(20, 150))  # ahead: a passed date blocks the case
        advisor = advisors[index % len(advisors)]
        status = STATUS_CYCLE[index % len(STATUS_CYCLE)]
        if db.session.scalar(select(Applicant.id).where(Applicant.passport_number == passport)):
            continue
        applicant = applicants.create_applicant(applicants.ApplicantData(
            family_name=family, given_names=given, chinese_name=chinese, sex=Sex(sex), born_on=born,
            nationality=nationality, residence_country=residence, passport_number=passport,
            passport_issued_on=issued, passport_expires_on=issued + dt.timedelta(days=10 * 365 - 1),
            email=f"{given.split()[0].lower()}.{index}@example.org", phone=None,
            notes="Demo applicant.",
        ), by=advisor)
        case = open_case(applicant, CaseData(
            consulate_code=_consulate_for(residence),
            planned_submission_on=planned, intended_entry_on=planned + dt.timedelta(days=30), notes="",
        ), advisor=advisor, by=admin)
        _background(applicant, index, random.Random(index), today, by=advisor)  # own draws: idempotent
        _advance(case, status, index, today, by=advisor)
        summary.created += 1
    db.session.flush()
    summary.created += add_bulk_cases(cases, staff=staff, today=today)
    summary.applicants = db.session.scalar(select(db.func.count()).select_from(Applicant)) or 0
    summary.cases = db.session.scalar(select(db.func.count()).select_from(Case)) or 0
    summary.institutions = db.session.scalar(select(db.func.count()).select_from(Institution)) or 0
    summary.institutions_created = summary.institutions - known_before
    # After a bulk load the query planner needs fresh statistics to pick the indexes (SQLite has none
    # until ANALYZE runs: an admin's dashboard at 10,000 cases took 44 ms without them, 22 ms with them).
    db.session.execute(text("ANALYZE"))
    return summary


# (level, ISCED-F field, pending?) by applicant; every seventh has a research position instead.
DEGREES = [("master", "0533", False), ("doctorate", "0613", False), ("bachelor", "0714", False),
           ("master", "0311", False), ("doctorate", "0512", True), ("master", "0541", False),
           ("bachelor", "0732", False), ("master", "0912", False)]
LOCAL_INSTITUTIONS = {"NG": "University of Lagos", "KE": "University of Nairobi", "ET": "Addis Ababa University",
                      "BD": "University of Dhaka", "LK": "University of Colombo", "PH": "University of the Philippines"}


def _institution_for(country: str, rng: random.Random, by: User) -> Institution:
    """A registry institution of the applicant's country, a local one still to be verified, or abroad."""
    if country in LOCAL_INSTITUTIONS:
        name = LOCAL_INSTITUTIONS[country]
        return institutions.find_exact(name) or institutions.add_unverified(name, country, by=by)
    at_home = list(db.session.scalars(select(Institution).where(Institution.country == country,
                                                                Institution.verified.is_(True))
                                      .order_by(Institution.name)))
    if at_home:
        return at_home[rng.randrange(len(at_home))]
    abroad = list(db.session.scalars(select(Institution).where(Institution.verified.is_(True))
                                     .order_by(Institution.name)))
    return abroad[rng.randrange(len(abroad))]


def _background(applicant: Applicant, index: int, rng: random.Random, today: dt.date, *, by: User) -> None:
    institution = _institution_for(applicant.nationality, rng, by)
    level, field_code, pending = DEGREES[index % len(DEGREES)]
    if index % 7 == 6:
        records.add_position(applicant, records.PositionData(
            role=PositionRole.RESEARCH, field_code="0533", institution=institution,
            started_on=today - dt.timedelta(days=rng.randrange(200, 1500)), ended_on=None), by=by)
        return
    if index % 11 == 10:
        return  # nothing recorded yet: the assessment says what is missing
    awarded = None if pending else today - dt.timedelta(days=rng.randrange(300, 3000))
    records.add_education(applicant, records.EducationData(
        level=DegreeLevel(level), field_code=field_code, institution=institution, awarded_on=awarded,
        pending=pending), by=by)


def _starter_registry(admin: User) -> None:
    """Import the starter institution registry, updating what is there."""
    report = institutions.import_csv(STARTER_REGISTRY.read_text(encoding="utf-8"), by=admin)
    if report.errors:
        raise DomainError(f"{STARTER_REGISTRY.name}: " + "; ".join(report.errors))


# Generated cases ------------------------------------------------------------------------------------
# `seed-demo --cases N` is for trying the lists, the dashboard and the export at a practice's real
# size. Rows are written with bulk INSERTs a batch at a time, not through the operations one case at a
# time, so 10,000 cases take seconds. The generated applicants' passport numbers start with "QD" (the
# hand-made ones above never draw a Q): that is how a later run finds them and numbers on.
# Bulk rows skip the operations, so generated cases stay in the statuses no guard protects (intake,
# collecting, withdrawn), each with the transitions that led there; the guarded ones are the hand-made cases'.

GENERATED_PREFIX = "QD"
BATCH = 1000
STATUS_WEIGHTS = {CaseStatus.INTAKE: 20, CaseStatus.COLLECTING: 65, CaseStatus.WITHDRAWN: 15}


@dataclass
class _Generated:
    applicant: dict[str, Any]
    case: dict[str, Any]
    record: dict[str, Any] | None  # a degree (with "level") or a research position (with "role")
    institution: Institution | None
    assessed: bool
    ref: str = ""  # how the assessment's inputs name the record, e.g. "education:3"
    snapshot: dict[str, Any] | None = None


# Demo documents ------------------------------------------------------------------------------------------

SPECIMEN_LIMITS = documents.Limits(max_bytes=25 * 1024 * 1024, max_pixels=60_000_000, max_pages=300)


def _specimen(title: str, case: Case, *, size: tuple[int, int] = (620, 877)) -> bytes:
    """A JPEG that looks like a scanned page and says what it stands for: demo cases show real files."""
    from PIL import Image, ImageDraw

    page = Image.new("RGB", size, (250, 249, 245))
    draw = ImageDraw.Draw(page)
    draw.rectangle((24, 24, size[0] - 24, size[1] - 24), outline=(160, 170, 185), width=3)
    lines = ["SPECIMEN", title, case.applicant.full_name, case.reference, "Demo practice: not a real document"]
    for row, text_line in enumerate(lines):
        draw.text((48, 60 + row * 36), text_line, fill=(40, 50, 70))
    out = io.BytesIO()
    page.save(out, format="JPEG", quality=80)
    return out.getvalue()


def _documents(case: Case, index: int, today: dt.date, *, complete: bool, by: User) -> None:
    """Collect the demo case's documents: all required ones uploaded and accepted (`complete`), or only some
    while collecting (the first accepted, the second waiting for review, the third requested, now overdue)."""
    planned = case.planned_submission_on or today
    for position, line in enumerate(documents.lines_of(case)):
        if not line.required:
            continue
        requirement = documents.requirement_of(line)
        if not complete and position >= 2:
            if position == 2:
                documents.request([line], by=by, due_on=today - dt.timedelta(days=3 + index % 5))
            continue
        size = (413, 531) if line.requirement_code == "photo" else (620, 877)
        documents.upload(line, [documents.Incoming(f"{line.requirement_code}.jpg", _specimen(
            requirement.title, case, size=size))], limits=SPECIMEN_LIMITS, by=by)
        expires_on = planned + dt.timedelta(days=400) if "expires_on" in requirement.fields else None
        if line.requirement_code == "passport":
            expires_on = case.applicant.passport_expires_on
        documents.update_details(line, documents.Details(
            issued_on=today - dt.timedelta(days=20) if "issued_on" in requirement.fields else None,
            expires_on=expires_on, number=f"D{index:03d}{position}" if "number" in requirement.fields else None),
            by=by)
        if complete or position == 0:
            try:
                documents.accept(line, by=by)
            except DomainError:
                pass  # a document the checks refuse stays waiting for review: the dashboard shows it


NOTES = {CaseStatus.WITHDRAWN: "The applicant took up a position elsewhere.",
         CaseStatus.APPROVED: "Visa issued; the applicant collected the passport.",
         CaseStatus.REFUSED: "The consulate refused the application without giving reasons."}


def _advance(case: Case, target: CaseStatus, index: int, today: dt.date, *, by: User) -> None:
    """Take the case towards `target` as an advisor would, through the workflow's guarded moves. Where a guard
    refuses (the applicant is not eligible, a document fails its check), the case stays where it stopped."""
    if target == CaseStatus.INTAKE:
        return
    workflow.move(case, CaseStatus.COLLECTING, by=by)
    assessment = assessments.run(case, by=by, on=today)
    if target in (CaseStatus.COLLECTING, CaseStatus.WITHDRAWN):
        _documents(case, index, today, complete=False, by=by)
        if target == CaseStatus.WITHDRAWN:
            workflow.move(case, target, by=by, note=NOTES[target])
        return
    for criterion in assessments.open_judgements(assessment):
        assessments.judge(assessment, criterion.code, engine.PASS,
                          "Checked against the institution's published ranking and the applicant's record.",
                          by=by)
    _documents(case, index, today, complete=True, by=by)
    try:
        workflow.move(case, CaseStatus.READY, by=by)
        if target == CaseStatus.READY:
            return
        packets.export_final(case, by=by)
        workflow.move(case, CaseStatus.SUBMITTED, by=by, note="Filed at the consulate.")
        if target != CaseStatus.SUBMITTED:
            workflow.move(case, target, by=by, note=NOTES[target])
    except workflow.Blocked:
        return


def add_bulk_cases(target: int, *, staff: list[User], today: dt.date) -> int:
    """Add generated applicants, one case each, until there are `target` cases; return how many.

    Each gets a degree or a research position (or nothing yet) and, once past intake, an assessment by
    the engine, so statuses and outcomes spread as in a real practice, and a document checklist whose
    lines' states fit the status (about eight lines a case; no files).
    """
    missing = target - (db.session.scalar(select(func.count()).select_from(Case)) or 0)
    if missing <= 0:
        return 0
    admin, advisors = staff[0], staff[1:]
    start = db.session.scalar(select(func.count()).select_from(Applicant)
                              .where(Applicant.passport_number.startswith(GENERATED_PREFIX))) or 0
    pool = _institution_pool(admin)
    rules = assessments.current_rule_set(today)
    references = reserve_references(today.year, missing)
    now = utcnow()
    for first in range(0, missing, BATCH):
        batch = [_generate(start + offset, references[offset], advisors, pool, today, now)
                 for offset in range(first, min(first + BATCH, missing))]
        _insert(batch, rules, today, by=admin)
    audit.record("demo.generate", actor=None, details={"cases": missing, "from": references[0],
                                                       "to": references[-1]})
    return missing


def _institution_pool(by: User) -> dict[str, list[Institution]]:
    """Institutions by country ("" for all): verified ones, or the local one still to be verified."""
    verified = list(db.session.scalars(select(Institution).where(Institution.verified.is_(True))
                                       .order_by(Institution.name)))
    pool: dict[str, list[Institution]] = {"": verified}
    for institution in verified:
        pool.setdefault(institution.country, []).append(institution)
    for country, name in LOCAL_INSTITUTIONS.items():
        pool[country] = [institutions.find_exact(name) or institutions.add_unverified(name, country, by=by)]
    return pool


def _generate(index: int, reference: str, advisors: list[User], pool: dict[str, list[Institution]],
              today: dt.date, now: dt.datetime) -> _Generated:
    rng = random.Random(f"generated-{index}")
    family, _, chinese, _, nationality, residence = PEOPLE[rng.randrange(len(PEOPLE))]
    _, given, _, sex, _, _ = PEOPLE[rng.randrange(len(PEOPLE))]
    status = rng.choices(list(STATUS_WEIGHTS), weights=list(STATUS_WEIGHTS.values()))[0]
    issued = today - dt.timedelta(days=rng.randrange(30, 9 * 365))
    planned = today + dt.timedelta(days=rng.randrange(20, 150))
    idle_days = rng.uniform(0, 60) if status.is_open else rng.uniform(10, 400)
    updated = now - dt.timedelta(days=idle_days)
    created = updated - dt.timedelta(days=rng.uniform(0, 180))
    advisor = advisors[index % len(advisors)]
    applicant = dict(
        family_name=family, given_names=given, chinese_name=chinese, sex=Sex(sex),
        born_on=dt.date(1980, 1, 1) + dt.timedelta(days=rng.randrange(0, 25 * 365)),
        nationality=nationality, residence_country=residence, passport_number=f"{GENERATED_PREFIX}{index:07d}",
        passport_issued_on=issued, passport_expires_on=issued + dt.timedelta(days=10 * 365 - 1),
        email=f"{given.split()[0].lower()}.{index}@example.org", phone=None, notes="",
        search_text=search_text_of(family, given, chinese, f"{GENERATED_PREFIX}{index:07d}"),
        created_by_id=advisor.id, created_at=created, updated_at=created,
    )
    case = dict(
        reference=reference, advisor_id=advisor.id, status=status, consulate_code=_consulate_for(residence),
        pathway=Pathway.RESEARCH if index % 11 != 10 and index % 7 == 6 else Pathway.DEGREE,
        planned_submission_on=planned, intended_entry_on=planned + dt.timedelta(days=30), notes="",
        created_by_id=advisor.id, created_at=created, updated_at=updated,
    )
    record, institution = None, None
    if index % 11 != 10:  # as above: now and then nothing is recorded yet
        candidates = pool.get(nationality) or pool[""]
        institution = candidates[rng.randrange(len(candidates))]
        if index % 7 == 6:
            record = dict(role=PositionRole.RESEARCH, field_code="0533", institution_id=institution.id,
                          started_on=today - dt.timedelta(days=rng.randrange(200, 1500)), ended_on=None)
        else:
            level, field_code, pending = DEGREES[index % len(DEGREES)]
            record = dict(level=DegreeLevel(level), field_code=field_code, institution_id=institution.id,
                          pending=pending,
                          awarded_on=None if pending else today - dt.timedelta(days=rng.randrange(300, 3000)))
    assessed = status != CaseStatus.INTAKE and not (status == CaseStatus.COLLECTING and rng.random() < 0.2)
    return _Generated(applicant=applicant, case=case, record=record, institution=institution, assessed=assessed)


def _insert(batch: list[_Generated], rules: engine.RuleSet, today: dt.date, *, by: User) -> None:
    """Write one batch: applicants, their degrees and positions, cases, then assessments (whose evidence
    names the records' ids, and whose outcome the case keeps)."""
    ids = db.session.scalars(insert(Applicant).returning(Applicant.id, sort_by_parameter_order=True),
                             [g.applicant for g in batch]).all()
    for generated, applicant_id in zip(batch, ids, strict=True):
        generated.case["applicant_id"] = applicant_id
        if generated.record is not None:
            generated.record["applicant_id"] = applicant_id
    for model, key, kind in ((Education, "level", "education"), (Position, "role", "position")):
        chosen = [g for g in batch if g.record is not None and key in g.record]
        if chosen:
            record_ids = db.session.scalars(insert(model).returning(model.id, sort_by_parameter_order=True),
                                            [g.record for g in chosen]).all()
            for generated, record_id in zip(chosen, record_ids, strict=True):
                generated.ref = f"{kind}:{record_id}"
    for generated in batch:
        generated.case["outcome"] = generated.case["rule_set_id"] = None
        if generated.assessed:
            generated.snapshot = assessments.snapshot(_inputs(generated), rules, today)
            generated.case["outcome"], generated.case["rule_set_id"] = generated.snapshot["outcome"], rules.id
    case_ids = db.session.scalars(insert(Case).returning(Case.id, sort_by_parameter_order=True),
                                  [g.case for g in batch]).all()
    rows = [{**g.snapshot, "case_id": case_id, "created_by_id": g.case["advisor_id"],
             "created_at": g.case["updated_at"]}
            for g, case_id in zip(batch, case_ids, strict=True) if g.snapshot is not None]
    if rows:
        db.session.execute(insert(Assessment), rows)
    db.session.execute(insert(CaseDocument), [line for g, case_id in zip(batch, case_ids, strict=True)
                                              for line in _bulk_checklist(g, case_id, today)])
    moves = [move for g, case_id in zip(batch, case_ids, strict=True) for move in _bulk_transitions(g, case_id)]
    if moves:
        db.session.execute(insert(CaseTransition), moves)


def _bulk_transitions(generated: _Generated, case_id: int) -> list[dict[str, Any]]:
    """The workflow moves that took a generated case to its status (none of them guarded)."""
    case = generated.case
    path = {CaseStatus.INTAKE: [], CaseStatus.COLLECTING: [(CaseStatus.INTAKE, CaseStatus.COLLECTING)],
            CaseStatus.WITHDRAWN: [(CaseStatus.INTAKE, CaseStatus.COLLECTING),
                                   (CaseStatus.COLLECTING, CaseStatus.WITHDRAWN)]}[case["status"]]
    return [dict(case_id=case_id, from_status=before, to_status=after, by_id=case["advisor_id"],
                 note=NOTES.get(after, ""), at=case["created_at"] if after == CaseStatus.COLLECTING
                 else case["updated_at"]) for before, after in path]


COLLECTING_STATES = {DocumentState.MISSING: 3, DocumentState.REQUESTED: 3, DocumentState.RECEIVED: 2,
                     DocumentState.ACCEPTED: 5, DocumentState.REJECTED: 1}


def _bulk_checklist(generated: _Generated, case_id: int, today: dt.date) -> list[dict[str, Any]]:
    """The case's checklist lines, in states that fit its status (no files: lists and counts only)."""
    case, applicant = generated.case, generated.applicant
    rng = random.Random(f"documents-{case['reference']}")
    lines = []
    for needed in checklist.requirements_for(
            pathway=case["pathway"].value, nationality=applicant["nationality"],
            residence_country=applicant["residence_country"], consulate_code=case["consulate_code"]):
        if case["status"] == CaseStatus.INTAKE or not needed.required:
            state = DocumentState.MISSING
        else:
            state = rng.choices(list(COLLECTING_STATES), weights=list(COLLECTING_STATES.values()))[0]
        lines.append(dict(
            case_id=case_id, requirement_code=needed.requirement.code, required=needed.required, applies=True,
            position=needed.position, state=state, revision=0,
            reason="The scan is unreadable: please scan it again." if state == DocumentState.REJECTED else "",
            request_due_on=today + dt.timedelta(days=rng.randrange(-14, 21))
            if state == DocumentState.REQUESTED else None,
            updated_at=case["updated_at"],
        ))
    return lines


def _inputs(generated: _Generated) -> engine.Inputs:
    born_on, record = generated.applicant["born_on"], generated.record
    if record is None or generated.institution is None:
        return engine.Inputs(born_on=born_on)
    institution = assessments.institution_input(generated.institution)
    name = isced.name(record["field_code"])
    if "role" in record:
        return engine.Inputs(born_on=born_on, positions=(engine.Position(
            role=record["role"].value, field_code=record["field_code"], field_name=name, institution=institution,
            started_on=record["started_on"], ended_on=None, ref=generated.ref),))
    return engine.Inputs(born_on=born_on, education=(engine.Education(
        level=record["level"].value, field_code=record["field_code"], field_name=name, institution=institution,
        awarded_on=record["awarded_on"], pending=record["pending"], ref=generated.ref),))
