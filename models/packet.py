"""Submission packets: final exports kept immutably, with what went into them."""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import UTCDateTime, db, utcnow
from .case import Case
from .user import User


class Packet(db.Model):
    """A final packet as exported: the stored PDF, its hash, size and pages, and a manifest of every file
    version it holds at which packet pages. Rows are only ever added; `fingerprint` is the case's state it
    was built from, so a later change shows the packet as stale."""

    __tablename__ = "packets"
    __table_args__ = (UniqueConstraint("case_id", "number", name="uq_packets_case_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)  # 1, 2, … per case
    storage_key: Mapped[str] = mapped_column(String(200), unique=True)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    page_count: Mapped[int] = mapped_column(Integer)
    fingerprint: Mapped[str] = mapped_column(String(64))
    manifest: Mapped[dict[str, Any]] = mapped_column(JSON)
    cover_letter: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    case: Mapped[Case] = relationship()
    created_by: Mapped[User | None] = relationship()

    @property
    def filename(self) -> str:
        return f"{self.case.reference}-packet-{self.number}.pdf"
