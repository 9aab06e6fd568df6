"""Each deployment's templates are indexed under a secret rotation of its own (protected
templates, ISO/IEC 24745); the new column holds the rotation's epoch, moved on by re-keying.

Deployments registered before this revision start at epoch 0.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 03:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('deployments', sa.Column('index_epoch', sa.Integer(), nullable=False,
                                           server_default='0'))


def downgrade() -> None:
    op.drop_column('deployments', 'index_epoch')  # SQLite >= 3.35 drops columns in place
