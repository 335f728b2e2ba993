"""Optimistic concurrency: a row's ``version`` is its ``ETag``; updates need ``If-Match``."""

from __future__ import annotations

from typing import Annotated

from litestar.params import HeaderParameter

from services.errors import PreconditionRequired, VersionMismatch

IfMatch = Annotated[
    str | None,
    HeaderParameter(name="If-Match", description="The ETag from your last read (required)."),
]


def etag(version: int) -> str:
    return f'"{version}"'


def check_if_match(if_match: str | None, current_version: int) -> None:
    """Refuse an update unless ``If-Match`` names the current version (or is ``*``)."""
    if if_match is None or not if_match.strip():
        raise PreconditionRequired(
            "Send If-Match with the ETag from your last read, so concurrent edits are not lost.",
            current_etag=etag(current_version),
        )
    if matches(if_match, etag(current_version)):
        return
    raise VersionMismatch(
        "The resource changed since you read it; read it again and reapply your change.",
        current_etag=etag(current_version),
    )


def matches(if_match: str, current: str) -> bool:
    """Whether ``If-Match`` names the entity tag ``current`` or is ``*``.

    The comparison is strong (RFC 9110 §13.1.1): a weak tag (``W/"3"``) names a representation
    only roughly equal to the one read, so it never passes, even when its opaque tag is the
    current one (weak comparison is ``If-None-Match``'s: :mod:`services.conditional`).
    """
    tags = [t.strip() for t in if_match.split(",")]
    return "*" in tags or current in tags
