"""``Idempotency-Key`` on every POST, Stripe-style: the action POSTs (deciding a change request,
publishing a status report) replay their first answer for the same key, refuse another request
under it, and a refused attempt (412, 428) leaves the key free."""

from __future__ import annotations

import uuid
from typing import Any

from services.db.engine import Database
from services.identity.models import Role
from tests.conftest import MakeWorkspace, Workspace, join
from tests.workspace_api import Client, change, make, programme, url


async def submitted_change(client: Client, ws: Workspace) -> tuple[dict[str, Any], str]:
    """A submitted change request and its ETag."""
    prog = await programme(client, ws)
    request = await make(
        client, ws, "change-requests", {"programme_id": prog["id"], "title": "Add payments"}
    )
    submitted = await change(client, ws, "change-requests", request, {"state": "submitted"})
    assert submitted.status_code == 200, submitted.text
    return submitted.json(), submitted.headers["etag"]


async def test_a_change_decision_retried_with_its_key_answers_the_first_answer(
    client: Client, make_workspace: MakeWorkspace, database: Database
) -> None:
    ws = await make_workspace()
    decider = await join(database, ws, Role.ADMIN)
    request, tag = await submitted_change(client, ws)
    decision = url(ws, f"change-requests/{request['id']}/decision")
    key = {"Idempotency-Key": str(uuid.uuid4())}

    # Without If-Match: 428, and the key stays free for the real attempt.
    unasked = await client.post(
        decision, json={"decision": "approved"}, headers={**decider.headers, **key}
    )
    assert unasked.status_code == 428, unasked.text

    current = {**decider.headers, **key, "If-Match": tag}
    approved = await client.post(decision, json={"decision": "approved"}, headers=current)
    replayed = await client.post(decision, json={"decision": "approved"}, headers=current)

    assert approved.status_code == 200, approved.text
    assert "idempotent-replayed" not in approved.headers
    # The decision moved the ETag on (a plain retry would be a 412); the key's retry replays.
    assert replayed.status_code == 200, replayed.text
    assert replayed.headers["idempotent-replayed"] == "true"
    assert replayed.json() == approved.json()
    assert replayed.headers["etag"] == approved.headers["etag"]
    # Another request under the key is refused, and changes nothing.
    other = await client.post(
        decision, json={"decision": "rejected"}, headers={**current, "If-Match": "*"}
    )
    assert other.status_code == 422, other.text
    assert other.json()["code"] == "idempotency-key-reused"
    read = await client.get(url(ws, f"change-requests/{request['id']}"), headers=ws.headers)
    assert read.json()["state"] == "approved"
    assert read.headers["etag"] == approved.headers["etag"]


async def test_a_publish_retried_with_its_key_answers_the_first_answer(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    draft = await make(
        client,
        ws,
        "status-reports",
        {
            "programme_id": prog["id"],
            "period_start": "2026-01-01",
            "period_end": "2026-01-31",
            "overall_rag": "green",
        },
    )
    publishing = url(ws, f"status-reports/{draft['id']}/publish")
    keyed = {**ws.headers, "Idempotency-Key": str(uuid.uuid4())}

    stale = await client.post(publishing, headers={**keyed, "If-Match": '"99"'})
    assert stale.status_code == 412, stale.text

    current = {**keyed, "If-Match": f'"{draft["version"]}"'}
    published = await client.post(publishing, headers=current)
    # No body and the empty object are the same request.
    replayed = await client.post(publishing, json={}, headers=current)

    assert published.status_code == 200, published.text
    assert published.json()["state"] == "published"
    assert replayed.status_code == 200, replayed.text
    assert replayed.headers["idempotent-replayed"] == "true"
    assert replayed.json() == published.json()
    # Without the key, the retry is what it always was: the draft moved on (412).
    plain = await client.post(publishing, headers={**ws.headers, "If-Match": current["If-Match"]})
    assert plain.status_code == 412, plain.text
    # The key is the workspace's: publishing another report under it is refused.
    other = await make(
        client,
        ws,
        "status-reports",
        {"programme_id": prog["id"], "period_start": "2026-02-01", "period_end": "2026-02-28"},
    )
    reused = await client.post(
        url(ws, f"status-reports/{other['id']}/publish"),
        headers={**keyed, "If-Match": f'"{other["version"]}"'},
    )
    assert reused.status_code == 422, reused.text
    assert reused.json()["code"] == "idempotency-key-reused"
    still = await client.get(url(ws, f"status-reports/{other['id']}"), headers=ws.headers)
    assert still.json()["state"] == "draft"


async def test_every_post_takes_an_idempotency_key_and_documents_its_replay(
    client: Client,
) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    posts = {path: item["post"] for path, item in schema["paths"].items() if "post" in item}
    assert len(posts) > 20
    for path, operation in posts.items():
        names = {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}
        assert "Idempotency-Key" in names, path
        status = next(s for s in operation["responses"] if s.startswith("2"))
        assert "Idempotent-Replayed" in operation["responses"][status]["headers"], path
        assert "idempotency-key-reused" in operation["responses"]["422"]["description"], path
