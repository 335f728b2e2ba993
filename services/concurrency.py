"""Optimistic concurrency: a row's ``version`` is its ``ETag``; updates need ``If-Match``.

A read that shows fields worked out from the workspace's today (a milestone's ``slip_days``, an
action's ``overdue``, a dependency's RAG) changes with the calendar while its row stays as it is:
its tag names the day too (``"3@2026-05-01"``), so a copy from another day is not taken for the
current one, by ``If-None-Match`` (a 304) nor by ``If-Match`` (a 412: what was read has changed).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from litestar.params import HeaderParameter

from services.errors import PreconditionRequired, VersionMismatch

IfMatch = Annotated[
    str | None,
    HeaderParameter(name="If-Match", description="The ETag from your last read (required)."),
]


def etag(version: int, as_of: date | None = None) -> str:
    """The entity tag of a row at ``version``; ``as_of``: the workspace's today, for a read
    showing fields worked out from it (see the module)."""
    return f'"{version}"' if as_of is None else f'"{version}@{as_of.isoformat()}"'


def check_if_match(if_match: str | None, current_version: int, as_of: date | None = None) -> None:
    """Refuse an update unless ``If-Match`` names the current version (or is ``*``); ``as_of``
    as for :func:`etag`."""
    current = etag(current_version, as_of)
    if if_match is None or not if_match.strip():
        raise PreconditionRequired(
            "Send If-Match with the ETag from your last read, so concurrent edits are not lost.",
            current_etag=current,
        )
    if matches(if_match, current):
        return
    raise VersionMismatch(
        "The resource changed since you read it; read it again and reapply your change.",
        current_etag=current,
    )


def matches(if_match: str, current: str) -> bool:
    """Whether ``If-Match`` names the entity tag ``current`` or is ``*``.

    The comparison is strong (RFC 9110 §13.1.1): a weak tag (``W/"3"``) names a representation
    only roughly equal to the one read, so it never passes, even when its opaque tag is the
    current one (weak comparison is ``If-None-Match``'s: :mod:`services.conditional`).
    """
    tags = [t.strip() for t in if_match.split(",")]
    return "*" in tags or current in tags
