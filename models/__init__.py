"""Typed SQLAlchemy 2 models and the `db` object."""
from .applicant import Applicant, Sex
from .audit import AuditEvent
from .base import db, utcnow
from .case import Case, CaseStatus, CaseTransition, Pathway, ReferenceCounter, Task
from .document import CaseDocument, DocumentFile, DocumentState, UploadLink
from .eligibility import Assessment, DegreeLevel, Education, Institution, Judgement, Position, PositionRole
from .packet import Packet
from .user import LoginThrottle, PasswordLink, Role, User

__all__ = [
    "Applicant", "Assessment", "AuditEvent", "Case", "CaseDocument", "CaseStatus", "CaseTransition", "DegreeLevel",
    "DocumentFile", "DocumentState", "Education", "Institution", "Judgement", "LoginThrottle", "Packet", "PasswordLink",
    "Pathway", "Position", "PositionRole", "ReferenceCounter", "Role", "Sex", "Task", "UploadLink", "User", "db",
    "utcnow",
]
