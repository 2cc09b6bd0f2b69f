"""customers reschedule and cancel, slot holds, reminders, replaced links, Reply-To

Revision ID: 0006
Revises: 0009
Create Date: 2026-12-05 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import booking_service.store.models

revision: str = '0006'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_instant = booking_service.store.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('change_cutoff_hours', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('max_reschedules', sa.Integer(), nullable=True))
    with op.batch_alter_table('meetings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('manage_token_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('reschedule_count', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('cancelled_by', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('cancel_reason', sa.Text(), nullable=True))
        batch_op.create_unique_constraint('uq_meetings_manage_token_hash', ['manage_token_hash'])
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reply_to', sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column('about_start', _instant, nullable=True))
    op.create_table('slot_holds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('invitation_id', sa.Integer(), nullable=False),
    sa.Column('resource_id', sa.Integer(), nullable=False),
    sa.Column('slot_start', _instant, nullable=False),
    sa.Column('start_at', _instant, nullable=False),
    sa.Column('end_at', _instant, nullable=False),
    sa.Column('expires_at', _instant, nullable=False),
    sa.Column('created_at', _instant, nullable=False),
    sa.CheckConstraint('end_at > start_at', name='ck_slot_holds_order'),
    sa.ForeignKeyConstraint(['invitation_id'], ['invitations.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['resource_id'], ['resources.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('slot_holds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_slot_holds_invitation_id'), ['invitation_id'], unique=False)
        batch_op.create_index('ix_slot_holds_resource_time', ['resource_id', 'start_at', 'end_at'], unique=False)
    op.create_table('replaced_links',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('invitation_id', sa.Integer(), nullable=False),
    sa.Column('replaced_at', _instant, nullable=False),
    sa.ForeignKeyConstraint(['invitation_id'], ['invitations.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('token_hash')
    )
    with op.batch_alter_table('replaced_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_replaced_links_invitation_id'), ['invitation_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('replaced_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_replaced_links_invitation_id'))
    op.drop_table('replaced_links')
    with op.batch_alter_table('slot_holds', schema=None) as batch_op:
        batch_op.drop_index('ix_slot_holds_resource_time')
        batch_op.drop_index(batch_op.f('ix_slot_holds_invitation_id'))
    op.drop_table('slot_holds')
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.drop_column('about_start')
        batch_op.drop_column('reply_to')
    with op.batch_alter_table('meetings', schema=None) as batch_op:
        batch_op.drop_constraint('uq_meetings_manage_token_hash', type_='unique')
        batch_op.drop_column('cancel_reason')
        batch_op.drop_column('cancelled_by')
        batch_op.drop_column('reschedule_count')
        batch_op.drop_column('manage_token_hash')
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.drop_column('max_reschedules')
        batch_op.drop_column('change_cutoff_hours')
