"""unique field values

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 15:26:57.424740
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "unique_values",
        sa.Column("app_id", sa.Integer(), nullable=False),
        sa.Column("ticket_type", sa.String(length=40), nullable=False),
        sa.Column("field", sa.String(length=40), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.Column("record_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(["app_id"], ["apps.id"], name=op.f("fk_unique_values_app_id_apps")),
        sa.ForeignKeyConstraint(
            ["record_id"], ["records.id"], name=op.f("fk_unique_values_record_id_records")
        ),
        sa.PrimaryKeyConstraint("app_id", "ticket_type", "field", "value", name=op.f("pk_unique_values")),
    )
    with op.batch_alter_table("unique_values", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_unique_values_record_id"), ["record_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("unique_values", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_unique_values_record_id"))

    op.drop_table("unique_values")
