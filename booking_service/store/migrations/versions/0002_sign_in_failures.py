"""sign-in failures (rate limit of dashboard sign-in)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 00:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import booking_service.store.models

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('sign_in_failures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('client', sa.String(length=128), nullable=False),
    sa.Column('at', booking_service.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('sign_in_failures', schema=None) as batch_op:
        batch_op.create_index('ix_sign_in_failures_client_at', ['client', 'at'], unique=False)
        batch_op.create_index('ix_sign_in_failures_email_at', ['email', 'at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('sign_in_failures', schema=None) as batch_op:
        batch_op.drop_index('ix_sign_in_failures_email_at')
        batch_op.drop_index('ix_sign_in_failures_client_at')
    op.drop_table('sign_in_failures')
