"""The signup rate limit counts every request but an ``Idempotency-Key`` replay: retrying safely
does not cost the budget, and is answered even over the limit; a typo's 422 does (the limit
guards the door, as Stripe's does)."""

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
        assert await hits(database) == 4
        # Over the limit, a replay is answered all the same, and costs nothing.
        late = await client.post(SIGNUPS, json=body, headers=key)
        assert late.status_code == 202, late.text
        assert late.headers["Idempotent-Replayed"] == "true"
        assert late.json() == first.json()
        assert late.headers["RateLimit-Remaining"] == "0"
        assert await hits(database) == 4
        # Its key on another request is refused without a word about that request, and counts.
        other = {**signup(), "slug": first.json()["slug"]}
        reused = await client.post(SIGNUPS, json=other, headers=key)
        assert reused.status_code == 422, reused.text
        assert reused.json()["code"] == "idempotency-key-reused"
        assert await hits(database) == 5
        # A key that has answered nothing is no way past the limit.
        fresh = {"Idempotency-Key": str(uuid.uuid4())}
        assert (await client.post(SIGNUPS, json=signup(), headers=fresh)).status_code == 429
        assert await hits(database) == 6
    async with database.transaction() as session:
        await session.execute(
            text("DELETE FROM control.rate_limit_windows WHERE key = :k"), {"k": KEY}
        )
