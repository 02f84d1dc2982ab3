"""Typed SQLAlchemy 2 models and the `db` object."""
from .applicant import Applicant, Sex
from .audit import AuditEvent
from .base import db, utcnow
from .case import Case, CaseStatus, CaseTransition, ReferenceCounter, Task
from .eligibility import Assessment, DegreeLevel, Education, Institution, Judgement, Position, PositionRole
from .user import LoginThrottle, PasswordLink, Role, User

__all__ = [
    "Applicant", "Assessment", "AuditEvent", "Case", "CaseStatus", "CaseTransition", "DegreeLevel", "Education",
    "Institution", "Judgement", "LoginThrottle", "PasswordLink", "Position", "PositionRole", "ReferenceCounter",
    "Role", "Sex", "Task", "User", "db", "utcnow",
]
