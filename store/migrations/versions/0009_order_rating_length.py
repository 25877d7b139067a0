"""orders.rating fits "unsatisfied" (11 characters; PostgreSQL refused the 不满意 rating)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.alter_column(
            "rating",
            existing_type=sa.String(length=10),
            type_=sa.String(length=16),
            existing_nullable=True,
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.alter_column(
            "rating",
            existing_type=sa.String(length=16),
            type_=sa.String(length=10),
            existing_nullable=True,
        )
