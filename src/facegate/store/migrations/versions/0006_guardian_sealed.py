"""A guardian's reference is sealed with the child's key, like other identity data.

The new column holds the sealed reference. A migration has no master key, so references
recorded in plain text before this revision are sealed, and their plain column emptied, the
next time the installation is initialised (``Facegate.initialise``).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 01:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('consents', sa.Column('guardian_sealed', sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    op.drop_column('consents', 'guardian_sealed')  # SQLite >= 3.35 drops columns in place
