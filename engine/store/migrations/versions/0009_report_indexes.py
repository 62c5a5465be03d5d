"""report indexes: ticket metrics by team, then time, covering the headline measures

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25 21:30:00.000000

Team leads the index, so it serves a team filter (with a created_at range) and nothing that does
not name a team, unless the index covers all it reads: a report by team and a time bucket of
resolution hours and SLA breaches then reads the index instead of the table, and SQLite's GROUP BY
sorter gets its rows in team order, almost sorted. (Led by app_id, a planner without statistics
would pick it over ``ix_ticket_metrics_app_type_created`` for any report and read the table in team
order.)
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

NAME = "ix_ticket_metrics_team"
COLUMNS = ["team", "app_id", "ticket_type", "created_at", "resolution_hours", "sla_breached"]


def upgrade() -> None:
    with op.batch_alter_table("ticket_metrics", schema=None) as batch_op:
        batch_op.create_index(NAME, COLUMNS, unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ticket_metrics", schema=None) as batch_op:
        batch_op.drop_index(NAME)
