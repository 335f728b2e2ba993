"""The signup rate limit counts every request but an ``Idempotency-Key`` replay: retrying safely
does not cost the budget; a typo's 422 does (the limit guards the door, as Stripe's does)."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from litestar.testing import AsyncTestClient
from sqlalchemy import select, text

from services.app import create_app
from services.config import Settings
from services.db.engine import Database
from services.rate_limit import RateLimitWindow

SIGNUPS = "/api/v1/signups"
KEY = "signups:testclient"  # Litestar's test client always comes from "testclient"


def signup() -> dict[str, Any]:
    name = f"Limited {uuid.uuid4().hex[:8]}"
    return {
        "organisation_name": name,
        "admin_email": f"{uuid.uuid4().hex[:8]}@example.org",
        "plan": "trial",
        "template_pack": "msp-governance",
        "programme_name": "Net Zero 2030",
        "start_date": "2027-01-04",
    }


async def hits(database: Database) -> int | None:
    async with database.transaction() as session:
        return await session.scalar(select(RateLimitWindow.hits).where(RateLimitWindow.key == KEY))


async def test_replays_do_not_use_up_the_limit_and_refused_requests_do(
    settings: Settings, database: Database
) -> None:
    app = create_app(settings.model_copy(update={"signup_rate_limit_per_minute": 3}), database)
    async with database.transaction() as session:
        await session.execute(
            text("DELETE FROM control.rate_limit_windows WHERE key = :k"), {"k": KEY}
        )
    # Windows are whole minutes: start well inside one, so the requests share it.
    left = 60 - time.time() % 60
    if left < 15:
        await asyncio.sleep(left + 0.5)
    async with AsyncTestClient(app) as client:
        body, key = signup(), {"Idempotency-Key": str(uuid.uuid4())}
        first = await client.post(SIGNUPS, json=body, headers=key)
        assert first.status_code == 202, first.text
        assert first.headers["RateLimit-Remaining"] == "2"
        for _ in range(4):
            replayed = await client.post(SIGNUPS, json=body, headers=key)
            assert replayed.status_code == 202, replayed.text
            assert replayed.headers["Idempotent-Replayed"] == "true"
            assert replayed.headers["RateLimit-Remaining"] == "2"
            assert replayed.json() == first.json()
        assert await hits(database) == 1
        # A refused body counts: it is a request at the door all the same.
        typo = await client.post(SIGNUPS, json={**signup(), "plan": "no-such-plan"})
        assert typo.status_code == 422, typo.text
        assert typo.headers["RateLimit-Remaining"] == "1"
        second = await client.post(SIGNUPS, json=signup())
        assert second.status_code == 202, second.text
        assert (await client.post(SIGNUPS, json=signup())).status_code == 429
        # Over the limit, a replay is refused too: the limit is checked before it is read.
        assert (await client.post(SIGNUPS, json=body, headers=key)).status_code == 429
    async with database.transaction() as session:
        await session.execute(
            text("DELETE FROM control.rate_limit_windows WHERE key = :k"), {"k": KEY}
        )
