"""Typed SQLAlchemy 2 models and the `db` object."""
from .applicant import Applicant, Sex
from .audit import AuditEvent
from .base import db, utcnow
from .case import Case, CaseStatus, ReferenceCounter
from .user import LoginThrottle, PasswordLink, Role, User

__all__ = [
    "Applicant", "AuditEvent", "Case", "CaseStatus", "LoginThrottle", "PasswordLink",
    "ReferenceCounter", "Role", "Sex", "User", "db", "utcnow",
]
