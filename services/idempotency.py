"""``Idempotency-Key`` on POSTs (creates and actions such as publish or decide), Stripe-style.

The key and the answer are written in the same transaction as the create (or action), so a retry
after any failure either replays the stored answer or runs the create exactly once. A concurrent
request with the same key waits on the key's row, then replays. The same key with a different
request is refused.

Keys live in a *ledger*: a workspace's own records (tenant-scoped, the default) or, for creates
that have no workspace yet (signups, offboarding requests), a control-plane scope.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from litestar.params import HeaderParameter
from sqlalchemy import SmallInteger, String, UniqueConstraint, select, update
from sqlalchemy.dialects.postgresql import JSON, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from services.db.base import ControlModel
from services.db.tenant_scope import scope_of
from services.errors import IdempotencyKeyReused, ValidationFailed, field_error
from services.workspace.models import IdempotencyRecord

MAX_KEY_LENGTH = 255

IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        description="Retry-safe POSTs: the same key with the same request answers the first "
        "answer (`Idempotent-Replayed: true`); with another request, a 422.",
    ),
]


class ControlIdempotencyRecord(ControlModel):
    """A key and stored answer for a create outside any workspace, within a ``scope``."""

    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("scope", "key"), {"schema": "control"})

    scope: Mapped[str] = mapped_column(String(100))
    key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(SmallInteger)
    # As written (json, not jsonb): a replay keeps the first answer's key order.
    response_body: Mapped[Any] = mapped_column(JSON)


@dataclass(frozen=True, slots=True)
class Ledger:
    """Where keys are kept: the record model and the columns naming whose keys they are."""

    model: type[IdempotencyRecord] | type[ControlIdempotencyRecord]
    owner: dict[str, Any]
    # Other columns a new record needs.
    defaults: dict[str, Any] = field(default_factory=dict)


def control_ledger(scope: str) -> Ledger:
    """Keys of creates that belong to no workspace (e.g. ``"signups"``), shared by all callers."""
    return Ledger(ControlIdempotencyRecord, {"scope": scope})


def _workspace_ledger(session: AsyncSession) -> Ledger:
    scope = scope_of(session.sync_session)
    if scope is None:
        raise RuntimeError("idempotent creates run in a tenant-scoped session")
    return Ledger(IdempotencyRecord, {"tenant_id": scope.tenant_id}, {"version": 1})


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
    ledger: Ledger | None = None,
) -> Outcome:
    """Run ``create`` unless ``key`` was seen; ``create`` returns (status, JSON-able body).

    ``ledger`` defaults to the session's workspace; pass :func:`control_ledger` elsewhere.
    """
    if key is None:
        status, body = await create()
        return Outcome(status, body, replayed=False)
    if not key or len(key) > MAX_KEY_LENGTH:
        raise ValidationFailed(
            "Idempotency-Key must be 1-255 characters.",
            errors=[field_error("Idempotency-Key", "1-255 characters", "header")],
        )
    ledger = ledger or _workspace_ledger(session)
    model, owner = ledger.model, ledger.owner
    claimed = await session.scalar(
        insert(model)
        .values(
            **owner,
            **ledger.defaults,
            key=key,
            fingerprint=request_fingerprint,
            status_code=0,
            response_body={},
        )
        .on_conflict_do_nothing(index_elements=[*owner, "key"])
        .returning(model.id)
    )
    if claimed is None:
        record: IdempotencyRecord | ControlIdempotencyRecord | None = await session.scalar(
            select(model).where(
                model.key == key, *(getattr(model, name) == value for name, value in owner.items())
            )
        )
        if record is None or record.fingerprint != request_fingerprint:
            raise IdempotencyKeyReused(
                "This Idempotency-Key was used for a different request; use a new key."
            )
        return Outcome(record.status_code, record.response_body, replayed=True)
    status, body = await create()
    await session.execute(
        update(model)
        .where(model.id == claimed)
        .values(status_code=status, response_body=body)
        .execution_options(synchronize_session=False)
    )
    return Outcome(status, body, replayed=False)
