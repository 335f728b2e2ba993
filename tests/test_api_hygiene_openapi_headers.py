"""The OpenAPI schema says what answers carry: ``ETag`` (and the 304 a read answers with one),
``Location``, ``Idempotent-Replayed``, and the statuses of preconditions (412) and bodies (413,
415) — walked over every operation, and checked against what representative routes send."""

from __future__ import annotations

import uuid
from typing import Any

from tests.conftest import MakeWorkspace
from tests.workspace_api import Client, make, programme, url

METHODS = ("get", "put", "post", "patch", "delete")


async def operations(client: Client) -> list[tuple[str, str, dict[str, Any]]]:
    schema = (await client.get("/schema/openapi.json")).json()
    return [
        (path, method, item[method])
        for path, item in schema["paths"].items()
        for method in METHODS
        if method in item
    ]


def header_parameters(operation: dict[str, Any]) -> set[str]:
    return {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}


def success(operation: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    status = next(s for s in operation["responses"] if s.startswith("2"))
    return status, operation["responses"][status]


async def test_every_operation_documents_the_headers_its_answer_carries(client: Client) -> None:
    walked = await operations(client)
    assert len(walked) > 100
    for path, method, operation in walked:
        where = (method.upper(), path)
        status, answer = success(operation)
        headers = answer.get("headers", {})
        asked = header_parameters(operation)
        if status in ("201", "202"):
            assert "Location" in headers, where
        if "Idempotency-Key" in asked:
            assert "Idempotent-Replayed" in headers, where
            assert "idempotency-key-reused" in operation["responses"]["422"]["description"]
        if "If-Match" in asked:
            assert "412" in operation["responses"], where
            if status != "204":
                assert "ETag" in headers, where
        if status == "201":
            assert "ETag" in headers, where
        # A workspace's resource read by its id answers its ETag, and a 304 for one still held.
        by_id = path.startswith("/api/v1/w/") and path.endswith("}")
        if method == "get" and by_id:
            assert "ETag" in headers, where
        if method == "get" and "ETag" in headers:
            assert "If-None-Match" in asked, where
            assert "ETag" in operation["responses"]["304"]["headers"], where
            assert "content" not in operation["responses"]["304"], where
        if method != "get" and path.startswith("/api/"):
            # Bodies are JSON (415), bounded (413); a route taking none refuses one too (415).
            assert {"413", "415"} <= set(operation["responses"]), where


async def test_what_the_schema_documents_is_what_is_sent(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    documented = {(method, path): operation for path, method, operation in await operations(client)}
    programmes = "/api/v1/w/{slug}/programmes"
    created = await client.post(
        ws.programmes,
        json={"name": "Payments"},
        headers={**ws.headers, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert created.status_code == 201, created.text
    _, answer = success(documented[("post", programmes)])
    for name in ("ETag", "Location"):
        assert name in answer["headers"] and created.headers.get(name), name
    location = created.headers["location"]
    read = await client.get(location, headers=ws.headers)
    _, answer = success(documented[("get", programmes + "/{programme_id}")])
    assert read.headers["etag"] == created.headers["etag"] and "ETag" in answer["headers"]
    held = await client.get(location, headers={**ws.headers, "If-None-Match": read.headers["etag"]})
    assert held.status_code == 304 and held.content == b""
    assert "304" in documented[("get", programmes + "/{programme_id}")]["responses"]
    # Lists answer no ETag, and document none.
    listed = await client.get(ws.programmes, headers=ws.headers)
    assert "etag" not in listed.headers
    _, answer = success(documented[("get", programmes)])
    assert "ETag" not in answer.get("headers", {})
    assert "304" not in documented[("get", programmes)]["responses"]
    # The workspace's settings: read by no id, but versioned all the same.
    settings = await client.get(url(ws, "settings"), headers=ws.headers)
    _, answer = success(documented[("get", "/api/v1/w/{slug}/settings")])
    assert settings.headers["etag"] and "ETag" in answer["headers"]


async def test_a_body_too_large_is_the_413_the_schema_documents(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    report = await make(
        client,
        ws,
        "status-reports",
        {"programme_id": prog["id"], "period_start": "2026-01-01", "period_end": "2026-01-31"},
    )
    huge = {"summary": "x" * (2 * 1024 * 1024)}
    for method, path in (
        ("POST", url(ws, "programmes")),
        ("POST", url(ws, f"status-reports/{report['id']}/publish")),
        ("DELETE", url(ws, f"programmes/{prog['id']}")),
    ):
        response = await client.request(method, path, json=huge, headers=ws.headers)
        assert response.status_code == 413, (method, path, response.text)
        assert response.json()["code"] == "payload-too-large"
