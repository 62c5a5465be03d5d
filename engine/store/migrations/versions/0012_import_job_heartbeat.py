"""import job heartbeat: the claim of the worker running an import job's check or run

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-26 06:30:00.000000

An import's check and run are tasks on the job queue. The worker holding a job writes its progress
(and ``updated_at``, the heartbeat) only while ``claim_token`` is still its own; the minute tick
hands a job whose heartbeat stopped to a new worker under a new token, so a worker judged dead that
wakes up again writes nothing more.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("import_jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claim_token", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("import_jobs", schema=None) as batch_op:
        batch_op.drop_column("claim_token")
