"""Dashboard: indexes for an advisor's cases by rule set, and for the counts by status.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 00:11:24.070007

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index('ix_cases_advisor_id_rule_set_id', ['advisor_id', 'rule_set_id'], unique=False)
        batch_op.create_index('ix_cases_advisor_id_deleted_at_status', ['advisor_id', 'deleted_at', 'status'],
                              unique=False)
        batch_op.create_index('ix_cases_status_deleted_at_updated_at', ['status', 'deleted_at', 'updated_at'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index('ix_cases_status_deleted_at_updated_at')
        batch_op.drop_index('ix_cases_advisor_id_deleted_at_status')
        batch_op.drop_index('ix_cases_advisor_id_rule_set_id')

