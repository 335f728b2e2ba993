"""Liveness and readiness probes for load balancers and orchestrators.

They are outside ``/api/`` on purpose: query parameters are ignored, not refused
(:mod:`services.parameters`), so a probe that adds a cache-buster never fails on it.
"""

from __future__ import annotations

import asyncio

import msgspec
from litestar import Response, get
from litestar.datastructures import State
from sqlalchemy import text

from services.db import migrate
from services.dependencies import database


class Health(msgspec.Struct):
    status: str
    checks: dict[str, str] = msgspec.field(default_factory=dict)


@get("/health/live", tags=["health"], summary="The process is up")
async def live() -> Health:
    return Health(status="ok")


@get("/health/ready", tags=["health"], summary="Every cell's database is reachable and migrated")
async def ready(state: State) -> Response[Health]:
    db = database(state)
    head = migrate.head_revision()
    checks: dict[str, str] = {}
    for cell in db.cells:
        try:
            async with asyncio.timeout(3), db.engine(cell).connect() as conn:
                current = await conn.scalar(text("SELECT version_num FROM alembic_version"))
            checks[f"database:{cell}"] = (
                "ok" if current == head else f"at {current}, code needs {head}"
            )
        except Exception as exc:
            checks[f"database:{cell}"] = f"unreachable: {type(exc).__name__}"
    healthy = all(v == "ok" for v in checks.values())
    return Response(
        Health("ok" if healthy else "unavailable", checks), status_code=200 if healthy else 503
    )
