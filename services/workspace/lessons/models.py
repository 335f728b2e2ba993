"""The lessons log: what a programme learned — what went well and what to do differently."""

from __future__ import annotations

import enum
import uuid
from datetime import date

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.db.base import WorkspaceModel, workspace_foreign_key
from services.db.types import text_enum
from services.workspace.models import CarriesCustomFields, SeededFromPack, seeded_item_index


class LessonKind(enum.StrEnum):
    """What went well (to repeat) or what to improve (to avoid next time)."""

    POSITIVE = "positive"
    NEGATIVE = "negative"


class LessonState(enum.StrEnum):
    """Identified (recorded), actioned (its recommendation taken up), closed."""

    IDENTIFIED = "identified"
    ACTIONED = "actioned"
    CLOSED = "closed"


class Lesson(WorkspaceModel, SeededFromPack, CarriesCustomFields):
    """A lesson learned: what happened, what to recommend, who raised it and when."""

    __tablename__ = "lessons"
    __workspace_table_args__ = (
        workspace_foreign_key(["programme_id"], "programmes", ondelete="CASCADE"),
        workspace_foreign_key(["project_id"], "projects"),
        workspace_foreign_key(["owner_role_id"], "programme_roles"),
        Index(None, "tenant_id", "programme_id", "raised_on"),
        seeded_item_index(),
    )

    programme_id: Mapped[uuid.UUID]
    project_id: Mapped[uuid.UUID | None]
    reference: Mapped[str | None] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(200))
    what_happened: Mapped[str] = mapped_column(Text, default="", server_default="")
    recommendation: Mapped[str] = mapped_column(Text, default="", server_default="")
    category: Mapped[str] = mapped_column(String(100), default="", server_default="")
    kind: Mapped[LessonKind] = mapped_column(text_enum(LessonKind), default=LessonKind.NEGATIVE)
    raised_by_id: Mapped[uuid.UUID | None]
    # The workspace's today unless the client says; never after it.
    raised_on: Mapped[date]
    owner_id: Mapped[uuid.UUID | None]
    owner_role_id: Mapped[uuid.UUID | None]
    state: Mapped[LessonState] = mapped_column(
        text_enum(LessonState), default=LessonState.IDENTIFIED
    )
