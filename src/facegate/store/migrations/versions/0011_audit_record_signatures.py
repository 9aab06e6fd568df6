"""Signed audit records: each record carries an Ed25519 signature over its place and hash,
made with the checkpoint signing key as it is written, so a record appended behind the
service's back fails verification before the next checkpoint. Older records stay unsigned;
``facegate init`` signs a checkpoint over them at the upgrade.

A plain ``ADD COLUMN``: the table is not rebuilt, so its append-only triggers stay.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 08:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('audit_records', sa.Column('sig', sa.String(length=88), nullable=True))


def downgrade() -> None:
    op.drop_column('audit_records', 'sig')
