"""The lessons log: references within the programme, the day a lesson was raised."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, func

from services.workspace import clock
from services.workspace.lessons.models import Lesson, LessonKind, LessonState
from services.workspace.registers import RegisterService, between, equal, invalid


class LessonSort(enum.StrEnum):
    NEWEST = "-raised_on"
    OLDEST = "raised_on"
    TITLE = "title"
    RECORDED = "-created_at"


@dataclass(frozen=True, slots=True)
class LessonFilter:
    programme_id: uuid.UUID | None = None
    project_id: uuid.UUID | None = None
    kind: LessonKind | None = None
    state: LessonState | None = None
    category: str | None = None
    owner_id: uuid.UUID | None = None
    raised_by_id: uuid.UUID | None = None
    raised_after: date | None = None
    raised_before: date | None = None
    sort: LessonSort = LessonSort.NEWEST

    def conditions(self) -> list[ColumnElement[bool]]:
        pairs: list[tuple[Any, Any]] = [
            (Lesson.programme_id, self.programme_id),
            (Lesson.project_id, self.project_id),
            (Lesson.kind, self.kind),
            (Lesson.state, self.state),
            (Lesson.category, self.category),
            (Lesson.owner_id, self.owner_id),
            (Lesson.raised_by_id, self.raised_by_id),
        ]
        return equal(pairs) + between(Lesson.raised_on, self.raised_after, self.raised_before)

    def order(self) -> list[Any]:
        orders: dict[LessonSort, list[Any]] = {
            LessonSort.NEWEST: [Lesson.raised_on.desc(), Lesson.created_at.desc()],
            LessonSort.OLDEST: [Lesson.raised_on.asc(), Lesson.created_at.asc()],
            LessonSort.TITLE: [func.lower(Lesson.title)],
            LessonSort.RECORDED: [Lesson.created_at.desc()],
        }
        return orders[self.sort]


class LessonService(RegisterService[Lesson]):
    model = Lesson
    noun = "lesson"
    register = "lessons"

    async def check(self, row: Lesson, before: dict[str, Any] | None) -> None:
        await self.require_roles(row, before)
        if before is None:
            await self.require_programme(row.programme_id)
        if before is None or "project_id" in before:
            await self.require_project(row.project_id, row.programme_id)
        # Raised today unless told; a day sent is one that has come. A day kept by a write of
        # other fields may be up to two ahead (a time zone change moved it), as in the issues
        # register; a row with a day further on is refused until put right.
        today = clock.today(self.session)
        if before is None and row.raised_on is None:
            row.raised_on = today
        written = before is None or "raised_on" in before
        check = clock.not_after_today if written else clock.kept_not_after_today
        if (problem := check(row.raised_on, today)) is not None:
            raise invalid("raised_on", problem, f"raised_on: {problem}")
