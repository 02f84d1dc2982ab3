"""Workflow: case transitions, tasks, the case's eligibility summary and indexes for list filters.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 21:28:51.767604

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('case_transitions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('from_status', sa.Enum('intake', 'collecting', 'ready', 'submitted', 'approved', 'refused', 'withdrawn', name='transition_from', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('to_status', sa.Enum('intake', 'collecting', 'ready', 'submitted', 'approved', 'refused', 'withdrawn', name='transition_to', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('by_id', sa.Integer(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['by_id'], ['users.id'], name=op.f('fk_case_transitions_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_transitions_case_id_cases'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_transitions'))
    )
    with op.batch_alter_table('case_transitions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_transitions_case_id'), ['case_id'], unique=False)

    op.create_table('tasks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=True),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('done_by_id', sa.Integer(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_tasks_case_id_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_tasks_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['done_by_id'], ['users.id'], name=op.f('fk_tasks_done_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tasks'))
    )
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tasks_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_tasks_due_on'), ['due_on'], unique=False)

    with op.batch_alter_table('applicants', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_applicants_nationality'), ['nationality'], unique=False)
        batch_op.create_index(batch_op.f('ix_applicants_passport_expires_on'), ['passport_expires_on'], unique=False)

    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('outcome', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('rule_set_id', sa.String(length=32), nullable=True))
        batch_op.create_index(batch_op.f('ix_cases_outcome'), ['outcome'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_rule_set_id'), ['rule_set_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_updated_at'), ['updated_at'], unique=False)



def downgrade():
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cases_updated_at'))
        batch_op.drop_index(batch_op.f('ix_cases_rule_set_id'))
        batch_op.drop_index(batch_op.f('ix_cases_outcome'))
        batch_op.drop_column('rule_set_id')
        batch_op.drop_column('outcome')

    with op.batch_alter_table('applicants', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_applicants_passport_expires_on'))
        batch_op.drop_index(batch_op.f('ix_applicants_nationality'))

    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tasks_due_on'))
        batch_op.drop_index(batch_op.f('ix_tasks_case_id'))

    op.drop_table('tasks')
    with op.batch_alter_table('case_transitions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_transitions_case_id'))

    op.drop_table('case_transitions')
