"""covering indexes for the digest (R52): orders by status and category, unpaid bills with amounts

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29 13:06:09.806795
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("bills", schema=None) as batch_op:
        batch_op.create_index(
            "ix_bills_status_amounts", ["status", "amount_fen", "paid_fen"], unique=False
        )

    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_orders_status"))
        batch_op.create_index("ix_orders_status_category", ["status", "category"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("ix_orders_status_category")
        batch_op.create_index(batch_op.f("ix_orders_status"), ["status"], unique=False)

    with op.batch_alter_table("bills", schema=None) as batch_op:
        batch_op.drop_index("ix_bills_status_amounts")
