"""Offboarding deletes a whole client workspace, so the caller names it: the request's body is
``{"confirm": "<slug>"}``; without it, or naming another workspace, nothing is done (422)."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from services.db.engine import Database
from services.provisioning_runs.models import ProvisioningRun
from services.tenancy import service as tenancy
from services.tenancy.models import TenantState
from tests.provisioning.conftest import Env, provisioned

Client = AsyncTestClient[Litestar]
pytestmark = pytest.mark.usefixtures("worker")


def confirm_error(answer: Any) -> dict[str, Any]:
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert problem["code"] == "validation-error"
    assert [e["field"] for e in problem["errors"]] == ["confirm"], problem
    return dict(problem)


async def test_offboarding_needs_the_workspace_named_in_confirm(
    shared_client: Client, shared_database: Database, shared: Env
) -> None:
    slug, owner = await provisioned(shared_client, shared_database, shared)
    path = f"/api/v1/w/{slug}/offboarding"
    missing = await shared_client.post(path, headers=owner)
    assert confirm_error(missing)["errors"][0]["message"] == "required"
    confirm_error(await shared_client.post(path, json={}, headers=owner))
    other = confirm_error(
        await shared_client.post(path, json={"confirm": f"{slug}-x"}, headers=owner)
    )
    assert f'{{"confirm": "{slug}"}}' in other["detail"]
    confirm_error(await shared_client.post(path, json={"confirm": slug.upper()}, headers=owner))

    # Nothing was started: no run, the workspace still open.
    async with shared_database.transaction() as session:
        tenant = await tenancy.require_by_slug(session, slug)
        assert tenant.state is TenantState.ACTIVE
        count = select(func.count()).select_from(ProvisioningRun)
        assert await session.scalar(count.where(ProvisioningRun.tenant_id == tenant.id)) == 1

    accepted = await shared_client.post(path, json={"confirm": slug}, headers=owner)
    assert accepted.status_code == 202, accepted.text


async def test_the_openapi_describes_the_confirmation(shared_client: Client) -> None:
    schema = (await shared_client.get("/schema/openapi.json")).json()
    operation = schema["paths"]["/api/v1/w/{slug}/offboarding"]["post"]
    assert "422" in operation["responses"]
    assert "confirm" in operation["description"]
    # Read without one too, to answer a body-less request (as offboarding took) with the field.
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert 'Needed: `{"confirm": "<slug>"}`' in body["description"]
    refs = [o["$ref"].rsplit("/", 1)[-1] for o in body["oneOf"] if "$ref" in o]
    struct = schema["components"]["schemas"][refs[0]]
    assert struct["required"] == ["confirm"]
    assert "slug" in struct["properties"]["confirm"]["description"]
