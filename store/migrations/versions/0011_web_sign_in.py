"""web_sign_ins and web_sessions: one-time sign-in links to the web chat and server-side sessions

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29 12:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import store.models

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "web_sign_ins",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("created_at", store.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", store.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("used_at", store.models.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    with op.batch_alter_table("web_sign_ins", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_web_sign_ins_person_id"), ["person_id"], unique=False)
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("web_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", store.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", store.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", store.models.UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_web_sessions_web_id"), ["web_id"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_web_sessions_web_id"))
    op.drop_table("web_sessions")
    with op.batch_alter_table("web_sign_ins", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_web_sign_ins_person_id"))
    op.drop_table("web_sign_ins")
