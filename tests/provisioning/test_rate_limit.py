"""Signups are rate-limited per client address, counted in the control database: one count for
every API process, exact under a burst, afresh each window, forgotten by the worker afterwards."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select, text

from provisioning.worker import FORGET_RATE_LIMITS_TASK
from services.app import create_app
from services.db.engine import Database
from services.demo import free_port
from services.jobs import MAINTENANCE_QUEUE, JobQueue
from services.rate_limit import RateLimitWindow
from tests.provisioning.conftest import SIGNUP, Env

# Rejected bodies count too (the limit guards the door), and they leave nothing behind.
BAD_SIGNUP = {"organisation_name": "x"}
TESTCLIENT = "signups:testclient"  # Litestar's test client always comes from "testclient"


async def _well_inside_a_window() -> None:
    """Windows are whole minutes of the database's clock (this machine's): a burst that straddles
    two of them would rightly be counted twice, so start it with at least 15 s to go."""
    left = 60 - time.time() % 60
    if left < 15:
        await asyncio.sleep(left + 0.5)


async def _forget(database: Database, key: str) -> None:
    async with database.transaction() as session:
        await session.execute(
            text("DELETE FROM control.rate_limit_windows WHERE key = :k"), {"k": key}
        )


@pytest.fixture
def api_processes(isolated: Env) -> Iterator[str]:
    """`pmo serve --workers 2` on the isolated platform, 4 signups a minute: its base URL."""
    port = free_port("127.0.0.1")
    command = ["serve", "--workers", "2", "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(
        [sys.executable, "-m", "services", *command],
        env=isolated.process_env(signup_rate_limit_per_minute=4),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.communicate()[0]
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{base}/health/live", timeout=1).status_code == 200:
                    break
            assert time.monotonic() < deadline, "pmo serve did not start"
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def test_every_api_process_shares_one_count_per_client_address(api_processes: str) -> None:
    # A new connection per request, so the kernel hands them to both processes.
    fresh_connections = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=api_processes, limits=fresh_connections) as client:

        async def burst(address: str, size: int) -> Counter[int]:
            # uvicorn trusts X-Forwarded-For from 127.0.0.1, as behind a load balancer.
            headers = {"X-Forwarded-For": address}
            answers = await asyncio.gather(
                *(client.post(SIGNUP, json=BAD_SIGNUP, headers=headers) for _ in range(size))
            )
            return Counter(a.status_code for a in answers)

        await _well_inside_a_window()
        assert await burst("203.0.113.7", 12) == {422: 4, 429: 8}
        # Another address has a count of its own.
        assert await burst("198.51.100.23", 6) == {422: 4, 429: 2}


async def test_a_burst_through_two_apps_is_held_to_the_limit_with_readable_answers(
    shared: Env, shared_database: Database
) -> None:
    settings = shared.with_(signup_rate_limit_per_minute=3)
    second_pool = Database(settings)  # as another process would have: its own connections
    await _forget(shared_database, TESTCLIENT)
    try:
        async with (
            AsyncTestClient(create_app(settings, shared_database)) as one,
            AsyncTestClient(create_app(settings, second_pool)) as other,
        ):
            await _well_inside_a_window()
            answers = await asyncio.gather(
                *(c.post(SIGNUP, json=BAD_SIGNUP) for c in (one, other) * 5)
            )
            assert Counter(a.status_code for a in answers) == {422: 3, 429: 7}
            passed = [a for a in answers if a.status_code == 422]
            assert sorted(a.headers["RateLimit-Remaining"] for a in passed) == ["0", "1", "2"]
            assert {a.headers["RateLimit-Limit"] for a in answers} == {"3"}
            assert {a.headers["RateLimit-Policy"] for a in answers} == {"3; w=60"}

            refused = next(a for a in answers if a.status_code == 429)
            assert refused.headers["content-type"].startswith("application/problem+json")
            problem = refused.json()
            assert problem["code"] == "rate-limited"
            wait = int(refused.headers["Retry-After"])
            assert 1 <= wait <= 60
            assert refused.headers["RateLimit-Reset"] == str(wait)
            assert refused.headers["RateLimit-Remaining"] == "0"
            assert f"try again in {wait} s" in problem["detail"]
            # Other routes are not limited.
            assert (await one.get("/health/live")).status_code == 200

            # The window ends (moved back a minute, as the clock would): counted afresh.
            async with shared_database.transaction() as session:
                await session.execute(
                    text(
                        "UPDATE control.rate_limit_windows"
                        " SET window_started_at = window_started_at - interval '60 seconds'"
                        " WHERE key = :k"
                    ),
                    {"k": TESTCLIENT},
                )
            again = await other.post(SIGNUP, json=BAD_SIGNUP)
            assert again.status_code == 422
            assert again.headers["RateLimit-Remaining"] == "2"
    finally:
        await second_pool.dispose()
        await _forget(shared_database, TESTCLIENT)


@pytest.mark.usefixtures("worker")
async def test_the_worker_forgets_the_counts_of_ended_windows(
    shared: Env, shared_database: Database
) -> None:
    ended, current = "signups:192.0.2.1", "signups:192.0.2.2"
    await _well_inside_a_window()  # so that `current` is still current when the worker looks
    async with shared_database.transaction() as session:
        await session.execute(
            text(
                "INSERT INTO control.rate_limit_windows (key, window_started_at, hits) VALUES"
                " (:ended, now() - interval '2 minutes', 9), (:current, now(), 2)"
            ),
            {"ended": ended, "current": current},
        )
    # What the worker's every-minute schedule defers, deferred now.
    queue = JobQueue(shared.settings)
    try:
        await queue.open()
        forget = queue.app.configure_task(FORGET_RATE_LIMITS_TASK, queue=MAINTENANCE_QUEUE)
        await forget.defer_async(timestamp=int(time.time()))
        keys: set[str] = {ended}
        deadline = time.monotonic() + 30
        while ended in keys:
            assert time.monotonic() < deadline, "the worker did not forget the ended window"
            await asyncio.sleep(0.1)
            async with shared_database.transaction() as session:
                found = await session.scalars(
                    select(RateLimitWindow.key).where(RateLimitWindow.key.in_([ended, current]))
                )
                keys = set(found)
        assert keys == {current}
    finally:
        await queue.close()
        await _forget(shared_database, current)
