"""Search: the passport number joins the search text, which gets a trigram index.

PostgreSQL: pg_trgm and a GIN index, which serves `LIKE '%term%'` as it is. SQLite: an FTS5 table with the
trigram tokenizer, kept in step with applicants by triggers. As models/applicant.py declares at this revision.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 23:10:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

SQLITE = [
    "CREATE VIRTUAL TABLE applicants_search USING fts5(search_text, content='applicants', content_rowid='id', "
    "tokenize='trigram')",
    "CREATE TRIGGER applicants_search_ai AFTER INSERT ON applicants BEGIN "
    "INSERT INTO applicants_search(rowid, search_text) VALUES (new.id, new.search_text); END",
    "CREATE TRIGGER applicants_search_ad AFTER DELETE ON applicants BEGIN "
    "INSERT INTO applicants_search(applicants_search, rowid, search_text) VALUES ('delete', old.id, old.search_text); END",
    "CREATE TRIGGER applicants_search_au AFTER UPDATE OF search_text ON applicants BEGIN "
    "INSERT INTO applicants_search(applicants_search, rowid, search_text) VALUES ('delete', old.id, old.search_text); "
    "INSERT INTO applicants_search(rowid, search_text) VALUES (new.id, new.search_text); END",
    "INSERT INTO applicants_search(applicants_search) VALUES ('rebuild')",
]
POSTGRESQL = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX ix_applicants_search_text_trgm ON applicants USING gin (search_text gin_trgm_ops)",
]


def upgrade():
    dialect = op.get_bind().dialect.name
    newline = "char(10)" if dialect == "sqlite" else "chr(10)"
    # Passport numbers are stored upper-case ASCII, so lower() gives the search form on every database.
    op.execute(f"UPDATE applicants SET search_text = search_text || {newline} || lower(passport_number)")
    for statement in {"sqlite": SQLITE, "postgresql": POSTGRESQL}.get(dialect, []):
        op.execute(statement)


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for name in ("applicants_search_au", "applicants_search_ad", "applicants_search_ai"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS applicants_search")
        op.execute("UPDATE applicants SET search_text = substr(search_text, 1, length(search_text) - "
                   "length(passport_number) - 1)")
    elif dialect == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_applicants_search_text_trgm")
        op.execute("UPDATE applicants SET search_text = left(search_text, length(search_text) - "
                   "length(passport_number) - 1)")
