"""``Idempotency-Key`` on creating POSTs, Stripe-style.

The key and the answer are written in the same transaction as the create, so a retry after any
failure either replays the stored answer or runs the create exactly once. A concurrent request
with the same key waits on the key's row, then replays. The same key with a different request is
refused.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from litestar.params import HeaderParameter
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.db.tenant_scope import scope_of
from services.errors import IdempotencyKeyReused, ValidationFailed, field_error
from services.workspace.models import IdempotencyRecord

MAX_KEY_LENGTH = 255

IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        description="Retry-safe creates: the same key returns the first answer.",
    ),
]


@dataclass(frozen=True, slots=True)
class Outcome:
    status_code: int
    body: Any
    replayed: bool


def fingerprint(*parts: object) -> str:
    """A stable digest of what identifies a request (method, path, actor, body)."""
    canonical = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


async def run_once(
    session: AsyncSession,
    key: str | None,
    request_fingerprint: str,
    create: Callable[[], Awaitable[tuple[int, Any]]],
) -> Outcome:
    """Run ``create`` unless ``key`` was seen; ``create`` returns (status, JSON-able body)."""
    if key is None:
        status, body = await create()
        return Outcome(status, body, replayed=False)
    if not key or len(key) > MAX_KEY_LENGTH:
        raise ValidationFailed(
            "Idempotency-Key must be 1-255 characters.",
            errors=[field_error("Idempotency-Key", "1-255 characters", "header")],
        )
    scope = scope_of(session.sync_session)
    if scope is None:
        raise RuntimeError("idempotent creates run in a tenant-scoped session")
    claimed = await session.scalar(
        insert(IdempotencyRecord)
        .values(
            tenant_id=scope.tenant_id,
            key=key,
            fingerprint=request_fingerprint,
            status_code=0,
            response_body={},
            version=1,
        )
        .on_conflict_do_nothing(index_elements=["tenant_id", "key"])
        .returning(IdempotencyRecord.id)
    )
    if claimed is None:
        record = await session.scalar(select(IdempotencyRecord).where(IdempotencyRecord.key == key))
        if record is None or record.fingerprint != request_fingerprint:
            raise IdempotencyKeyReused(
                "This Idempotency-Key was used for a different request; use a new key."
            )
        return Outcome(record.status_code, record.response_body, replayed=True)
    status, body = await create()
    await session.execute(
        update(IdempotencyRecord)
        .where(IdempotencyRecord.id == claimed)
        .values(status_code=status, response_body=body)
        .execution_options(synchronize_session=False)
    )
    return Outcome(status, body, replayed=False)
