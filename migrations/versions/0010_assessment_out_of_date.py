"""Eligibility: a flag on cases whose latest assessment no longer matches the applicant's records.

The operations that change the evidence keep the flag; the dashboard finds the flagged cases by index.
Cases assessed before this revision start unflagged: their next change of evidence sets the flag, and the
case page and the readiness check compare the snapshot with the records themselves meanwhile.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 00:45:31.283147

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('assessment_out_of_date', sa.Boolean(), server_default=sa.false(),
                                      nullable=False))
        batch_op.create_index('ix_cases_assessment_out_of_date', ['assessment_out_of_date'], unique=False)


def downgrade():
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index('ix_cases_assessment_out_of_date')
        batch_op.drop_column('assessment_out_of_date')
