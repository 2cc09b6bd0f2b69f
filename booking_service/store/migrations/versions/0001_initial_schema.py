"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-21 00:27:34.730884
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import booking_service.store.models

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        # btree_gist lets one GiST index combine "=" on resource_id with "&&" on the range.
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    op.create_table('resource_pools',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('resources',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('zone', sa.String(length=64), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('feed_token_hash', sa.String(length=64), nullable=True),
    sa.Column('created_at', booking_service.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('member', 'room')", name='ck_resources_kind'),
    sa.CheckConstraint('capacity >= 1', name='ck_resources_capacity'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('feed_token_hash')
    )
    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('zone', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=True),
    sa.Column('send_confirmation', sa.Boolean(), nullable=False),
    sa.Column('attach_invite', sa.Boolean(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', booking_service.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_login_at', booking_service.store.models.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("role IN ('admin', 'scheduler')", name='ck_users_role'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('email')
    )
    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('target_type', sa.String(length=32), nullable=False),
    sa.Column('target_id', sa.Integer(), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('at', booking_service.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_log_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_log_user_id'), ['user_id'], unique=False)

    op.create_table('calendar_connections',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('resource_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('url', sa.Text(), nullable=True),
    sa.Column('calendar_url', sa.Text(), nullable=True),
    sa.Column('username', sa.String(length=200), nullable=True),
    sa.Column('password_encrypted', sa.Text(), nullable=True),
    sa.Column('ics_data', sa.Text(), nullable=True),
    sa.Column('write_back', sa.Boolean(), nullable=False),
    sa.Column('sync_days', sa.Integer(), nullable=False),
    sa.Column('last_synced_at', booking_service.store.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_status', sa.String(length=16), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', booking_service.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('ics_url', 'ics_file', 'caldav', 'demo')", name='ck_calendar_connections_kind'),
    sa.ForeignKeyConstraint(['resource_id'], ['resources.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('calendar_connections', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_calendar_connections_resource_id'), ['resource_id'], unique=False)

    op.create_table('hours_overrides',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('resource_id', sa.Integer(), nullable=False),
    sa.Column('date', sa.Date(), nullable=False),
    sa.Column('start_minute', sa.Integer(), nullable=True),
    sa.Column('end_minute', sa.Integer(), nullable=True),
    sa.Column('note', sa.String(length=200), nullable=True),
    sa.CheckConstraint('(start_minute IS NULL AND end_minute IS NULL) OR (start_minute >= 0 AND start_minute < 1440 AND end_minute > start_minute AND end_minute <= start_minute + 1440)', name='ck_hours_overrides_minutes'),
    sa.ForeignKeyConstraint(['resource_id'], ['resources.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('hours_overrides', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_hours_overrides_resource_id'), ['resource_id'], unique=False)

    op.create_table('invitations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('customer_name', sa.String(length=200), nullable=False),
    sa.Column('customer_email', sa.String(length=254), nullable=False),
    sa.Column('customer_zone', sa.String(length=64), nullable=True),
    sa.Column('subject', sa.String(length=300), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('conferencing', sa.Text(), nullable=False),
    sa.Column('duration_minutes', sa.Integer(), nullable=False),
    sa.Column('buffer_before_minutes', sa.Integer(), nullable=False),
    sa.Column('buffer_after_minutes', sa.Integer(), nullable=False),
    sa.Column('minimum_notice_minutes', sa.Integer(), nullable=False),
    sa.Column('slot_interval_minutes', sa.Integer(), nullable=False),
    sa.Column('min_capacity', sa.Integer(), nullable=False),
    sa.Column('frame_start', sa.Date(), nullable=False),
    sa.Column('frame_end', sa.Date(), nullable=False),
    sa.Column('zone', sa.String(length=64), nullable=False),
    sa.Column('promote', sa.Boolean(), nullable=False),
    sa.Column('promote_count', sa.Integer(), nullable=False),
    sa.Column('delivery', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', booking_service.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', booking_service.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', booking_service.store.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('cancelled_at', booking_service.store.models.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('active', 'scheduled', 'cancelled', 'expired')", name='ck_invitations_status'),
    sa.CheckConstraint('buffer_before_minutes >= 0 AND buffer_after_minutes >= 0 AND minimum_notice_minutes >= 0', name='ck_invitations_buffers'),
    sa.CheckConstraint('duration_minutes > 0', name='ck_invitations_duration'),
    sa.CheckConstraint('frame_end >= frame_start', name='ck_invitations_frame'),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invitations_created_by_id'), ['created_by_id'], unique=False)
        batch_op.create_index('ix_invitations_status', ['status'], unique=False)

    op.create_table('pool_members',
    sa.Column('pool_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['resources.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['pool_id'], ['resource_pools.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('pool_id', 'member_id')
    )
    op.create_table('working_hours',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('resource_id', sa.Integer(), nullable=False),
    sa.Column('weekday', sa.Integer(), nullable=False),
    sa.Column('start_minute', sa.Integer(), nullable=False),
    sa.Column('end_minute', sa.Integer(), nullable=False),
    sa.CheckConstraint('start_minute >= 0 AND start_minute < 1440 AND end_minute > start_minute AND end_minute <= start_minute + 1440', name='ck_working_hours_minutes'),
    sa.CheckConstraint('weekday BETWEEN 0 AND 6', name='ck_working_hours_weekday'),
    sa.ForeignKeyConstraint(['resource_id'], ['resources.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('working_hours', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_working_hours_resource_id'), ['resource_id'], unique=False)

    op.create_table('busy_blocks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('connection_id', sa.Integer(), nullable=False),
    sa.Column('resource_id', sa.Integer(), nullable=False),
    sa.Column('start_at', booking_service.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('end_at', booking_service.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('end_at > start_at', name='ck_busy_blocks_order'),
    sa.ForeignKeyConstraint(['connection_id'], ['calendar_connections.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['resource_id'], ['resources.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('busy_blocks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_busy_blocks_connection_id'), ['connection_id'], unique=False)
        batch_op.create_index('ix_busy_blocks_resource_time', ['resource_id', 'start_at', 'end_at'], unique=False)

    op.create_table('invitation_members',
    sa.Column('invitation_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['invitation_id'], ['invitations.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['member_id'], ['resources.id'], ),
    sa.PrimaryKeyConstraint('invitation_id', 'member_id')
    )
    op.create_table('invitation_pools',
    sa.Column('invitation_id', sa.Integer(), nullable=False),
    sa.Column('pool_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['invitation_id'], ['invitations.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['pool_id'], ['resource_pools.id'], ),
    sa.PrimaryKeyConstraint('invitation_id', 'pool_id')
    )
    op.create_table('invitation_rooms',
    sa.Column('invitation_id', sa.Integer(), nullable=False),
    sa.Column('room_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['invitation_id'], ['invitations.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['room_id'], ['resources.id'], ),
    sa.PrimaryKeyConstraint('invitation_id', 'room_id')
    )
    op.create_table('meetings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('invitation_id', sa.Integer(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('start_at', booking_service.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('end_at', booking_service.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('uid', sa.String(length=200), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('customer_name', sa.String(length=200), nullable=False),
    sa.Column('customer_email', sa.String(length=254), nullable=False),
    sa.Column('customer_zone', sa.String(length=64), nullable=True),
    sa.Column('created_at', booking_service.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('cancelled_at', booking_service.store.models.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('confirmed', 'cancelled')", name='ck_meetings_status'),
    sa.CheckConstraint('end_at > start_at', name='ck_meetings_order'),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], ),
    sa.ForeignKeyConstraint(['invitation_id'], ['invitations.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('invitation_id'),
    sa.UniqueConstraint('uid')
    )
    with op.batch_alter_table('meetings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_meetings_created_by_id'), ['created_by_id'], unique=False)
        batch_op.create_index('ix_meetings_start', ['start_at'], unique=False)

    op.create_table('promoted_slots',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('invitation_id', sa.Integer(), nullable=False),
    sa.Column('rank', sa.Integer(), nullable=False),
    sa.Column('start_at', booking_service.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('end_at', booking_service.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('score', sa.Double(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['invitation_id'], ['invitations.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('invitation_id', 'rank', name='uq_promoted_slots_rank')
    )
    op.create_table('calendar_writes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('connection_id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', booking_service.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', booking_service.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('done_at', booking_service.store.models.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['connection_id'], ['calendar_connections.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['meeting_id'], ['meetings.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('calendar_writes', schema=None) as batch_op:
        batch_op.create_index('ix_calendar_writes_due', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_calendar_writes_meeting_id'), ['meeting_id'], unique=False)

    op.create_table('outbox_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('to_addr', sa.String(length=254), nullable=False),
    sa.Column('subject', sa.String(length=300), nullable=False),
    sa.Column('body_text', sa.Text(), nullable=False),
    sa.Column('body_html', sa.Text(), nullable=True),
    sa.Column('ics', sa.Text(), nullable=True),
    sa.Column('invitation_id', sa.Integer(), nullable=True),
    sa.Column('meeting_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', booking_service.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', booking_service.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', booking_service.store.models.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['invitation_id'], ['invitations.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['meeting_id'], ['meetings.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_messages_due', ['status', 'next_attempt_at'], unique=False)

    op.create_table('reservations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('resource_id', sa.Integer(), nullable=False),
    sa.Column('start_at', booking_service.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('end_at', booking_service.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('end_at > start_at', name='ck_reservations_order'),
    sa.ForeignKeyConstraint(['meeting_id'], ['meetings.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['resource_id'], ['resources.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('reservations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reservations_meeting_id'), ['meeting_id'], unique=False)
        batch_op.create_index('ix_reservations_resource_time', ['resource_id', 'start_at', 'end_at'], unique=False)

    if postgres:
        # No two reservations of one resource may overlap: the database refuses a double booking.
        op.execute(
            "ALTER TABLE reservations ADD CONSTRAINT ex_reservations_no_overlap "
            "EXCLUDE USING gist (resource_id WITH =, tstzrange(start_at, end_at, '[)') WITH &&)"
        )


def downgrade() -> None:
    with op.batch_alter_table('reservations', schema=None) as batch_op:
        batch_op.drop_index('ix_reservations_resource_time')
        batch_op.drop_index(batch_op.f('ix_reservations_meeting_id'))

    op.drop_table('reservations')
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_messages_due')

    op.drop_table('outbox_messages')
    with op.batch_alter_table('calendar_writes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_calendar_writes_meeting_id'))
        batch_op.drop_index('ix_calendar_writes_due')

    op.drop_table('calendar_writes')
    op.drop_table('promoted_slots')
    with op.batch_alter_table('meetings', schema=None) as batch_op:
        batch_op.drop_index('ix_meetings_start')
        batch_op.drop_index(batch_op.f('ix_meetings_created_by_id'))

    op.drop_table('meetings')
    op.drop_table('invitation_rooms')
    op.drop_table('invitation_pools')
    op.drop_table('invitation_members')
    with op.batch_alter_table('busy_blocks', schema=None) as batch_op:
        batch_op.drop_index('ix_busy_blocks_resource_time')
        batch_op.drop_index(batch_op.f('ix_busy_blocks_connection_id'))

    op.drop_table('busy_blocks')
    with op.batch_alter_table('working_hours', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_working_hours_resource_id'))

    op.drop_table('working_hours')
    op.drop_table('pool_members')
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.drop_index('ix_invitations_status')
        batch_op.drop_index(batch_op.f('ix_invitations_created_by_id'))

    op.drop_table('invitations')
    with op.batch_alter_table('hours_overrides', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_hours_overrides_resource_id'))

    op.drop_table('hours_overrides')
    with op.batch_alter_table('calendar_connections', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_calendar_connections_resource_id'))

    op.drop_table('calendar_connections')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_log_user_id'))
        batch_op.drop_index(batch_op.f('ix_audit_log_at'))

    op.drop_table('audit_log')
    op.drop_table('users')
    op.drop_table('resources')
    op.drop_table('resource_pools')
