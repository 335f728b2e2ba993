"""The list envelope every collection endpoint returns, and its query parameters."""

from __future__ import annotations

import re
from collections.abc import Sequence
from enum import Enum
from typing import Annotated, Any, Generic, TypeVar

import msgspec
from litestar.params import QueryParameter
from sqlalchemy import ColumnElement
from sqlalchemy.orm import QueryableAttribute

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 200

Limit = Annotated[
    int, QueryParameter(ge=1, le=MAX_LIMIT, description=f"Page size, at most {MAX_LIMIT}.")
]
Offset = Annotated[int, QueryParameter(ge=0, le=1_000_000, description="Items to skip.")]

# A column's table, and schema, as SQL names it (``workspace.risks.``).
_QUALIFIED = re.compile(r"\b(?:\w+\.){1,2}(?=\w)")


def stated_order(
    columns: Sequence[ColumnElement[Any] | QueryableAttribute[Any]], sort: Enum | None = None
) -> str:
    """A list's description of its default order, written from the ``ORDER BY`` it runs (so the
    two cannot drift apart); ``sort``: the default of the list's ``sort`` parameter, if any."""
    written = ", ".join(_QUALIFIED.sub("", str(column)) for column in columns)
    stated = f"Default order: `{written}`"
    if sort is not None:
        stated += f" (`sort={sort.value}`, the default; `sort` chooses another)"
    return stated + "."


class Page(msgspec.Struct, Generic[T]):
    """One page of a list: ``items``, the ``total`` matching, and where this page starts."""

    items: list[T]
    total: int
    limit: int
    offset: int
    has_more: bool

    @classmethod
    def of(cls, items: list[T], total: int, limit: int, offset: int) -> Page[T]:
        return cls(
            items=items,
            total=total,
            limit=limit,
            offset=offset,
            has_more=offset + len(items) < total,
        )
