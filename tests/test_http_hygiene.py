"""HTTP hygiene: what the API makes of bodies, media types, ids in paths and methods.

Every answer here is a problem a client can act on: nothing is a 500, and nothing is read as
JSON unless it was sent as JSON.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from services.app import create_app
from services.bodies import MAX_DEPTH
from services.config import LogFormat, Settings
from services.db.engine import Database
from services.logging import configure_logging
from tests.conftest import MakeWorkspace, Workspace

Client = AsyncTestClient[Litestar]
SIGNUPS = "/api/v1/signups"
JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
async def client(settings: Settings, database: Database) -> AsyncIterator[Client]:
    """The application without the signup rate limit: these tests send many signups."""
    app = create_app(settings.model_copy(update={"signup_rate_limit_per_minute": 0}), database)
    async with AsyncTestClient(app) as test_client:
        yield test_client


def signup(**changes: Any) -> dict[str, Any]:
    """A signup that would be accepted (202) if it were read."""
    name = f"Hygiene {uuid.uuid4().hex[:8]}"
    return {
        "organisation_name": name,
        "admin_email": f"{uuid.uuid4().hex[:8]}@example.org",
        "plan": "trial",
        "template_pack": "msp-governance",
        "programme_name": "Net Zero 2030",
        "start_date": "2027-01-04",
        **changes,
    }


def headers(ws: Workspace | None, **extra: str) -> dict[str, str]:
    """A create's headers: the caller (none for signups) and a fresh Idempotency-Key."""
    return {**(ws.headers if ws else {}), "Idempotency-Key": uuid.uuid4().hex, **extra}


@contextmanager
def error_lines(settings: Settings, capsys: pytest.CaptureFixture[str]) -> Iterator[list[str]]:
    """The log lines at error level written while the block runs."""
    configure_logging(settings.model_copy(update={"log_format": LogFormat.JSON}))
    found: list[str] = []
    try:
        capsys.readouterr()
        yield found
    finally:
        err = capsys.readouterr().err
        configure_logging(settings)
        found.extend(
            line
            for line in err.splitlines()
            if line[:1] == "{" and json.loads(line).get("level") in ("error", "critical")
        )


def nested(depth: int) -> bytes:
    """A programme whose name is ``depth`` nested arrays (the body itself is one level more)."""
    return b'{"name": ' + b"[" * depth + b"]" * depth + b"}"


