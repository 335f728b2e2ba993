"""Logging: one access event per request, with the request id, workspace and caller."""

from __future__ import annotations

import json
import logging
import uuid

import pytest
import structlog
from litestar import Litestar
from litestar.testing import AsyncTestClient

from services.config import LogFormat, Settings
from services.logging import configure_logging
from tests.conftest import MakeWorkspace


async def test_each_request_logs_one_access_event_with_tenant_and_actor(
    client: AsyncTestClient[Litestar],
    make_workspace: MakeWorkspace,
    settings: Settings,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ws = await make_workspace()
    configure_logging(
        settings.model_copy(update={"log_format": LogFormat.JSON, "log_level": "INFO"})
    )
    try:
        capsys.readouterr()
        response = await client.get(
            ws.programmes, headers={**ws.headers, "X-Request-ID": "log-test-0001"}
        )
        assert response.status_code == 200
        lines = [
            json.loads(line) for line in capsys.readouterr().err.splitlines() if line[:1] == "{"
        ]
    finally:
        configure_logging(settings)
    access = [
        line
        for line in lines
        if line["event"] == "http.request" and line.get("request_id") == "log-test-0001"
    ]
    assert len(access) == 1
    event = access[0]
    assert event["tenant"] == ws.slug
    assert event["actor"] == str(ws.user_id)
    assert event["status"] == 200
    assert event["method"] == "GET"
    assert event["duration_ms"] >= 0


async def test_requests_no_route_matches_are_logged_with_their_id(
    client: AsyncTestClient[Litestar], settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(
        settings.model_copy(update={"log_format": LogFormat.JSON, "log_level": "INFO"})
    )
    try:
        capsys.readouterr()
        response = await client.get(
            "/api/v1/no-such-thing", headers={"X-Request-ID": "log-miss-01"}
        )
        assert response.status_code == 404
        lines = [
            json.loads(line) for line in capsys.readouterr().err.splitlines() if line[:1] == "{"
        ]
    finally:
        configure_logging(settings)
    access = [line for line in lines if line["event"] == "http.request"]
    assert [(a["request_id"], a["status"], a["path"]) for a in access] == [
        ("log-miss-01", 404, "/api/v1/no-such-thing")
    ]


@pytest.mark.parametrize("log_format", [LogFormat.CONSOLE, LogFormat.JSON])
def test_tracebacks_show_code_not_local_variables(
    settings: Settings, capsys: pytest.CaptureFixture[str], log_format: LogFormat
) -> None:
    configure_logging(settings.model_copy(update={"log_format": log_format}))
    try:
        capsys.readouterr()
        secret = f"pmo_{uuid.uuid4().hex}"  # a value the traceback's source lines do not show
        try:
            raise RuntimeError(f"boom ({len(secret)})")
        except RuntimeError:
            # Our own loggers, and libraries' through the standard library (asyncio's "Task
            # exception was never retrieved" among them).
            structlog.get_logger("test").exception("failed")
            logging.getLogger("test").exception("failed")
        err = capsys.readouterr().err
    finally:
        configure_logging(settings)
    assert err.count("boom (36)") >= 2, err
    assert secret not in err
