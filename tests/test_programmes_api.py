"""The programmes API: the pattern every workspace resource follows."""

from __future__ import annotations

import uuid

from litestar import Litestar
from litestar.testing import AsyncTestClient

from services.identity.models import Role, TokenScope
from services.tenancy.models import TenantState
from tests.conftest import MakeWorkspace

Client = AsyncTestClient[Litestar]


async def test_owner_creates_reads_lists_updates_and_deletes_a_programme(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    created = await client.post(
        ws.programmes,
        json={"name": "Net Zero 2030", "start_date": "2027-01-01", "end_date": "2029-12-31"},
        headers=ws.headers,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["name"] == "Net Zero 2030"
    assert body["state"] == "identifying"
    assert body["version"] == 1
    assert body["created_by"] == str(ws.user_id)
    assert created.headers["etag"] == '"1"'
    assert created.headers["location"].endswith(body["id"])

    fetched = await client.get(f"{ws.programmes}/{body['id']}", headers=ws.headers)
    assert fetched.status_code == 200
    assert fetched.json() == body

    listed = await client.get(ws.programmes, headers=ws.headers)
    assert listed.json()["total"] == 1
    assert [p["id"] for p in listed.json()["items"]] == [body["id"]]

    changed = await client.patch(
        f"{ws.programmes}/{body['id']}",
        json={"state": "delivering", "description": "Tranche 1 underway"},
        headers={**ws.headers, "If-Match": created.headers["etag"]},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["version"] == 2
    assert changed.json()["state"] == "delivering"
    assert changed.json()["name"] == "Net Zero 2030"
    assert changed.headers["etag"] == '"2"'

    deleted = await client.delete(f"{ws.programmes}/{body['id']}", headers=ws.headers)
    assert deleted.status_code == 204
    gone = await client.get(f"{ws.programmes}/{body['id']}", headers=ws.headers)
    assert gone.status_code == 404
    assert gone.headers["content-type"].startswith("application/problem+json")


async def test_list_is_paginated_filtered_and_sorted(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    seeds = [("Bravo", "delivering"), ("alpha", "identifying"), ("Charlie", "delivering")]
    for name, state in seeds:
        response = await client.post(
            ws.programmes, json={"name": name, "state": state}, headers=ws.headers
        )
        assert response.status_code == 201

    page = await client.get(ws.programmes, params={"limit": 2, "sort": "name"}, headers=ws.headers)
    assert page.status_code == 200
    envelope = page.json()
    assert [p["name"] for p in envelope["items"]] == ["alpha", "Bravo"]
    assert (envelope["total"], envelope["limit"], envelope["offset"], envelope["has_more"]) == (
        3,
        2,
        0,
        True,
    )
    rest = await client.get(
        ws.programmes, params={"limit": 2, "offset": 2, "sort": "name"}, headers=ws.headers
    )
    assert [p["name"] for p in rest.json()["items"]] == ["Charlie"]
    assert rest.json()["has_more"] is False

    delivering = await client.get(ws.programmes, params={"state": "delivering"}, headers=ws.headers)
    assert {p["name"] for p in delivering.json()["items"]} == {"Bravo", "Charlie"}

    too_big = await client.get(ws.programmes, params={"limit": 5000}, headers=ws.headers)
    assert too_big.status_code == 422
    assert too_big.json()["errors"] == [
        {"field": "limit", "message": "at most 200", "source": "query"}
    ]
    # A parameter is named as the request names it, not as the handler's argument is.
    no_such_state = await client.get(ws.programmes, params={"state": "bogus"}, headers=ws.headers)
    assert no_such_state.status_code == 422
    assert [(e["field"], e["source"]) for e in no_such_state.json()["errors"]] == [
        ("state", "query")
    ]


async def test_unknown_query_parameters_are_refused_once_the_caller_is_known(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    for name, state in [("Bravo", "delivering"), ("Alpha", "identifying")]:
        made = await client.post(
            ws.programmes, json={"name": name, "state": state}, headers=ws.headers
        )
        assert made.status_code == 201

    # A typo of `state` must not quietly answer with every programme.
    typo = await client.get(ws.programmes, params={"stat": "delivering"}, headers=ws.headers)
    assert typo.status_code == 422
    problem = typo.json()
    assert problem["code"] == "validation-error"
    assert problem["errors"] == [
        {"field": "stat", "message": "not a parameter here", "source": "query"}
    ]
    assert "'stat'" in problem["detail"] and "state" in problem["detail"]
    several = await client.get(f"{ws.programmes}?b=1&a=2&limit=5", headers=ws.headers)
    assert [e["field"] for e in several.json()["errors"]] == ["a", "b"]
    # Declared parameters, the dependencies' (paging) included, still work.
    fine = await client.get(
        ws.programmes, params={"state": "delivering", "limit": 5}, headers=ws.headers
    )
    assert [p["name"] for p in fine.json()["items"]] == ["Bravo"]

    # A write with an unknown parameter is refused before it writes.
    refused = await client.post(
        ws.programmes, params={"dry_run": "1"}, json={"name": "Charlie"}, headers=ws.headers
    )
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "dry_run"
    assert (await client.get(ws.programmes, headers=ws.headers)).json()["total"] == 2

    # Authentication comes first: an anonymous caller learns nothing about our parameters.
    anonymous = await client.get(ws.programmes, params={"stat": "x"})
    assert anonymous.status_code == 401
    # Outside the API (health probes may add their own) the query is not checked.
    assert (await client.get("/health/live", params={"probe": "k8s"})).status_code == 200


async def test_head_is_get_without_the_body(client: Client, make_workspace: MakeWorkspace) -> None:
    ws = await make_workspace()
    made = await client.post(ws.programmes, json={"name": "Net Zero"}, headers=ws.headers)
    one = f"{ws.programmes}/{made.json()['id']}"
    for path in (one, ws.programmes, f"/api/v1/w/{ws.slug}/projects/export.csv"):
        got = await client.get(path, headers=ws.headers)
        head = await client.head(path, headers=ws.headers)
        assert (head.status_code, got.status_code) == (200, 200), path
        assert head.content == b"" and got.content, path
        for header in ("content-type", "etag"):
            assert head.headers.get(header) == got.headers.get(header), (path, header)
    assert (await client.head(one)).status_code == 401
    # Only where GET is served: a POST-only route still answers 405.
    assert (await client.head("/api/v1/signups")).status_code == 405


async def test_invalid_input_is_a_problem_with_field_errors_and_writes_nothing(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    cases = [
        ({"name": ""}, "name"),
        ({"name": " \t "}, "name"),
        ({"name": "nul\u0000byte"}, "name"),
        ({"description": "no name"}, "name"),
        ({"name": "X", "state": "finished"}, "state"),
        ({"name": "X", "start_date": "not a date"}, "start_date"),
        ({"name": "X", "colour": "blue"}, "colour"),
        ({"name": "X", "start_date": "2027-06-01", "end_date": "2027-01-01"}, "end_date"),
        ({"name": "X", "owner_id": str(uuid.uuid4())}, "owner_id"),
        ({"name": "X", "budget": -1}, "budget"),
        ({"name": "X", "forecast_cost": -0.01}, "forecast_cost"),
    ]
    for payload, field in cases:
        response = await client.post(ws.programmes, json=payload, headers=ws.headers)
        assert response.status_code == 422, (payload, response.text)
        problem = response.json()
        assert response.headers["content-type"].startswith("application/problem+json")
        assert problem["code"] == "validation-error"
        assert problem["type"].endswith("/validation-error")
        assert problem["status"] == 422
        # The field itself, also when msgspec names it in its message (missing, unknown).
        assert [e["field"] for e in problem["errors"]] == [field], problem
        if payload == {"description": "no name"}:
            assert problem["errors"][0]["message"] == "required", problem
        if field == "colour":
            assert problem["errors"][0]["message"] == "not a field here", problem
        if payload == {"name": " \t "}:
            assert problem["errors"][0]["message"] == "not blank, and no NUL characters", problem
        assert {e["source"] for e in problem["errors"]} == {"body"}, problem

    malformed = await client.post(
        ws.programmes,
        content=b"{not json",
        headers={**ws.headers, "Content-Type": "application/json"},
    )
    assert malformed.status_code == 400
    assert malformed.json()["code"] == "malformed-request"

    listed = await client.get(ws.programmes, headers=ws.headers)
    assert listed.json()["total"] == 0


async def test_a_budget_or_forecast_cost_is_never_negative(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    created = await client.post(
        ws.programmes, json={"name": "X", "budget": 0, "forecast_cost": 0}, headers=ws.headers
    )
    assert created.status_code == 201, created.text
    for field in ("budget", "forecast_cost"):
        response = await client.patch(
            f"{ws.programmes}/{created.json()['id']}",
            json={field: -500},
            headers={**ws.headers, "If-Match": '"1"'},
        )
        assert response.status_code == 422, response.text
        assert [e["field"] for e in response.json()["errors"]] == [field]


async def test_owner_may_be_any_member_of_the_workspace(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    response = await client.post(
        ws.programmes, json={"name": "Owned", "owner_id": str(ws.user_id)}, headers=ws.headers
    )
    assert response.status_code == 201
    assert response.json()["owner_id"] == str(ws.user_id)


async def test_update_needs_the_current_etag(client: Client, make_workspace: MakeWorkspace) -> None:
    ws = await make_workspace()
    created = (await client.post(ws.programmes, json={"name": "P"}, headers=ws.headers)).json()
    url = f"{ws.programmes}/{created['id']}"

    missing = await client.patch(url, json={"name": "Q"}, headers=ws.headers)
    assert missing.status_code == 428
    assert missing.json()["code"] == "if-match-required"

    first = await client.patch(url, json={"name": "Q"}, headers={**ws.headers, "If-Match": '"1"'})
    assert first.status_code == 200
    stale = await client.patch(url, json={"name": "R"}, headers={**ws.headers, "If-Match": '"1"'})
    assert stale.status_code == 412
    assert stale.json()["code"] == "version-mismatch"
    assert stale.json()["current_etag"] == '"2"'

    current = await client.get(url, headers=ws.headers)
    assert current.json()["name"] == "Q"


async def test_same_idempotency_key_creates_once_and_replays_the_answer(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    headers = {**ws.headers, "Idempotency-Key": "create-programme-1"}
    first = await client.post(ws.programmes, json={"name": "Once"}, headers=headers)
    again = await client.post(ws.programmes, json={"name": "Once"}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers

    listed = await client.get(ws.programmes, headers=ws.headers)
    assert listed.json()["total"] == 1

    reused = await client.post(ws.programmes, json={"name": "Other"}, headers=headers)
    assert reused.status_code == 422
    assert reused.json()["code"] == "idempotency-key-reused"


async def test_a_failed_create_does_not_burn_its_idempotency_key(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    headers = {**ws.headers, "Idempotency-Key": "k-2"}
    bad = {"name": "B", "start_date": "2027-02-01", "end_date": "2027-01-01"}
    assert (await client.post(ws.programmes, json=bad, headers=headers)).status_code == 422
    good = await client.post(ws.programmes, json=bad | {"end_date": None}, headers=headers)
    assert good.status_code == 201


async def test_viewer_reads_but_cannot_write(client: Client, make_workspace: MakeWorkspace) -> None:
    ws = await make_workspace(Role.VIEWER)
    assert (await client.get(ws.programmes, headers=ws.headers)).status_code == 200
    refused = await client.post(ws.programmes, json={"name": "Nope"}, headers=ws.headers)
    assert refused.status_code == 403
    assert refused.json()["code"] == "forbidden"
    assert "member" in refused.json()["detail"]


async def test_member_writes_but_only_admins_delete_a_programme(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace(Role.MEMBER)
    response = await client.post(ws.programmes, json={"name": "Yes"}, headers=ws.headers)
    assert response.status_code == 201
    one = f"{ws.programmes}/{response.json()['id']}"
    changed = await client.patch(
        one, json={"name": "Still yes"}, headers={**ws.headers, "If-Match": '"1"'}
    )
    assert changed.status_code == 200
    # Deleting a programme deletes everything in it: a member may not.
    refused = await client.delete(one, headers=ws.headers)
    assert refused.status_code == 403
    assert "admin" in refused.json()["detail"]
    assert (await client.get(one, headers=ws.headers)).status_code == 200


async def test_read_only_token_cannot_write(client: Client, make_workspace: MakeWorkspace) -> None:
    ws = await make_workspace(scopes=frozenset({TokenScope.READ}))
    assert (await client.get(ws.programmes, headers=ws.headers)).status_code == 200
    refused = await client.post(ws.programmes, json={"name": "Nope"}, headers=ws.headers)
    assert refused.status_code == 403


async def test_requests_without_a_valid_token_are_unauthenticated(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    for headers in ({}, {"Authorization": "Bearer pmo_wrong"}, {"Authorization": "Basic abc"}):
        response = await client.get(ws.programmes, headers=headers)
        assert response.status_code == 401
        assert response.json()["code"] == "unauthenticated"
        assert response.headers["www-authenticate"].startswith("Bearer")


async def test_suspended_workspace_reads_but_refuses_writes(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace(state=TenantState.SUSPENDED)
    assert (await client.get(ws.programmes, headers=ws.headers)).status_code == 200
    refused = await client.post(ws.programmes, json={"name": "P"}, headers=ws.headers)
    assert refused.status_code == 403
    assert refused.json()["code"] == "tenant-suspended"
    assert refused.json()["type"].endswith("/tenant-suspended")


async def test_deleted_and_unknown_workspaces_are_not_found(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace(state=TenantState.DELETED)
    assert (await client.get(ws.programmes, headers=ws.headers)).status_code == 404
    unknown = await client.get("/api/v1/w/no-such-org/programmes", headers=ws.headers)
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "not-found"


async def test_workspace_still_provisioning_is_unavailable_to_its_members(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace(state=TenantState.PROVISIONING)
    response = await client.get(ws.programmes, headers=ws.headers)
    assert response.status_code == 409
    assert response.json()["code"] == "tenant-unavailable"


async def test_oversized_body_is_refused(client: Client, make_workspace: MakeWorkspace) -> None:
    ws = await make_workspace()
    huge = {"name": "Big", "description": "x" * 2_000_000}
    response = await client.post(ws.programmes, json=huge, headers=ws.headers)
    assert response.status_code == 413
    assert response.json()["code"] == "payload-too-large"


async def test_errors_carry_the_request_id(client: Client, make_workspace: MakeWorkspace) -> None:
    ws = await make_workspace()
    response = await client.get(
        f"{ws.programmes}/{uuid.uuid4()}", headers={**ws.headers, "X-Request-ID": "req-12345678"}
    )
    assert response.status_code == 404
    assert response.headers["x-request-id"] == "req-12345678"
    assert response.json()["request_id"] == "req-12345678"

    # Also where no route matches: the access log wraps the whole application.
    for method, path in (("GET", "/api/v1/no-such-thing"), ("DELETE", ws.programmes)):
        missed = await client.request(method, path, headers={"X-Request-ID": "req-87654321"})
        assert missed.status_code in (404, 405), missed.text
        assert missed.headers["x-request-id"] == "req-87654321"
        assert missed.json()["request_id"] == "req-87654321"
