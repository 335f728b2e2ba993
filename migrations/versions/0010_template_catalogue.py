"""Control plane: the template catalogue (packs, and versions the application cannot change).

Revision ID: 0010
Revises: 0008
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APP_ROLE = "pmo_app"


def _jsonb() -> postgresql.JSONB:
    return postgresql.JSONB(astext_type=sa.Text())


def _now(name: str) -> sa.Column[object]:
    return sa.Column(
        name, sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "template_packs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("audience", _jsonb(), nullable=False),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("licence", sa.String(64), nullable=False),
        sa.Column("methods", _jsonb(), server_default=sa.text("'[]'::jsonb"), nullable=False),
        _now("updated_at"),
        _now("created_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_template_packs")),
        sa.UniqueConstraint("key", name=op.f("uq_template_packs_key")),
        schema="control",
    )
    op.create_table(
        "template_versions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("pack_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("file", sa.String(300), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("content", _jsonb(), nullable=False),
        sa.Column("parameters", _jsonb(), nullable=False),
        sa.Column("item_counts", _jsonb(), nullable=False),
        sa.Column("changes", _jsonb(), nullable=False),
        _now("published_at"),
        _now("created_at"),
        sa.CheckConstraint(
            "content_hash ~ '^[0-9a-f]{64}$'",
            name=op.f("ck_template_versions_content_hash_is_sha256"),
        ),
        sa.ForeignKeyConstraint(
            ["pack_id"],
            ["control.template_packs.id"],
            name=op.f("fk_template_versions_pack_id_template_packs"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_template_versions")),
        sa.UniqueConstraint(
            "pack_id", "version", name=op.f("uq_template_versions_pack_id_version")
        ),
        schema="control",
    )
    # Published versions are immutable: the application may publish and read, never rewrite.
    op.execute(f"REVOKE UPDATE, DELETE ON control.template_versions FROM {APP_ROLE}")


def downgrade() -> None:
    op.drop_table("template_versions", schema="control")
    op.drop_table("template_packs", schema="control")
