"""Programme rules. Runs in a tenant-scoped session: the scope decides whose rows these are."""

from __future__ import annotations

import enum
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.errors import NotFound, ValidationFailed, field_error
from services.workspace.structure.models import Programme, ProgrammeState


class ProgrammeSort(enum.StrEnum):
    NEWEST = "-created_at"
    OLDEST = "created_at"
    NAME = "name"
    START = "start_date"


@dataclass(frozen=True, slots=True)
class ProgrammeFilter:
    state: ProgrammeState | None = None
    owner_id: uuid.UUID | None = None
    sort: ProgrammeSort = ProgrammeSort.NEWEST


class ProgrammeRepository(SQLAlchemyAsyncRepository[Programme]):
    model_type = Programme


def check_dates(start: date | None, end: date | None) -> None:
    if start is not None and end is not None and end < start:
        raise ValidationFailed(
            "A programme cannot end before it starts.",
            errors=[field_error("end_date", "must be on or after start_date")],
        )


def _order(sort: ProgrammeSort) -> Sequence[ColumnElement[object]]:
    columns = {
        ProgrammeSort.NEWEST: [Programme.created_at.desc(), Programme.id.desc()],
        ProgrammeSort.OLDEST: [Programme.created_at.asc(), Programme.id.asc()],
        ProgrammeSort.NAME: [func.lower(Programme.name).asc(), Programme.id.asc()],
        ProgrammeSort.START: [Programme.start_date.asc().nulls_last(), Programme.id.asc()],
    }
    return columns[sort]  # type: ignore[return-value]


class ProgrammeService:
    def __init__(self, session: AsyncSession, actor_id: uuid.UUID | None) -> None:
        self.session = session
        self.actor_id = actor_id
        self.repository = ProgrammeRepository(session=session, auto_expunge=False)

    async def list(
        self, where: ProgrammeFilter, limit: int, offset: int
    ) -> tuple[list[Programme], int]:
        conditions: list[ColumnElement[bool]] = []
        if where.state is not None:
            conditions.append(Programme.state == where.state)
        if where.owner_id is not None:
            conditions.append(Programme.owner_id == where.owner_id)
        total = await self.session.scalar(
            select(func.count()).select_from(Programme).where(*conditions)
        )
        rows = await self.session.scalars(
            select(Programme)
            .where(*conditions)
            .order_by(*_order(where.sort))
            .limit(limit)
            .offset(offset)
        )
        return list(rows), int(total or 0)

    async def get(self, programme_id: uuid.UUID) -> Programme:
        programme = await self.repository.get_one_or_none(Programme.id == programme_id)
        if programme is None:
            raise NotFound(f"No programme {programme_id}.")
        return programme

    async def create(self, **fields: object) -> Programme:
        programme = Programme(**fields, created_by=self.actor_id, updated_by=self.actor_id)
        check_dates(programme.start_date, programme.end_date)
        return await self.repository.add(programme, auto_refresh=True)

    async def update(self, programme: Programme, changes: dict[str, object]) -> Programme:
        for field, value in changes.items():
            setattr(programme, field, value)
        check_dates(programme.start_date, programme.end_date)
        programme.updated_by = self.actor_id
        await self.session.flush()
        await self.session.refresh(programme)
        return programme

    async def delete(self, programme: Programme) -> None:
        await self.session.delete(programme)
        await self.session.flush()
