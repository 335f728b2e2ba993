"""Per-client-address rate limits, counted in the control database so every API process shares them.

A route opts in with ``opt={RATE_LIMITED: "<bucket>"}``. Each request to it adds one hit to its
client address's count for the current window (fixed windows, by the database's clock), in one
upsert: concurrent requests each get their own number, whichever API process they reach, so a
burst cannot slip past the limit. Over the limit the answer is a 429 problem with
``Retry-After``; every answer carries the ``RateLimit-*`` headers.

(Litestar's own ``RateLimitMiddleware`` keeps its count in a store it reads and then writes; with
the in-memory store each process counted alone, so ``pmo serve --workers 4`` let four times the
limit through.)

The table is ``UNLOGGED``: a count is worth nothing after a crash, so it is not written to the
WAL, and a crash merely forgets the current window. Windows that have ended are deleted by the
worker's periodic ``rate_limits.forget`` task (:func:`forget_ended`).

What counts: every request to the route, refused ones (400, 409, 422 …) too, as Stripe counts
them: the limit guards the door, and a 409 says whether a name is taken. But not an
``Idempotency-Key`` replay (answered ``Idempotent-Replayed: true``): it made nothing, and retrying
safely must not cost the budget, so its hit is given back. Over the limit, a request whose
``Idempotency-Key`` already has a stored answer in the route's control ledger
(``opt={RATE_LIMIT_REPLAYS: "<ledger scope>"}``) is let through rather than refused: the handler
replays that answer (and the hit is given back) or, the key having answered another request,
refuses it (and the hit stays counted), before reading anything else of the request.

This is a business limit (signups per address), not flood protection: a refused request still
costs one small upsert. Floods are for the load balancer in front.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from litestar.datastructures import Headers, MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send
from litestar.types.asgi_types import Message
from sqlalchemy import Integer, String, case, cast, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from services.db.base import CONTROL_SCHEMA, Base
from services.db.engine import Database
from services.errors import RateLimited
from services.idempotency import ControlIdempotencyRecord

# Route option: the name of the bucket the route's requests count against.
RATE_LIMITED = "rate_limited"
# Route option: the control ledger scope (``idempotency.control_ledger``) of the route's
# ``Idempotency-Key``s; a key with a stored answer there is let through over the limit.
RATE_LIMIT_REPLAYS = "rate_limit_replays"
WINDOW_SECONDS = 60


class RateLimitWindow(Base):
    """How many requests one client address made to one bucket in the current window."""

    __tablename__ = "rate_limit_windows"
    __table_args__ = {"schema": CONTROL_SCHEMA, "prefixes": ["UNLOGGED"]}

    # "<bucket>:<client address>"
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    window_started_at: Mapped[datetime]
    hits: Mapped[int] = mapped_column(Integer)


def _window_start(seconds: int) -> Any:
    # The start of the current window by the database's clock (one clock for every API process).
    return func.to_timestamp(func.floor(func.extract("epoch", func.now()) / seconds) * seconds)


async def hit(
    connection: AsyncConnection, key: str, window_seconds: int
) -> tuple[int, int, datetime]:
    """Count one request for ``key``: (hits in the current window, seconds until it ends, when
    it started)."""
    row = insert(RateLimitWindow).values(
        key=key, window_started_at=_window_start(window_seconds), hits=1
    )
    stored = RateLimitWindow.__table__.c
    same_window = stored.window_started_at == row.excluded.window_started_at
    elapsed = func.extract("epoch", func.now() - stored.window_started_at)
    counted = row.on_conflict_do_update(
        index_elements=[stored.key],
        set_={
            "hits": case((same_window, stored.hits + 1), else_=1),
            "window_started_at": row.excluded.window_started_at,
        },
    ).returning(
        stored.hits, cast(func.ceil(window_seconds - elapsed), Integer), stored.window_started_at
    )
    hits, resets_in, started = (await connection.execute(counted)).one()
    return hits, max(1, resets_in), started


async def give_back(connection: AsyncConnection, key: str, started: datetime) -> None:
    """Uncount one request for ``key`` in the window that ``started`` then (if it still runs)."""
    await connection.execute(
        update(RateLimitWindow)
        .where(
            RateLimitWindow.key == key,
            RateLimitWindow.window_started_at == started,
            RateLimitWindow.hits > 0,
        )
        .values(hits=RateLimitWindow.hits - 1)
    )


async def forget_ended(session: AsyncSession, window_seconds: int) -> int:
    """Delete the counts of windows that have ended; returns how many."""
    ended = delete(RateLimitWindow).where(
        RateLimitWindow.window_started_at < _window_start(window_seconds)
    )
    result = await session.execute(ended)
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _client_address(scope: Scope) -> str:
    client = scope.get("client")
    return client[0] if client else "unknown"


class RateLimitMiddleware(ASGIMiddleware):
    """At most ``limit`` requests per client address and window to each opted-in bucket."""

    scopes = (ScopeType.HTTP,)

    def __init__(
        self, database: Database, limit: int, window_seconds: int = WINDOW_SECONDS
    ) -> None:
        self.database = database
        self.limit = limit
        self.window_seconds = window_seconds

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        bucket = scope["route_handler"].opt.get(RATE_LIMITED)
        if not bucket:
            await next_app(scope, receive, send)
            return
        key = f"{bucket}:{_client_address(scope)}"
        async with self.database.engine().begin() as connection:
            hits, resets_in, started = await hit(connection, key, self.window_seconds)
        headers = {
            "RateLimit-Policy": f"{self.limit}; w={self.window_seconds}",
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(max(0, self.limit - hits)),
            "RateLimit-Reset": str(resets_in),
        }
        if hits > self.limit and not await self._answered_before(scope):
            raise RateLimited(
                f"At most {self.limit} requests a {self._window()} from one address; "
                f"try again in {resets_in} s.",
                headers={**headers, "Retry-After": str(resets_in)},
            )

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                found = MutableScopeHeaders(message)
                if found.get("Idempotent-Replayed") == "true":
                    # A replay made nothing: its hit is given back before it is answered.
                    async with self.database.engine().begin() as connection:
                        await give_back(connection, key, started)
                    headers["RateLimit-Remaining"] = str(max(0, self.limit - hits + 1))
                for name, value in headers.items():
                    found[name] = value
            await send(message)

        await next_app(scope, receive, send_with_headers)

    async def _answered_before(self, scope: Scope) -> bool:
        """Whether the request's ``Idempotency-Key`` has a stored answer in the route's ledger:
        it may be a replay, which is answered whatever the limit."""
        ledger = scope["route_handler"].opt.get(RATE_LIMIT_REPLAYS)
        key = Headers.from_scope(scope).get("idempotency-key")
        if not ledger or not key:
            return False
        record = ControlIdempotencyRecord
        answered = (
            select(record.id)
            .where(record.scope == ledger, record.key == key, record.status_code != 0)
            .limit(1)
        )
        async with self.database.engine().connect() as connection:
            return await connection.scalar(answered) is not None

    def _window(self) -> str:
        return "minute" if self.window_seconds == 60 else f"{self.window_seconds} s"
