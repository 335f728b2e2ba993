"""Probes: liveness always; readiness only when every cell's database is reachable and migrated."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient

from services.app import create_app
from services.config import Settings, load_settings


async def test_live_and_ready(client: AsyncTestClient[Litestar]) -> None:
    live = await client.get("/health/live")
    assert live.status_code == 200
    ready = await client.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ok",
        "checks": {"database:default": "ok", "database:eu": "ok"},
    }


async def test_not_ready_when_a_cell_database_is_unreachable(settings: Settings) -> None:
    broken = load_settings(
        env="test",
        database_url=settings.database_url,
        cells={"eu": "postgresql://pmo_app@127.0.0.1:1/nowhere"},
        log_level="WARNING",
    )
    async with AsyncTestClient(create_app(broken)) as client:
        ready = await client.get("/health/ready")
    assert ready.status_code == 503
    assert ready.json()["checks"]["database:default"] == "ok"
    assert ready.json()["checks"]["database:eu"].startswith("unreachable")


async def test_not_ready_when_a_database_is_behind_the_code(
    settings: Settings, empty_database_url: str
) -> None:
    from services.db import migrate

    migrate.upgrade(empty_database_url, "0001")
    behind = load_settings(
        env="test",
        database_url=settings.database_url,
        cells={"old": empty_database_url.replace("pmo_owner", "pmo_app")},
        log_level="WARNING",
    )
    async with AsyncTestClient(create_app(behind)) as client:
        ready = await client.get("/health/ready")
    assert ready.status_code == 503
    assert "0001" in ready.json()["checks"]["database:old"]


async def test_openapi_is_served(client: AsyncTestClient[Litestar]) -> None:
    schema = await client.get("/schema/openapi.json")
    assert schema.status_code == 200
    document = schema.json()
    assert document["openapi"].startswith("3.1")
    assert "/api/v1/w/{slug}/programmes" in document["paths"]
    assert "bearer" in document["components"]["securitySchemes"]


async def test_unknown_route_is_a_problem(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "not-found"
