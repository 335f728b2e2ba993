"""Governance: boards, members, meetings, actions, decisions, change requests and
the milestone re-baselines they carry.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from services.db import rls

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = (
    "boards",
    "board_members",
    "meetings",
    "actions",
    "decisions",
    "change_requests",
    "milestone_rebaselines",
)


def upgrade() -> None:
    op.create_table(
        "boards",
        sa.Column("programme_id", sa.Uuid(), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("purpose", sa.Text(), server_default="", nullable=False),
        sa.Column("terms_of_reference", sa.Text(), server_default="", nullable=False),
        sa.Column(
            "decision_rights",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="[]",
            nullable=False,
        ),
        sa.Column(
            "cadence",
            sa.Enum(
                "weekly",
                "fortnightly",
                "monthly",
                "bimonthly",
                "quarterly",
                "half_yearly",
                "annually",
                "per_programme_increment",
                "per_tranche",
                "per_stage",
                "on_demand",
                name="cadence",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("quorum", sa.SmallInteger(), nullable=True),
        sa.Column("duration_minutes", sa.SmallInteger(), nullable=True),
        sa.Column("reports_to_id", sa.Uuid(), nullable=True),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("updated_by", sa.Uuid(), nullable=True),
        sa.Column("source_pack", sa.String(length=63), nullable=True),
        sa.Column("source_version", sa.String(length=32), nullable=True),
        sa.Column("source_item", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id", "programme_id"],
            ["workspace.programmes.tenant_id", "workspace.programmes.id"],
            name=op.f("fk_boards_tenant_id_programme_id_programmes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "reports_to_id"],
            ["workspace.boards.tenant_id", "workspace.boards.id"],
            name=op.f("fk_boards_tenant_id_reports_to_id_boards"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_boards")),
        schema="workspace",
    )
    op.create_index(
        op.f("ix_boards_tenant_id_programme_id"),
        "boards",
        ["tenant_id", "programme_id"],
        unique=False,
        schema="workspace",
    )
    op.create_index(
        op.f("ix_boards_tenant_id_source_pack_source_item"),
        "boards",
        ["tenant_id", "source_pack", "source_item"],
        unique=True,
        schema="workspace",
        postgresql_where=sa.text("source_item IS NOT NULL"),
    )
    op.create_table(
        "board_members",
        sa.Column("board_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("role_title", sa.String(length=200), nullable=False),
        sa.Column(
            "capacity",
            sa.Enum(
                "chair",
                "member",
                "adviser",
                "secretariat",
                "observer",
                name="membercapacity",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("updated_by", sa.Uuid(), nullable=True),
        sa.Column("source_pack", sa.String(length=63), nullable=True),
        sa.Column("source_version", sa.String(length=32), nullable=True),
        sa.Column("source_item", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id", "board_id"],
            ["workspace.boards.tenant_id", "workspace.boards.id"],
            name=op.f("fk_board_members_tenant_id_board_id_boards"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_board_members")),
        schema="workspace",
    )
    op.create_index(
        op.f("ix_board_members_tenant_id_board_id"),
        "board_members",
        ["tenant_id", "board_id"],
        unique=False,
        schema="workspace",
    )
    op.create_index(
        op.f("ix_board_members_tenant_id_source_pack_source_item"),
        "board_members",
        ["tenant_id", "source_pack", "source_item"],
        unique=True,
        schema="workspace",
        postgresql_where=sa.text("source_item IS NOT NULL"),
    )
    op.create_table(
        "meetings",
        sa.Column("board_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("held_on", sa.Date(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "scheduled",
                "held",
                "cancelled",
                name="meetingstate",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("attendee_ids", postgresql.ARRAY(sa.Uuid()), server_default="{}", nullable=False),
        sa.Column("minutes", sa.Text(), server_default="", nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("updated_by", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id", "board_id"],
            ["workspace.boards.tenant_id", "workspace.boards.id"],
            name=op.f("fk_meetings_tenant_id_board_id_boards"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_meetings")),
        schema="workspace",
    )
    op.create_index(
        op.f("ix_meetings_tenant_id_board_id_held_on"),
        "meetings",
        ["tenant_id", "board_id", "held_on"],
        unique=False,
        schema="workspace",
    )
    op.create_table(
        "actions",
        sa.Column("programme_id", sa.Uuid(), nullable=True),
        sa.Column("meeting_id", sa.Uuid(), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column(
            "state",
            sa.Enum(
                "open",
                "in_progress",
                "done",
                "cancelled",
                name="actionstate",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("completed_on", sa.Date(), nullable=True),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("updated_by", sa.Uuid(), nullable=True),
        sa.Column("source_pack", sa.String(length=63), nullable=True),
        sa.Column("source_version", sa.String(length=32), nullable=True),
        sa.Column("source_item", sa.String(length=200), nullable=True),
        sa.Column(
            "custom_fields",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "meeting_id"],
            ["workspace.meetings.tenant_id", "workspace.meetings.id"],
            name=op.f("fk_actions_tenant_id_meeting_id_meetings"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "programme_id"],
            ["workspace.programmes.tenant_id", "workspace.programmes.id"],
            name=op.f("fk_actions_tenant_id_programme_id_programmes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_actions")),
        schema="workspace",
    )
    op.create_index(
        op.f("ix_actions_tenant_id_programme_id_due_date"),
        "actions",
        ["tenant_id", "programme_id", "due_date"],
        unique=False,
        schema="workspace",
    )
    op.create_index(
        op.f("ix_actions_tenant_id_source_pack_source_item"),
        "actions",
        ["tenant_id", "source_pack", "source_item"],
        unique=True,
        schema="workspace",
        postgresql_where=sa.text("source_item IS NOT NULL"),
    )
    op.create_table(
        "decisions",
        sa.Column("programme_id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=True),
        sa.Column("reference", sa.String(length=32), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("context", sa.Text(), server_default="", nullable=False),
        sa.Column(
            "options", postgresql.JSONB(astext_type=sa.Text()), server_default="[]", nullable=False
        ),
        sa.Column("decision", sa.Text(), server_default="", nullable=False),
        sa.Column("rationale", sa.Text(), server_default="", nullable=False),
        sa.Column("board_id", sa.Uuid(), nullable=True),
        sa.Column("meeting_id", sa.Uuid(), nullable=True),
        sa.Column("decided_by_id", sa.Uuid(), nullable=True),
        sa.Column("decided_on", sa.Date(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "proposed",
                "pending",
                "approved",
                "rejected",
                "superseded",
                name="decisionstatus",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("updated_by", sa.Uuid(), nullable=True),
        sa.Column("source_pack", sa.String(length=63), nullable=True),
        sa.Column("source_version", sa.String(length=32), nullable=True),
        sa.Column("source_item", sa.String(length=200), nullable=True),
        sa.Column(
            "custom_fields",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "board_id"],
            ["workspace.boards.tenant_id", "workspace.boards.id"],
            name=op.f("fk_decisions_tenant_id_board_id_boards"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "meeting_id"],
            ["workspace.meetings.tenant_id", "workspace.meetings.id"],
            name=op.f("fk_decisions_tenant_id_meeting_id_meetings"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "programme_id"],
            ["workspace.programmes.tenant_id", "workspace.programmes.id"],
            name=op.f("fk_decisions_tenant_id_programme_id_programmes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "project_id"],
            ["workspace.projects.tenant_id", "workspace.projects.id"],
            name=op.f("fk_decisions_tenant_id_project_id_projects"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_decisions")),
        schema="workspace",
    )
    op.create_index(
        op.f("ix_decisions_tenant_id_programme_id_decided_on"),
        "decisions",
        ["tenant_id", "programme_id", "decided_on"],
        unique=False,
        schema="workspace",
    )
    op.create_index(
        op.f("ix_decisions_tenant_id_source_pack_source_item"),
        "decisions",
        ["tenant_id", "source_pack", "source_item"],
        unique=True,
        schema="workspace",
        postgresql_where=sa.text("source_item IS NOT NULL"),
    )
    op.create_table(
        "change_requests",
        sa.Column("programme_id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=True),
        sa.Column("reference", sa.String(length=32), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("reason", sa.Text(), server_default="", nullable=False),
        sa.Column("scope_impact", sa.Text(), server_default="", nullable=False),
        sa.Column("schedule_impact_days", sa.Integer(), nullable=True),
        sa.Column("cost_impact", sa.Float(), nullable=True),
        sa.Column("benefits_impact", sa.Text(), server_default="", nullable=False),
        sa.Column("risk_impact", sa.Text(), server_default="", nullable=False),
        sa.Column("requested_by_id", sa.Uuid(), nullable=True),
        sa.Column("approver_id", sa.Uuid(), nullable=True),
        sa.Column(
            "state",
            sa.Enum(
                "draft",
                "submitted",
                "approved",
                "rejected",
                "withdrawn",
                name="changerequeststate",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("decided_by_id", sa.Uuid(), nullable=True),
        sa.Column("decided_on", sa.Date(), nullable=True),
        sa.Column("decision_note", sa.Text(), server_default="", nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("updated_by", sa.Uuid(), nullable=True),
        sa.Column("source_pack", sa.String(length=63), nullable=True),
        sa.Column("source_version", sa.String(length=32), nullable=True),
        sa.Column("source_item", sa.String(length=200), nullable=True),
        sa.Column(
            "custom_fields",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "programme_id"],
            ["workspace.programmes.tenant_id", "workspace.programmes.id"],
            name=op.f("fk_change_requests_tenant_id_programme_id_programmes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "project_id"],
            ["workspace.projects.tenant_id", "workspace.projects.id"],
            name=op.f("fk_change_requests_tenant_id_project_id_projects"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_change_requests")),
        schema="workspace",
    )
    op.create_index(
        op.f("ix_change_requests_tenant_id_programme_id_state"),
        "change_requests",
        ["tenant_id", "programme_id", "state"],
        unique=False,
        schema="workspace",
    )
    op.create_index(
        op.f("ix_change_requests_tenant_id_source_pack_source_item"),
        "change_requests",
        ["tenant_id", "source_pack", "source_item"],
        unique=True,
        schema="workspace",
        postgresql_where=sa.text("source_item IS NOT NULL"),
    )
    op.create_table(
        "milestone_rebaselines",
        sa.Column("change_request_id", sa.Uuid(), nullable=False),
        sa.Column("milestone_id", sa.Uuid(), nullable=False),
        sa.Column("new_baseline_date", sa.Date(), nullable=False),
        sa.Column("previous_baseline_date", sa.Date(), nullable=True),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("updated_by", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id", "change_request_id"],
            ["workspace.change_requests.tenant_id", "workspace.change_requests.id"],
            name=op.f("fk_milestone_rebaselines_tenant_id_change_request_id_change_requests"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "milestone_id"],
            ["workspace.milestones.tenant_id", "workspace.milestones.id"],
            name=op.f("fk_milestone_rebaselines_tenant_id_milestone_id_milestones"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_milestone_rebaselines")),
        sa.UniqueConstraint(
            "tenant_id",
            "change_request_id",
            "milestone_id",
            name=op.f("uq_milestone_rebaselines_tenant_id_change_request_id_milestone_id"),
        ),
        schema="workspace",
    )
    for table in TABLES:
        for statement in rls.enable_statements(table):
            op.execute(statement)


def downgrade() -> None:
    op.drop_table("milestone_rebaselines", schema="workspace")
    op.drop_table("change_requests", schema="workspace")
    op.drop_table("decisions", schema="workspace")
    op.drop_table("actions", schema="workspace")
    op.drop_table("meetings", schema="workspace")
    op.drop_table("board_members", schema="workspace")
    op.drop_table("boards", schema="workspace")
