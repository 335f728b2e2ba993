"""HTTP for the lessons log."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from litestar.params import FromQuery, QueryParameter

from services.text import NO_NUL
from services.workspace.http import RegisterSpec, register_controller
from services.workspace.lessons.models import LessonKind, LessonState
from services.workspace.lessons.schemas import LessonCreate, LessonRead, LessonUpdate
from services.workspace.lessons.service import LessonFilter, LessonService, LessonSort


def lesson_filter(
    programme_id: FromQuery[uuid.UUID | None] = None,
    project_id: FromQuery[uuid.UUID | None] = None,
    kind: Annotated[
        LessonKind | None,
        QueryParameter(description="positive: what went well; negative: what to improve"),
    ] = None,
    lifecycle: Annotated[LessonState | None, QueryParameter(name="state")] = None,
    category: Annotated[str | None, QueryParameter(max_length=100, pattern=NO_NUL)] = None,
    owner_id: FromQuery[uuid.UUID | None] = None,
    raised_by_id: FromQuery[uuid.UUID | None] = None,
    raised_after: Annotated[date | None, QueryParameter(description="Raised on or after")] = None,
    raised_before: Annotated[date | None, QueryParameter(description="Raised on or before")] = None,
    sort: FromQuery[LessonSort] = LessonSort.NEWEST,
) -> LessonFilter:
    return LessonFilter(
        programme_id,
        project_id,
        kind,
        lifecycle,
        category,
        owner_id,
        raised_by_id,
        raised_after,
        raised_before,
        sort,
    )


LessonController = register_controller(
    RegisterSpec(
        path="lessons",
        noun="lesson",
        service=LessonService,
        create=LessonCreate,
        update=LessonUpdate,
        read=LessonRead,
        filters=lesson_filter,
        people=("owner_id", "raised_by_id"),
        tag="lessons",
    )
)
