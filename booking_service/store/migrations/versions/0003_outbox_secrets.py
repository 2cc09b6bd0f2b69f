"""outbox: message text encrypted until sent, redacted copy, stable Message-ID

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 10:00:00

Messages already sent or failed before this revision still hold their working booking links in
``body_text``, ``body_html`` and ``ics``: they are redacted here. Messages still waiting keep
their text as it is until they are sent (this revision cannot encrypt them: it has no
``SECRET_KEY``); delivery then sends that text and redacts it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from booking_service.core.redact import redact_html, redact_ics, redact_text

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_outbox = sa.table(
    'outbox_messages',
    sa.column('id', sa.Integer()),
    sa.column('status', sa.String()),
    sa.column('body_text', sa.Text()),
    sa.column('body_html', sa.Text()),
    sa.column('ics', sa.Text()),
)


def upgrade() -> None:
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('content_encrypted', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('message_id_header', sa.String(length=255), nullable=True))
        batch_op.create_unique_constraint('uq_outbox_messages_message_id_header', ['message_id_header'])
    bind = op.get_bind()
    done = bind.execute(
        sa.select(_outbox.c.id, _outbox.c.body_text, _outbox.c.body_html, _outbox.c.ics)
        .where(_outbox.c.status != 'pending')
    ).all()
    for row in done:
        bind.execute(
            _outbox.update()
            .where(_outbox.c.id == row.id)
            .values(
                body_text=redact_text(row.body_text),
                body_html=redact_html(row.body_html) if row.body_html is not None else None,
                ics=redact_ics(row.ics) if row.ics is not None else None,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.drop_constraint('uq_outbox_messages_message_id_header', type_='unique')
        batch_op.drop_column('message_id_header')
        batch_op.drop_column('content_encrypted')
