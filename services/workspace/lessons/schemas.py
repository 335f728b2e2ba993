"""API shapes of the lessons log."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

import msgspec
from msgspec import UNSET, Meta, UnsetType

from services.text import NO_NUL
from services.workspace.lessons.models import LessonKind, LessonState
from services.workspace.schemas import (
    CustomValues,
    Description,
    Name,
    Patch,
    Reference,
    SourceVersion,
)

Category = Annotated[
    str,
    Meta(
        max_length=100,
        pattern=NO_NUL,
        description="The workspace's own grouping (planning, supplier, people …).",
    ),
]
RaisedOn = Annotated[
    date,
    Meta(description="The day the lesson was raised: not after the workspace's today."),
]


class LessonCreate(msgspec.Struct, forbid_unknown_fields=True):
    """``raised_on`` defaults to the workspace's today."""

    programme_id: uuid.UUID
    title: Name
    project_id: uuid.UUID | None = None
    reference: Reference | None = None
    what_happened: Description = ""
    recommendation: Description = ""
    category: Category = ""
    kind: LessonKind = LessonKind.NEGATIVE
    raised_by_id: uuid.UUID | None = None
    raised_on: RaisedOn | None = None
    owner_id: uuid.UUID | None = None
    owner_role_id: uuid.UUID | None = None
    state: LessonState = LessonState.IDENTIFIED
    custom_fields: CustomValues = {}


class LessonUpdate(Patch):
    title: Name | UnsetType = UNSET
    project_id: uuid.UUID | UnsetType | None = UNSET
    reference: Reference | UnsetType | None = UNSET
    what_happened: Description | UnsetType = UNSET
    recommendation: Description | UnsetType = UNSET
    category: Category | UnsetType = UNSET
    kind: LessonKind | UnsetType = UNSET
    raised_by_id: uuid.UUID | UnsetType | None = UNSET
    raised_on: RaisedOn | UnsetType = UNSET
    owner_id: uuid.UUID | UnsetType | None = UNSET
    owner_role_id: uuid.UUID | UnsetType | None = UNSET
    state: LessonState | UnsetType = UNSET
    custom_fields: CustomValues | UnsetType = UNSET


class LessonRead(msgspec.Struct):
    id: uuid.UUID
    programme_id: uuid.UUID
    project_id: uuid.UUID | None
    reference: str | None
    title: str
    what_happened: str
    recommendation: str
    category: str
    kind: LessonKind
    raised_by_id: uuid.UUID | None
    raised_on: date
    owner_id: uuid.UUID | None
    owner_role_id: uuid.UUID | None
    state: LessonState
    custom_fields: dict[str, Any]
    source_pack: str | None
    source_version: SourceVersion
    source_item: str | None
    version: int
    created_at: datetime
    updated_at: datetime
    created_by: uuid.UUID | None
    updated_by: uuid.UUID | None
