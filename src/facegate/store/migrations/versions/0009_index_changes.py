"""The 1:N indexes follow an append-only change log (``index_changes``) instead of a
per-deployment generation counter: a process applies the changes after the last one it applied,
rather than rebuilding a whole index whenever another process changed its templates. The
generation table (``index_state``) goes.

Indexes held by running processes are rebuilt once from the store after the upgrade (a process
that holds none has nothing to catch up on).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 01:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'index_changes',
        sa.Column('seq', sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column('deployment_id', sa.String(length=64), nullable=False),
        sa.Column('engine', sa.String(length=200), nullable=True),
        sa.Column('kind', sa.String(length=24), nullable=False),
        sa.Column('subject_id', sa.String(length=40), nullable=True),
        sa.Column('template_ids', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index('ix_index_changes_deployment_seq', 'index_changes',
                    ['deployment_id', 'seq'])
    op.drop_table('index_state')


def downgrade() -> None:
    op.create_table(
        'index_state',
        sa.Column('deployment_id', sa.String(length=64), nullable=False),
        sa.Column('generation', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('deployment_id'),
    )
    op.drop_index('ix_index_changes_deployment_seq', 'index_changes')
    op.drop_table('index_changes')
