"""Index the planned submission date: the dashboard bounds its passport check by the latest one.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 22:08:47.055915

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cases_planned_submission_on'), ['planned_submission_on'], unique=False)



def downgrade():
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cases_planned_submission_on'))

