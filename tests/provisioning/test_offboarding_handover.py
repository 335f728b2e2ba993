"""What a leaving client gets back after its workspace is gone: the export, through the run's
status (time-limited links to its files), and the first answer to a retried request."""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from services.db.engine import Database
from services.identity import service as identity
from services.tenancy import service as tenancy
from tests.provisioning.conftest import (
    SIGNUP,
    Env,
    platform_admin_headers,
    provisioned,
    signup_body,
    succeeded,
    wait_for_run,
)

Client = AsyncTestClient[Litestar]
pytestmark = pytest.mark.usefixtures("worker")


async def test_the_completed_offboarding_hands_the_export_to_whoever_reads_its_status(
    shared_client: Client, shared_database: Database, shared: Env
) -> None:
    slug, owner = await provisioned(shared_client, shared_database, shared)
    made = await shared_client.post(
        f"/api/v1/w/{slug}/programmes", json={"name": "Take me along"}, headers=owner
    )
    assert made.status_code == 201, made.text
    answer = await shared_client.post(
        f"/api/v1/w/{slug}/offboarding", json={"confirm": slug}, headers=owner
    )
    assert answer.status_code == 202, answer.text
    status_url = answer.json()["status_url"]
    # No export to hand over until the run has finished.
    early = (await shared_client.get(status_url)).json()
    assert "export" not in early or early["state"] == "succeeded"
    await wait_for_run(shared_database, answer.json()["run_id"], succeeded)

    # The owner's token is revoked by now: the status is read as the signup page reads it,
    # with the token the client polled with too (it reads as anonymous, not as a 401).
    status = (await shared_client.get(status_url)).json()
    polled = await shared_client.get(status_url, headers=owner)
    assert polled.status_code == 200, polled.text
    assert set(polled.json()["export"]["files"]) == set(status["export"]["files"])
    unknown = await shared_client.get(status_url, headers={"Authorization": "Bearer pmo_x"})
    assert unknown.status_code == 401
    export = status["export"]
    expires = datetime.fromisoformat(export["expires_at"])
    now = datetime.now(UTC)
    assert now < expires <= now + timedelta(hours=1, minutes=1)
    files = export["files"]
    # Signed links (moto does not check signatures; S3 does), valid for an hour.
    link = httpx.URL(files["workspace.json"])
    assert link.path.endswith(f"/exports/{answer.json()['run_id']}/workspace.json")
    assert link.params["X-Amz-Expires"] == "3600" and link.params["X-Amz-Signature"]
    assert {"workspace.json", "members.csv", "programmes.csv"} <= set(files)
    async with httpx.AsyncClient() as s3:
        document = await s3.get(files["workspace.json"])
        assert document.status_code == 200, document.text
        programmes = await s3.get(files["programmes.csv"])
        assert programmes.status_code == 200
    parsed = json.loads(document.content)
    assert parsed["format"] == "pmo-workspace-export/1"
    assert parsed["tenant"]["slug"] == slug
    names = {p["name"] for p in parsed["tables"]["programmes"]}
    assert "Take me along" in names
    rows = list(csv.DictReader(io.StringIO(programmes.content.decode("utf-8-sig"))))
    assert {r["name"] for r in rows} == names

    # Staff see the same links.
    staff = await platform_admin_headers(shared_database)
    as_staff = (await shared_client.get(status_url, headers=staff)).json()
    assert set(as_staff["export"]["files"]) == set(files)


async def test_a_signup_run_has_no_export(shared_client: Client, shared_database: Database) -> None:
    answer = await shared_client.post(SIGNUP, json=signup_body())
    await wait_for_run(shared_database, answer.json()["run_id"], succeeded)
    assert "export" not in (await shared_client.get(answer.json()["status_url"])).json()


async def test_a_retried_offboarding_request_gets_its_first_answer_after_the_workspace_is_gone(
    shared_client: Client, shared_database: Database, shared: Env
) -> None:
    slug, owner = await provisioned(shared_client, shared_database, shared)
    async with shared_database.transaction() as session:
        # The owner's token revoked before the request: it was no good when it was answered.
        tenant = await tenancy.require_by_slug(session, slug)
        [member] = await identity.members_of(session, tenant.id)
        old, old_secret = await identity.issue_token(
            session, uuid.UUID(member["user_id"]), name="old", tenant_id=tenant.id
        )
        await identity.revoke_token(session, old.id)
    path = f"/api/v1/w/{slug}/offboarding"
    first = await shared_client.post(
        path, json={"confirm": slug}, headers={**owner, "Idempotency-Key": "leave-1"}
    )
    assert first.status_code == 202, first.text
    await wait_for_run(shared_database, first.json()["run_id"], succeeded)

    # The owner's token is revoked and the workspace deleted: the retry still gets the answer.
    replay = await shared_client.post(
        path, json={"confirm": slug}, headers={**owner, "Idempotency-Key": "leave-1"}
    )
    assert replay.status_code == 202, replay.text
    assert replay.json() == first.json()
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.headers["Location"] == first.headers["Location"]
    # … for that request only: the revoked token does nothing else.
    other_key = await shared_client.post(
        path, json={"confirm": slug}, headers={**owner, "Idempotency-Key": "leave-2"}
    )
    assert other_key.status_code == 401
    assert (
        await shared_client.post(path, json={"confirm": slug}, headers=owner)
    ).status_code == 401
    # Nobody else reads it with the key: no token, another user's, an unknown one.
    staff = await platform_admin_headers(shared_database)
    for stranger, refused in (
        ({}, 401),
        (staff, 404),
        ({"Authorization": "Bearer pmo_not-a-token"}, 401),
        ({"Authorization": f"Bearer {old_secret}"}, 401),
    ):
        answer = await shared_client.post(
            path, json={"confirm": slug}, headers={**stranger, "Idempotency-Key": "leave-1"}
        )
        assert answer.status_code == refused, (stranger, answer.text)
        assert "run_id" not in answer.text


async def test_a_platform_admin_retrying_an_offboarding_request_gets_its_first_answer(
    shared_client: Client, shared_database: Database, shared: Env
) -> None:
    slug, _ = await provisioned(shared_client, shared_database, shared)
    staff = {**await platform_admin_headers(shared_database), "Idempotency-Key": "ops-leave"}
    path = f"/api/v1/w/{slug}/offboarding"
    first = await shared_client.post(path, json={"confirm": slug}, headers=staff)
    assert first.status_code == 202, first.text
    await wait_for_run(shared_database, first.json()["run_id"], succeeded)
    replay = await shared_client.post(path, json={"confirm": slug}, headers=staff)
    assert replay.status_code == 202, replay.text
    assert replay.json() == first.json()
    assert replay.headers["Idempotent-Replayed"] == "true"
