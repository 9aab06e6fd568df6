"""Console sign-outs kept in the store: a session signed out before it expired is refused by
every process and after a restart, not only by the process that signed it out.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 09:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'signed_out_sessions',
        sa.Column('digest', sa.String(length=64), primary_key=True),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index('ix_signed_out_sessions_expires_at', 'signed_out_sessions',
                    ['expires_at'])


def downgrade() -> None:
    op.drop_index('ix_signed_out_sessions_expires_at', table_name='signed_out_sessions')
    op.drop_table('signed_out_sessions')
