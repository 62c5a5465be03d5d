"""report covering indexes: ticket metrics and records' stage read without the wide rows

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26 06:20:00.000000

A ``ticket_metrics`` row is about 1 kB, most of it the fold's running ``state``; a report over one
ticket type read ~12,000 heap pages at 100,000 tickets for 25,000 rows of a few numbers each. With
every column a report reads in one index (led by app and ticket type), PostgreSQL answers it with an
index-only scan of ~460 pages. Likewise a report by stage (or one masking a field per stage) reads
``records``' stage from the second index, on both databases.

The metrics index is PostgreSQL's only: on SQLite its partial predicate (``WHERE 0``) keeps it
empty and unused. SQLite would prefer it (an equality search) to ``ix_ticket_metrics_team``, whose
team order its GROUP BY sorter needs: benchmarks/reports.py's team-by-month report ran ~30% slower.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

METRICS = "ix_ticket_metrics_report"
METRICS_COLUMNS = [
    *("app_id", "ticket_type", "created_at", "status", "closed_at", "team", "owner_id", "created_by"),
    *("satisfaction", "sla_breached", "response_breached", "resolution_breached", "first_response_at"),
    *("first_response_hours", "first_response_business_hours", "resolution_hours"),
    *("resolution_business_hours", "waiting_hours", "transfers", "returns", "reopens", "record_id"),
]
RECORDS = "ix_records_app_type_stage"
RECORDS_COLUMNS = ["app_id", "ticket_type", "id", "stage"]


def upgrade() -> None:
    with op.batch_alter_table("ticket_metrics", schema=None) as batch_op:
        batch_op.create_index(METRICS, METRICS_COLUMNS, unique=False, sqlite_where=sa.text("0"))
    with op.batch_alter_table("records", schema=None) as batch_op:
        batch_op.create_index(RECORDS, RECORDS_COLUMNS, unique=False)


def downgrade() -> None:
    with op.batch_alter_table("records", schema=None) as batch_op:
        batch_op.drop_index(RECORDS)
    with op.batch_alter_table("ticket_metrics", schema=None) as batch_op:
        batch_op.drop_index(METRICS)
