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
from services.bodies import MAX_DEPTH, NO_BODY
from services.config import LogFormat, Settings
from services.db.engine import Database
from services.logging import configure_logging
from services.parameters import WHOLE_NUMBER
from tests.conftest import MakeWorkspace, Workspace
from tests.workspace_api import make, programme, url

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


def assert_refused_as_not_json(response: Any, method: str) -> None:
    assert response.status_code == 415, response.text
    problem = response.json()
    assert problem["code"] == "unsupported-media-type"
    assert problem["detail"].startswith("This route takes no body; send none, or {} as ")
    assert problem["errors"] == [
        {"field": "Content-Type", "message": "expected application/json", "source": "header"}
    ]
    assert response.headers.get("accept-post") == ("application/json" if method == "POST" else None)


def assert_refused_as_a_body(response: Any) -> None:
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["code"] == "validation-error"
    assert problem["detail"] == NO_BODY
    assert problem["errors"] == [
        {"field": "", "message": "this route takes no body", "source": "body"}
    ]


# What a route that takes no body refuses: anything but nothing or the empty object.
NOT_JSON = (("text/plain", b"x"), ("application/x-www-form-urlencoded", b"a=1"), (None, b"{}"))
NOT_EMPTY = (b'{"foo": 1}', b"null", b"[]", b"{} {}", b"not json")


