"""customer language: on invitations (the scheduler's choice) and meetings (the one booked in)

Revision ID: 0010
Revises: 0007
Create Date: 2026-12-05 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('invitations') as batch:
        batch.add_column(sa.Column('language', sa.String(length=8), nullable=True))
    with op.batch_alter_table('meetings') as batch:
        batch.add_column(sa.Column('language', sa.String(length=8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('meetings') as batch:
        batch.drop_column('language')
    with op.batch_alter_table('invitations') as batch:
        batch.drop_column('language')
