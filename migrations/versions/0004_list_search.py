"""List search and scale: applicants' search text, and indexes for an advisor's cases and applicants.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 21:39:32.271475

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def _search_form(text):
    return " ".join(text.casefold().split())


def _search_text(family_name, given_names, chinese_name):
    # As models.applicant.search_text_of computes it at this revision.
    names = [f"{given_names} {family_name}", f"{family_name} {given_names}", chinese_name or ""]
    return "\n".join(_search_form(name) for name in names)


def upgrade():
    with op.batch_alter_table('applicants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('search_text', sa.Text(), server_default='', nullable=False))

    applicants = sa.table('applicants', sa.column('id', sa.Integer), sa.column('family_name', sa.String),
                          sa.column('given_names', sa.String), sa.column('chinese_name', sa.String),
                          sa.column('search_text', sa.Text))
    connection = op.get_bind()
    rows = connection.execute(sa.select(applicants.c.id, applicants.c.family_name, applicants.c.given_names,
                                        applicants.c.chinese_name)).all()
    if rows:
        connection.execute(
            applicants.update().where(applicants.c.id == sa.bindparam('applicant_id'))
            .values(search_text=sa.bindparam('text')),
            [{'applicant_id': row.id, 'text': _search_text(row.family_name, row.given_names, row.chinese_name)}
             for row in rows],
        )

    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cases_advisor_id'))
        batch_op.drop_index(batch_op.f('ix_cases_applicant_id'))
        batch_op.create_index('ix_cases_advisor_id_updated_at', ['advisor_id', 'updated_at'], unique=False)
        batch_op.create_index('ix_cases_applicant_id_advisor_id', ['applicant_id', 'advisor_id'], unique=False)


def downgrade():
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index('ix_cases_applicant_id_advisor_id')
        batch_op.drop_index('ix_cases_advisor_id_updated_at')
        batch_op.create_index(batch_op.f('ix_cases_applicant_id'), ['applicant_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_advisor_id'), ['advisor_id'], unique=False)

    # Not in a batch: on SQLite that copies the table, which the cases' foreign keys refuse once
    # there are rows. SQLite (3.35+) and PostgreSQL both drop a column in place.
    op.drop_column('applicants', 'search_text')