async def test_offboarding_takes_only_its_confirmation_and_anything_else_does_not_offboard(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    offboarding = f"/api/v1/w/{ws.slug}/offboarding"
    for content_type, body in NOT_JSON:
        sent = {"Content-Type": content_type} if content_type else {}
        response = await client.post(offboarding, content=body, headers={**ws.headers, **sent})
        assert response.status_code == 415, response.text
        assert response.json()["errors"][0]["field"] == "Content-Type"
    # The body names the workspace: without it, or naming another, nothing is started.
    for body in (b"", b"null", b"{}", b'{"confirm": "another-workspace"}'):
        response = await client.post(offboarding, content=body, headers={**ws.headers, **JSON})
        assert response.status_code == 422, (body, response.text)
        assert [e["field"] for e in response.json()["errors"]] == ["confirm"], body
    bare = await client.post(offboarding, headers=ws.headers)
    assert bare.status_code == 422 and bare.json()["errors"][0]["field"] == "confirm", bare.text
    unknown = await client.post(
        offboarding, json={"confirm": ws.slug, "foo": 1}, headers=ws.headers
    )
    assert unknown.status_code == 422, unknown.text
    assert unknown.json()["errors"][0]["field"] == "foo"
    for body in (b"{} {}", b"not json"):
        response = await client.post(offboarding, content=body, headers={**ws.headers, **JSON})
        assert response.status_code == 400, (body, response.text)
    # Refused before authentication, as a bad body is on a route that takes one.
    anonymous = await client.post(offboarding, content=b"x", headers={"Content-Type": "text/plain"})
    assert anonymous.status_code == 415, anonymous.text
    # Nothing was started: the workspace is still open, and offboarding it is accepted once.
    assert (await client.post(ws.programmes, json={"name": "Open"}, headers=ws.headers)).is_success
    accepted = await client.post(offboarding, json={"confirm": ws.slug}, headers=ws.headers)
    assert accepted.status_code == 202, accepted.text
    again = await client.post(offboarding, json={"confirm": ws.slug}, headers=ws.headers)
    assert again.status_code == 409, again.text


async def test_a_delete_with_a_body_is_refused_and_deletes_nothing(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    lesson = await make(client, ws, "lessons", {"programme_id": prog["id"], "title": "Kept"})
    one = url(ws, f"lessons/{lesson['id']}")
    for content_type, body in NOT_JSON:
        sent = {"Content-Type": content_type} if content_type else {}
        response = await client.request("DELETE", one, content=body, headers={**ws.headers, **sent})
        assert_refused_as_not_json(response, "DELETE")
    for body in NOT_EMPTY:
        response = await client.request("DELETE", one, content=body, headers={**ws.headers, **JSON})
        assert_refused_as_a_body(response)
    assert (await client.get(one, headers=ws.headers)).status_code == 200
    deleted = await client.request("DELETE", one, content=b"{}", headers={**ws.headers, **JSON})
    assert deleted.status_code == 204, deleted.text
    assert (await client.get(one, headers=ws.headers)).status_code == 404


async def test_a_read_with_a_body_is_refused(client: Client, make_workspace: MakeWorkspace) -> None:
    ws = await make_workspace()
    # Content on a GET has no defined meaning (RFC 9110 §9.3.1): refused, not guessed at.
    for method in ("GET", "HEAD"):
        sent = {**ws.headers, "Content-Type": "text/plain"}
        response = await client.request(method, ws.programmes, content=b"x", headers=sent)
        assert response.status_code == 415, (method, response.text)
        response = await client.request(
            method, ws.programmes, content=b'{"name": "x"}', headers={**ws.headers, **JSON}
        )
        assert response.status_code == 422, (method, response.text)
        empty = await client.request(
            method, ws.programmes, content=b"{}", headers=ws.headers | JSON
        )
        assert empty.status_code == 200, (method, empty.text)
    get = await client.request("GET", ws.programmes, content=b"[1]", headers=ws.headers | JSON)
    assert_refused_as_a_body(get)
    # The probes and the schema are outside the API: they read nothing and refuse nothing.
    assert (await client.request("GET", "/health/live", content=b"x")).status_code == 200


async def green_draft(client: Client, ws: Workspace) -> dict[str, Any]:
    """A draft status report of a new programme, ready to publish."""
    prog = await programme(client, ws)
    body = {
        "programme_id": prog["id"],
        "period_start": "2026-01-01",
        "period_end": "2026-01-31",
        "overall_rag": "green",
    }
    return await make(client, ws, "status-reports", body)


async def test_publishing_refuses_null_as_its_body(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    draft = await green_draft(client, ws)
    current = {**ws.headers, "If-Match": f'"{draft["version"]}"', **JSON}
    publishing = url(ws, f"status-reports/{draft['id']}/publish")
    refused = await client.post(publishing, content=b"null", headers=current)
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"] == [
        {"field": "", "message": "expected a JSON object, got null", "source": "body"}
    ]
    still = await client.get(url(ws, f"status-reports/{draft['id']}"), headers=ws.headers)
    assert still.json()["state"] == "draft"
    # No body at all is publishing as it stands.
    published = await client.post(publishing, headers=current)
    assert published.status_code == 200, published.text
    assert published.json()["state"] == "published"


async def test_json_that_does_not_parse_says_where_and_why(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    for body, says in (
        # A high surrogate with no low one after it: msgspec says "truncated", which misleads.
        (rb'{"name": "\ud800 tail"}', "surrogate"),
        (rb'{"name": "\ud800"}', "unpaired UTF-16 surrogate"),
        (rb'{"name": "x\ud800y"}', "unpaired UTF-16 surrogate"),
        (rb'{"name": "\udc00"}', "surrogate"),
        (b'{"name": "cut', "truncated"),
        (b'{"name": }', "malformed"),
    ):
        response = await client.post(ws.programmes, content=body, headers=headers(ws, **JSON))
        assert response.status_code == 400, (body, response.text)
        problem = response.json()
        assert problem["code"] == "malformed-request", problem
        assert says in problem["detail"], (body, problem["detail"])
    assert (await client.get(ws.programmes, headers=ws.headers)).json()["total"] == 0


async def test_the_routers_own_answers_say_what_happened_in_our_words(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    nowhere = await client.get("/api/v1/nowhere", headers=ws.headers)
    assert nowhere.status_code == 404
    assert nowhere.json()["title"] == "Not found"
    assert nowhere.json()["detail"] == (
        "Nothing is at /api/v1/nowhere (the API's paths are listed at /schema)."
    )
    wrong = await client.put(ws.programmes, json={}, headers=ws.headers)
    assert wrong.status_code == 405
    allowed = wrong.headers["allow"]
    assert wrong.json()["detail"] == (
        f"PUT is not allowed on {ws.programmes}; it allows {allowed}."
    )
    # A bad body, whichever layer finds it, has one title.
    for body in (b"{", b'{"name": "\\ud800"}'):
        unread = await client.post(ws.programmes, content=body, headers=headers(ws, **JSON))
        assert unread.status_code == 400
        assert unread.json()["title"] == "The request could not be read", unread.text
    # msgspec's words said as a person would: bounds, lengths, types, dates.
    said = await client.post(
        ws.programmes,
        json={"name": "", "budget": True, "start_date": "soon"},
        headers=ws.headers,
    )
    assert said.status_code == 422
    messages = {e["field"]: e["message"] for e in said.json()["errors"]}
    assert set(messages.values()) & {
        "at least 1 character",
        "must be a number or null, not true or false",
        "must be a date (YYYY-MM-DD)",
    }, messages


async def test_every_required_field_or_parameter_left_out_is_named_in_one_answer(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    # A body: msgspec stops at the first one missing; the answer names them all.
    partial = await client.post(
        SIGNUPS, json={"organisation_name": "Acme", "admin_email": "a@acme.example"}
    )
    assert partial.status_code == 422, partial.text
    missing = [e["field"] for e in partial.json()["errors"] if e["message"] == "required"]
    assert {"plan", "template_pack", "programme_name", "start_date"} <= set(missing), missing
    assert len(missing) == len(set(missing))  # each once
    # Nested objects too: every criterion that lacks its text, and the gate's own title.
    prog = (await client.post(ws.programmes, json={"name": "P"}, headers=ws.headers)).json()
    nested = await client.post(
        f"/api/v1/w/{ws.slug}/stage-gates",
        json={"programme_id": prog["id"], "criteria": [{}, {"text": "Ready"}, {"mandatory": 1}]},
        headers=ws.headers,
    )
    assert nested.status_code == 422, nested.text
    assert sorted(e["field"] for e in nested.json()["errors"] if e["message"] == "required") == [
        "criteria[0].text",
        "criteria[2].text",
        "title",
    ], nested.text
    # Query parameters: the board pack needs both ends of its period.
    pack = await client.get(f"{ws.programmes}/{prog['id']}/board-pack", headers=ws.headers)
    assert pack.status_code == 422, pack.text
    assert [(e["field"], e["source"]) for e in pack.json()["errors"]] == [
        ("period_end", "query"),
        ("period_start", "query"),
    ]


def _text_without_a_pattern(
    schema: Any, components: dict[str, Any], where: str, ruled: bool = False
) -> list[str]:
    """Places in a request body's schema where free text has no pattern (so no NUL rule)."""
    if not isinstance(schema, dict):
        return []
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return _text_without_a_pattern(components[name], components, f"{where}→{name}", ruled)
    members = [m for key in ("oneOf", "anyOf", "allOf") for m in schema.get(key, [])]
    if members:
        # What stands beside the members (how optional fields read) holds for each too.
        beside = {k: v for k, v in schema.items() if k not in ("oneOf", "anyOf", "allOf")}
        return [
            found
            for i, member in enumerate(members)
            for found in _text_without_a_pattern(
                member if "$ref" in member else {**member, **beside},
                components,
                f"{where}[{i}]",
                ruled,
            )
        ]
    ruled = ruled or bool({"pattern", "enum", "format", "const"} & set(schema))
    found = [where] if schema.get("type") == "string" and not ruled else []
    for name, inner in schema.get("properties", {}).items():
        found += _text_without_a_pattern(inner, components, f"{where}.{name}")
    if "items" in schema:
        found += _text_without_a_pattern(schema["items"], components, f"{where}[]")
    return found


async def test_every_text_a_body_takes_refuses_nul_characters(client: Client) -> None:
    """PostgreSQL text cannot hold NUL: a field without the rule was a 500 on insert (the
    fuzzer found a benefit's unit). Every free-text field of every request body has a pattern."""
    document = (await client.get("/schema/openapi.json")).json()
    components = document["components"]["schemas"]
    missing = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            body = operation.get("requestBody", {}).get("content", {})
            for media in body.values():
                missing += _text_without_a_pattern(
                    media.get("schema"), components, f"{method.upper()} {path}"
                )
    assert sorted(set(missing)) == []


async def test_numbers_are_asked_for_in_plain_words_in_bodies_and_queries(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = (await client.post(ws.programmes, json={"name": "P"}, headers=ws.headers)).json()
    half = await client.post(
        f"/api/v1/w/{ws.slug}/risks",
        json={
            "programme_id": prog["id"],
            "title": "R",
            "inherent_probability": 2.5,
            "inherent_impact": 2,
        },
        headers=ws.headers,
    )
    assert half.status_code == 422
    # 2.5 is a number too: what is wanted is said, not "not a number".
    assert half.json()["errors"][0]["message"] == "must be a whole number"
    for limit in ("abc", "1.5"):
        listed = await client.get(ws.programmes, params={"limit": limit}, headers=ws.headers)
        assert listed.status_code == 422
        # Every value in a URL is text: no "not text" there.
        assert listed.json()["errors"] == [
            {"field": "limit", "message": WHOLE_NUMBER, "source": "query"}
        ]