async def test_a_body_that_is_not_utf8_is_malformed_not_a_server_error(
    client: Client,
    make_workspace: MakeWorkspace,
    settings: Settings,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ws = await make_workspace()
    latin1 = json.dumps(signup(organisation_name="Café Ltd"), ensure_ascii=False).encode("latin-1")
    with error_lines(settings, capsys) as errors:
        for path, caller, body in (
            (SIGNUPS, None, latin1),
            (ws.programmes, ws, '{"name": "Café"}'.encode("latin-1")),
        ):
            response = await client.post(path, content=body, headers=headers(caller, **JSON))
            assert response.status_code == 400, (path, response.text)
            problem = response.json()
            assert problem["code"] == "malformed-request"
            assert "not valid UTF-8" in problem["detail"]
    assert errors == []  # an error the caller made, not ours: no traceback
    assert (await client.get(ws.programmes, headers=ws.headers)).json()["total"] == 0


async def test_json_nested_too_deeply_is_malformed_not_a_server_error(
    client: Client,
    make_workspace: MakeWorkspace,
    settings: Settings,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ws = await make_workspace()
    deep_signup = json.dumps(signup()).encode()[:-1] + b', "x": ' + b"[" * 1000 + b"]" * 1000 + b"}"
    with error_lines(settings, capsys) as errors:
        # 1,000 levels (a 4 KB body) overflowed the decoder; 600 did not, and were read.
        for path, caller, body in (
            (SIGNUPS, None, deep_signup),
            (ws.programmes, ws, nested(1000)),
            (ws.programmes, ws, nested(600)),
            (ws.programmes, ws, nested(MAX_DEPTH)),
        ):
            response = await client.post(path, content=body, headers=headers(caller, **JSON))
            assert response.status_code == 400, (path, len(body), response.text)
            problem = response.json()
            assert problem["code"] == "malformed-request"
            assert problem["detail"] == f"The JSON is nested too deeply (limit {MAX_DEPTH})."
    assert errors == []
    # Up to the limit a body is read: here the name is then not text.
    within = await client.post(
        ws.programmes, content=nested(MAX_DEPTH - 1), headers=headers(ws, **JSON)
    )
    assert within.status_code == 422, within.text
    assert [e["field"] for e in within.json()["errors"]] == ["name"]


async def test_a_body_not_sent_as_json_is_refused_with_415(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    programme = json.dumps({"name": "Net Zero"}).encode()
    # text/plain and forms are what another site's page can make a browser send unasked.
    for content_type in (
        "text/plain",
        "text/plain; charset=utf-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
        None,
    ):
        sent = {"Content-Type": content_type} if content_type else {}
        for path, caller, body in (
            (SIGNUPS, None, json.dumps(signup()).encode()),
            (ws.programmes, ws, programme),
        ):
            response = await client.post(path, content=body, headers=headers(caller, **sent))
            assert response.status_code == 415, (path, content_type, response.text)
            assert response.headers["content-type"].startswith("application/problem+json")
            assert response.headers["accept-post"] == "application/json"
            problem = response.json()
            assert problem["code"] == "unsupported-media-type"
            assert "application/json" in problem["detail"]
            assert problem["errors"] == [
                {
                    "field": "Content-Type",
                    "message": "expected application/json",
                    "source": "header",
                }
            ]
    assert (await client.get(ws.programmes, headers=ws.headers)).json()["total"] == 0

    made = await client.post(ws.programmes, json={"name": "Kept"}, headers=ws.headers)
    one = f"{ws.programmes}/{made.json()['id']}"
    patched = await client.patch(
        one,
        content=b'{"name": "Changed"}',
        headers={**ws.headers, "If-Match": made.headers["etag"], "Content-Type": "text/plain"},
    )
    assert patched.status_code == 415, patched.text
    assert patched.headers["accept-patch"] == "application/json"
    assert (await client.get(one, headers=ws.headers)).json()["name"] == "Kept"

    # JSON's own types, with parameters, are read; requests without a body need no type.
    for content_type in (
        "application/json; charset=utf-8",
        "Application/JSON",
        "application/vnd.pmo+json",
    ):
        created = await client.post(
            ws.programmes, content=programme, headers=headers(ws, **{"Content-Type": content_type})
        )
        assert created.status_code == 201, (content_type, created.text)
    assert (await client.delete(one, headers=ws.headers)).status_code == 204


async def test_a_missing_or_non_object_body_is_named_as_the_body(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    for path, caller in ((SIGNUPS, None), (ws.programmes, ws)):
        for body, message in (
            (b"", "a JSON object is required"),
            (b"[]", "expected a JSON object, got array"),
            (b'"Net Zero"', "expected a JSON object, got str"),
            (b"null", "expected a JSON object, got null"),
        ):
            response = await client.post(path, content=body, headers=headers(caller, **JSON))
            assert response.status_code == 422, (path, body, response.text)
            problem = response.json()
            assert problem["code"] == "validation-error"
            assert problem["errors"] == [{"field": "", "message": message, "source": "body"}]
            assert problem["detail"] == f"body: {message}"


async def test_an_id_that_is_not_a_uuid_is_a_404_that_says_so(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    nowhere = f"/api/v1/w/no-such-{uuid.uuid4().hex[:8]}/programmes/not-a-uuid"
    cases = [
        ("/api/v1/provisioning-runs/not-a-uuid", {}, "run_id"),
        (f"{ws.programmes}/not-a-uuid", ws.headers, "programme_id"),
        # Anonymous, or in a workspace that does not exist: the same answer, read from the URL
        # alone, so it tells nothing about the workspace.
        (f"{ws.programmes}/not-a-uuid", {}, "programme_id"),
        (nowhere, ws.headers, "programme_id"),
        (nowhere, {}, "programme_id"),
    ]
    for path, sent, name in cases:
        response = await client.get(path, headers=sent)
        assert response.status_code == 404, (path, response.text)
        problem = response.json()
        assert problem["code"] == "not-found"
        assert problem["detail"] == "'not-a-uuid' is not an id here (ids are UUIDs)."
        assert problem["errors"] == [{"field": name, "message": "not a UUID", "source": "path"}]
    # An id that is a UUID but names nothing is a plain 404.
    missing = await client.get(f"{ws.programmes}/{uuid.uuid4()}", headers=ws.headers)
    assert missing.status_code == 404
    assert "errors" not in missing.json()


async def test_allow_names_head_where_get_is_served(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    one = f"{ws.programmes}/{uuid.uuid4()}"
    for path, allow in (
        (ws.programmes, "GET, HEAD, OPTIONS, POST"),
        (one, "DELETE, GET, HEAD, OPTIONS, PATCH"),
        ("/health/live", "GET, HEAD, OPTIONS"),
        (SIGNUPS, "OPTIONS, POST"),
    ):
        options = await client.options(path, headers=ws.headers)
        assert (options.status_code, options.headers["allow"]) == (204, allow), path
        refused = await client.put(path, headers=ws.headers)
        assert (refused.status_code, refused.headers["allow"]) == (405, allow), path
    assert (await client.head(SIGNUPS)).headers["allow"] == "OPTIONS, POST"


async def test_the_schema_documents_415_where_a_body_is_taken(client: Client) -> None:
    paths = (await client.get("/schema/openapi.json")).json()["paths"]
    programmes = paths["/api/v1/w/{slug}/programmes"]
    assert programmes["post"]["responses"]["415"]["description"] == (
        "Problem: unsupported-media-type"
    )
    assert "415" not in programmes["get"]["responses"]
    assert "415" in paths[SIGNUPS]["post"]["responses"]
