"""Device keys: an API key of the ``device`` role belongs to one deployment and one device of
its manifest (a kiosk), and the console shows when each key was last used.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 07:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('api_keys') as batch:
        batch.add_column(sa.Column('deployment_id', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('device_id', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('api_keys') as batch:
        batch.drop_column('last_used_at')
        batch.drop_column('device_id')
        batch.drop_column('deployment_id')
