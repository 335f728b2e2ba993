"""What an offboarded client takes away: files a spreadsheet opens safely and a program reads as
the API writes, that explain themselves without the platform."""

from __future__ import annotations

import csv
import io
import json
import uuid

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from services.db.engine import Database
from services.identity import service as identity
from services.identity.models import Membership, Role, User
from services.storage.service import Storage
from services.tenancy import service as tenancy
from tests.provisioning.conftest import (
    Env,
    provisioned,
    succeeded,
    wait_for_run,
)

Client = AsyncTestClient[Litestar]
pytestmark = pytest.mark.usefixtures("worker")

BOM = b"\xef\xbb\xbf"
FORMULA = '=HYPERLINK("http://x.example")'


async def offboarded(
    client: Client, database: Database, env: Env, slug: str, headers: dict[str, str]
) -> tuple[Storage, str]:
    """Offboard the workspace; its storage and the export's prefix."""
    answer = await client.post(
        f"/api/v1/w/{slug}/offboarding", json={"confirm": slug}, headers=headers
    )
    assert answer.status_code == 202, answer.text
    run = await wait_for_run(database, answer.json()["run_id"], succeeded)
    export = next(s.result for s in run.steps if s.name == "export_workspace")
    assert export is not None
    return Storage(env.settings), str(export["location"])


def read_csv(content: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))


async def test_the_export_follows_the_csv_rules_and_writes_values_as_the_api_does(
    shared_client: Client, shared_database: Database, shared: Env
) -> None:
    slug, headers = await provisioned(shared_client, shared_database, shared)
    made = await shared_client.post(
        f"/api/v1/w/{slug}/programmes",
        json={"name": "-1 budget line", "budget": 1234.5, "description": "@ops"},
        headers=headers,
    )
    assert made.status_code == 201, made.text
    programme = made.json()
    risk = await shared_client.post(
        f"/api/v1/w/{slug}/risks",
        json={
            "programme_id": programme["id"],
            "title": FORMULA,
            "inherent_probability": 3,
            "inherent_impact": 4,
        },
        headers=headers,
    )
    assert risk.status_code == 201, risk.text

    storage, location = await offboarded(shared_client, shared_database, shared, slug, headers)

    risks_csv = await storage.read(location + "risks.csv")
    assert risks_csv.startswith(BOM)  # spreadsheet software reads it as UTF-8
    [row] = [r for r in read_csv(risks_csv) if r["id"] == risk.json()["id"]]
    assert row["title"] == "'" + FORMULA  # text, never a live formula
    programmes_csv = await storage.read(location + "programmes.csv")
    assert programmes_csv.startswith(BOM)
    [row] = [r for r in read_csv(programmes_csv) if r["id"] == programme["id"]]
    assert (row["name"], row["description"]) == ("'-1 budget line", "'@ops")
    assert row["budget"] == "1234.5"
    assert row["created_at"] == programme["created_at"]  # ISO 8601, as the API writes it

    document = json.loads(await storage.read(location + "workspace.json"))
    [exported] = [p for p in document["tables"]["programmes"] if p["id"] == programme["id"]]
    assert exported["budget"] == 1234.5  # a number, as the API writes money
    assert exported["created_at"] == programme["created_at"]
    assert exported["name"] == "-1 budget line"  # JSON keeps the text as it is
    [exported_risk] = [r for r in document["tables"]["risks"] if r["id"] == risk.json()["id"]]
    assert exported_risk["title"] == FORMULA


async def test_the_export_names_the_members_behind_user_ids_and_the_workspace_settings(
    shared_client: Client, shared_database: Database, shared: Env
) -> None:
    slug, headers = await provisioned(shared_client, shared_database, shared)
    changed = await shared_client.get(f"/api/v1/w/{slug}/settings", headers=headers)
    patched = await shared_client.patch(
        f"/api/v1/w/{slug}/settings",
        json={"timezone": "Europe/London"},
        headers={**headers, "If-Match": changed.headers["etag"]},
    )
    assert patched.status_code == 200, patched.text
    async with shared_database.transaction() as session:
        tenant = await tenancy.require_by_slug(session, slug)
        viewer = await identity.create_user(session, f"v-{uuid.uuid4().hex[:8]}@example.org")
        await identity.grant_membership(session, viewer.id, tenant.id, Role.VIEWER)
        [owner_id] = await session.scalars(
            select(Membership.user_id).where(
                Membership.tenant_id == tenant.id, Membership.role == Role.OWNER
            )
        )
        owner = await session.get(User, owner_id)
        assert owner is not None

    storage, location = await offboarded(shared_client, shared_database, shared, slug, headers)

    document = json.loads(await storage.read(location + "workspace.json"))
    assert document["settings"]["timezone"] == "Europe/London"
    assert document["settings"]["slug"] == slug
    expected = sorted(
        (
            {
                "user_id": str(user.id),
                "email": user.email,
                "display_name": user.display_name,
                "role": role,
            }
            for user, role in ((owner, "owner"), (viewer, "viewer"))
        ),
        key=lambda m: m["email"],
    )
    assert document["members"] == expected
    # The user ids in the rows are among them (the seeded programme was made by the owner).
    [seeded] = document["tables"]["programmes"]
    assert seeded["created_by"] == str(owner.id)
    members_csv = await storage.read(location + "members.csv")
    assert members_csv.startswith(BOM)
    assert read_csv(members_csv) == expected
