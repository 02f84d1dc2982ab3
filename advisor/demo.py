"""A realistic demo practice: an admin, three advisors, about forty applicants, cases in every status,
and the starter institution registry.

Deterministic (a fixed random seed) and idempotent: accounts are found by email, applicants by
passport number and institutions by name and country, so running it again adds nothing.
"""
from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from models import Applicant, Case, CaseStatus, DegreeLevel, Institution, PositionRole, Role, Sex, User, db

from . import accounts, applicants, assessments, cases, consulates, institutions, records
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


def _consulate_for(residence: str) -> str:
    """The first mission in the country of residence (applicants apply where they live)."""
    in_country = sorted(c.code for c in consulates.all_consulates().values() if c.country == residence)
    return in_country[0] if in_country else "US-WAS"


def _passport(rng: random.Random, nationality: str) -> str:
    letters = "".join(rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(2))
    return f"{letters}{rng.randrange(10**6, 10**7)}"


def seed(*, password: str = DEFAULT_PASSWORD, today: dt.date | None = None) -> Summary:
    """Create what is missing of the demo practice and return a summary."""
    today = today or dt.date.today()
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
        planned = today + dt.timedelta(days=rng.randrange(-60, 120))
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
        case = cases.open_case(applicant, cases.CaseData(
            consulate_code=_consulate_for(residence),
            planned_submission_on=planned, intended_entry_on=planned + dt.timedelta(days=30), notes="",
        ), advisor=advisor, by=admin)
        # The demo shows every status; real cases move only through the workflow's guarded steps.
        case.status = status
        _background(applicant, index, random.Random(index), today, by=advisor)  # own draws: idempotent
        if status != CaseStatus.INTAKE:
            assessments.run(case, by=advisor, on=today)
        summary.created += 1
    db.session.flush()
    summary.applicants = db.session.scalar(select(db.func.count()).select_from(Applicant)) or 0
    summary.cases = db.session.scalar(select(db.func.count()).select_from(Case)) or 0
    summary.institutions = db.session.scalar(select(db.func.count()).select_from(Institution)) or 0
    summary.institutions_created = summary.institutions - known_before
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
