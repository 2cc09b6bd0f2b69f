"""team scheduling: pool policies and panels, weights, per-person limits, out of office, assignments

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

POLICIES = "('pooled', 'round_robin', 'weighted')"


def upgrade() -> None:
    op.create_table(
        'out_of_office',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('member_id', sa.Integer(), nullable=False),
        sa.Column('first_date', sa.Date(), nullable=False),
        sa.Column('last_date', sa.Date(), nullable=False),
        sa.Column('stand_in_id', sa.Integer(), nullable=True),
        sa.Column('note', sa.String(length=200), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint('last_date >= first_date', name='ck_out_of_office_dates'),
        sa.CheckConstraint('stand_in_id IS NULL OR stand_in_id <> member_id', name='ck_out_of_office_stand_in'),
        sa.ForeignKeyConstraint(['member_id'], ['resources.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['stand_in_id'], ['resources.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_out_of_office_member_id', 'out_of_office', ['member_id'])
    op.create_table(
        'pool_assignments',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('pool_id', sa.Integer(), nullable=False),
        sa.Column('meeting_id', sa.Integer(), nullable=False),
        sa.Column('member_id', sa.Integer(), nullable=False),
        sa.Column('policy', sa.String(length=16), nullable=False),
        sa.Column('detail', sa.Text(), nullable=False),
        sa.Column('assigned_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('given_back_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('compensated', sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.CheckConstraint(f'policy IN {POLICIES}', name='ck_pool_assignments_policy'),
        sa.ForeignKeyConstraint(['meeting_id'], ['meetings.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['member_id'], ['resources.id']),
        sa.ForeignKeyConstraint(['pool_id'], ['resource_pools.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_pool_assignments_pool', 'pool_assignments', ['pool_id', 'assigned_at'])
    op.create_index('ix_pool_assignments_meeting_id', 'pool_assignments', ['meeting_id'])
    op.create_table(
        'team_settings',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('default_pool_policy', sa.String(length=16), server_default='pooled', nullable=False),
        sa.CheckConstraint(f'default_pool_policy IN {POLICIES}', name='ck_team_settings_policy'),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('resources', schema=None) as batch_op:
        for column in ('max_meetings_day', 'max_minutes_day', 'max_meetings_week', 'max_minutes_week'):
            batch_op.add_column(sa.Column(column, sa.Integer(), nullable=True))
        batch_op.create_check_constraint(
            'ck_resources_limits',
            '(max_meetings_day IS NULL OR max_meetings_day >= 0) AND (max_minutes_day IS NULL OR max_minutes_day >= 0)'
            ' AND (max_meetings_week IS NULL OR max_meetings_week >= 0)'
            ' AND (max_minutes_week IS NULL OR max_minutes_week >= 0)',
        )
    with op.batch_alter_table('hours_overrides', schema=None) as batch_op:
        batch_op.add_column(sa.Column('out_of_office_id', sa.Integer(), nullable=True))
        batch_op.create_index('ix_hours_overrides_out_of_office_id', ['out_of_office_id'])
        batch_op.create_foreign_key(
            'fk_hours_overrides_out_of_office_id', 'out_of_office', ['out_of_office_id'], ['id'], ondelete='CASCADE'
        )
    with op.batch_alter_table('pool_members', schema=None) as batch_op:
        batch_op.add_column(sa.Column('weight', sa.Integer(), server_default='1', nullable=False))
        batch_op.add_column(sa.Column('priority', sa.Integer(), server_default='0', nullable=False))
        batch_op.create_check_constraint('ck_pool_members_weight', 'weight >= 0')
    with op.batch_alter_table('resource_pools', schema=None) as batch_op:
        batch_op.add_column(sa.Column('policy', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('panel_size', sa.Integer(), server_default='1', nullable=False))
        batch_op.add_column(sa.Column('compensate_removed', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.create_check_constraint('ck_resource_pools_policy', f'policy IS NULL OR policy IN {POLICIES}')
        batch_op.create_check_constraint('ck_resource_pools_panel_size', 'panel_size >= 1')
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pool_policy', sa.String(length=16), nullable=True))
        batch_op.create_check_constraint(
            'ck_invitations_pool_policy', f'pool_policy IS NULL OR pool_policy IN {POLICIES}'
        )


def downgrade() -> None:
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.drop_constraint('ck_invitations_pool_policy', type_='check')
        batch_op.drop_column('pool_policy')
    with op.batch_alter_table('resource_pools', schema=None) as batch_op:
        batch_op.drop_constraint('ck_resource_pools_panel_size', type_='check')
        batch_op.drop_constraint('ck_resource_pools_policy', type_='check')
        batch_op.drop_column('compensate_removed')
        batch_op.drop_column('panel_size')
        batch_op.drop_column('policy')
    with op.batch_alter_table('pool_members', schema=None) as batch_op:
        batch_op.drop_constraint('ck_pool_members_weight', type_='check')
        batch_op.drop_column('priority')
        batch_op.drop_column('weight')
    with op.batch_alter_table('hours_overrides', schema=None) as batch_op:
        batch_op.drop_constraint('fk_hours_overrides_out_of_office_id', type_='foreignkey')
        batch_op.drop_index('ix_hours_overrides_out_of_office_id')
        batch_op.drop_column('out_of_office_id')
    with op.batch_alter_table('resources', schema=None) as batch_op:
        batch_op.drop_constraint('ck_resources_limits', type_='check')
        for column in ('max_minutes_week', 'max_meetings_week', 'max_minutes_day', 'max_meetings_day'):
            batch_op.drop_column(column)
    op.drop_table('team_settings')
    op.drop_index('ix_pool_assignments_meeting_id', table_name='pool_assignments')
    op.drop_index('ix_pool_assignments_pool', table_name='pool_assignments')
    op.drop_table('pool_assignments')
    op.drop_index('ix_out_of_office_member_id', table_name='out_of_office')
    op.drop_table('out_of_office')
