"""Applicants: the people a practice files K-visa cases for, with their passport data."""
from __future__ import annotations

import datetime as dt
import enum
from typing import TYPE_CHECKING, Any

from sqlalchemy import Enum, ForeignKey, Integer, String, Text, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import UTCDateTime, db, utcnow

if TYPE_CHECKING:
    from .case import Case


class Sex(enum.StrEnum):
    FEMALE = "F"
    MALE = "M"
    UNSPECIFIED = "X"


def search_form(text: str) -> str:
    """Text as searches compare it: case-folded (Unicode, so MÜLLER finds Müller on every database)
    with runs of whitespace made one space."""
    return " ".join(text.casefold().split())


def search_text_of(family_name: str, given_names: str, chinese_name: str | None, passport_number: str) -> str:
    """What a search looks in, in one column with a trigram index (see SEARCH_INDEX): both name orders, so
    "Wang Mei Brown" and "Brown Wang Mei" match, the Chinese name, and the passport number."""
    names = [f"{given_names} {family_name}", f"{family_name} {given_names}", chinese_name or "", passport_number]
    return "\n".join(search_form(name) for name in names)


class Applicant(db.Model):
    __tablename__ = "applicants"

    id: Mapped[int] = mapped_column(primary_key=True)
    family_name: Mapped[str] = mapped_column(String(100), index=True)
    given_names: Mapped[str] = mapped_column(String(150))
    chinese_name: Mapped[str | None] = mapped_column(String(50))
    sex: Mapped[Sex] = mapped_column(
        Enum(Sex, name="sex", native_enum=False, create_constraint=True, length=1,
             values_callable=lambda e: [m.value for m in e])
    )
    born_on: Mapped[dt.date]
    nationality: Mapped[str] = mapped_column(String(2), index=True)
    residence_country: Mapped[str] = mapped_column(String(2))
    passport_number: Mapped[str] = mapped_column(String(20), index=True)
    passport_issued_on: Mapped[dt.date]
    passport_expires_on: Mapped[dt.date] = mapped_column(index=True)
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(40))
    notes: Mapped[str] = mapped_column(Text, default="")
    search_text: Mapped[str] = mapped_column(Text, default="", server_default="")  # see search_text_of
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(Integer, default=1)

    cases: Mapped[list[Case]] = relationship(back_populates="applicant", order_by="Case.id")

    __mapper_args__ = {"version_id_col": version}

    @property
    def full_name(self) -> str:
        return f"{self.given_names} {self.family_name.upper()}"

    def __repr__(self) -> str:
        return f"<Applicant {self.id}>"


@event.listens_for(Applicant, "before_insert")
@event.listens_for(Applicant, "before_update")
def _refresh_search_text(_mapper: object, _connection: object, applicant: Applicant) -> None:
    # Bulk INSERTs skip this: they set search_text themselves.
    applicant.search_text = search_text_of(applicant.family_name, applicant.given_names, applicant.chinese_name,
                                           applicant.passport_number)


# The trigram index over search_text, so a substring search reads only the rows that can match: a GIN index
# (pg_trgm) on PostgreSQL, which serves `LIKE '%term%'` as it is; an FTS5 trigram table kept in step by
# triggers on SQLite, queried with MATCH. Migration 0008 creates the same (a migration never imports this).
SEARCH_TABLE = "applicants_search"
SEARCH_INDEX = "ix_applicants_search_text_trgm"
SQLITE_SEARCH_DDL = [
    f"CREATE VIRTUAL TABLE {SEARCH_TABLE} USING fts5(search_text, content='applicants', content_rowid='id', "
    "tokenize='trigram')",
    f"CREATE TRIGGER {SEARCH_TABLE}_ai AFTER INSERT ON applicants BEGIN "
    f"INSERT INTO {SEARCH_TABLE}(rowid, search_text) VALUES (new.id, new.search_text); END",
    f"CREATE TRIGGER {SEARCH_TABLE}_ad AFTER DELETE ON applicants BEGIN "
    f"INSERT INTO {SEARCH_TABLE}({SEARCH_TABLE}, rowid, search_text) VALUES ('delete', old.id, old.search_text); END",
    f"CREATE TRIGGER {SEARCH_TABLE}_au AFTER UPDATE OF search_text ON applicants BEGIN "
    f"INSERT INTO {SEARCH_TABLE}({SEARCH_TABLE}, rowid, search_text) VALUES ('delete', old.id, old.search_text); "
    f"INSERT INTO {SEARCH_TABLE}(rowid, search_text) VALUES (new.id, new.search_text); END",
]
POSTGRESQL_SEARCH_DDL = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    f"CREATE INDEX {SEARCH_INDEX} ON applicants USING gin (search_text gin_trgm_ops)",
]


@event.listens_for(Applicant.__table__, "after_create")
def _create_search_index(table: object, connection: Any, **_: object) -> None:
    # For databases made with create_all (the tests); migrated databases get it from revision 0008.
    statements = {"sqlite": SQLITE_SEARCH_DDL, "postgresql": POSTGRESQL_SEARCH_DDL}.get(connection.dialect.name, [])
    for statement in statements:
        connection.exec_driver_sql(statement)


@event.listens_for(Applicant.__table__, "before_drop")
def _drop_search_index(table: object, connection: Any, **_: object) -> None:
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql(f"DROP TABLE IF EXISTS {SEARCH_TABLE}")
