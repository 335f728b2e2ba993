"""API shapes of the workspace: what clients send and receive."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

import msgspec
from msgspec import UNSET, Meta, UnsetType

from services.workspace.structure.models import Programme, ProgrammeState

# PostgreSQL text cannot hold NUL characters; say so in the schema rather than fail on insert.
NO_NUL = r"^[^\x00]*$"
Name = Annotated[
    str,
    Meta(min_length=1, max_length=200, pattern=NO_NUL, description="Shown in lists and reports."),
]
Description = Annotated[str, Meta(max_length=20_000, pattern=NO_NUL)]


class ProgrammeCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: Name
    description: Description = ""
    state: ProgrammeState = ProgrammeState.IDENTIFYING
    start_date: date | None = None
    end_date: date | None = None
    owner_id: uuid.UUID | None = None


class ProgrammeUpdate(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Only the fields sent are changed; send ``null`` to clear a date or the owner."""

    name: Name | UnsetType = UNSET
    description: Description | UnsetType = UNSET
    state: ProgrammeState | UnsetType = UNSET
    start_date: date | UnsetType | None = UNSET
    end_date: date | UnsetType | None = UNSET
    owner_id: uuid.UUID | UnsetType | None = UNSET

    def changes(self) -> dict[str, object]:
        return {f: v for f in self.__struct_fields__ if (v := getattr(self, f)) is not UNSET}


class ProgrammeRead(msgspec.Struct):
    id: uuid.UUID
    name: str
    description: str
    state: ProgrammeState
    start_date: date | None
    end_date: date | None
    owner_id: uuid.UUID | None
    version: int
    created_at: datetime
    updated_at: datetime
    created_by: uuid.UUID | None
    updated_by: uuid.UUID | None

    @classmethod
    def of(cls, row: Programme) -> ProgrammeRead:
        return cls(**{f: getattr(row, f) for f in cls.__struct_fields__})
