"""Signups: checked up front, answered at once, provisioned by a worker into an active,
seeded workspace; idempotent, rate-limited, one winner per slug."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import boto3
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from services.db.engine import Database
from services.idempotency import ControlIdempotencyRecord
from services.identity import service as identity
from services.provisioning_runs.models import ProvisioningRun
from services.storage.service import Storage
from services.tenancy import service as tenancy
from services.tenancy.models import TenantState
from templates_library import catalogue as bridge
from templates_library.loader import load_pack
from tests.conftest import unique_slug
from tests.provisioning.conftest import (
    SIGNUP,
    Env,
    owner_headers,
    signup_body,
    succeeded,
    wait_for_run,
)
from tests.tiny_pack import MANIFEST, VERSION, write_yaml

Client = AsyncTestClient[Litestar]
pytestmark = pytest.mark.usefixtures("worker")

STEPS = [
    "reserve_tenant",
    "place_in_cell",
    "create_storage",
    "create_admin",
    "seed_workspace",
    "activate",
]


async def test_signup_answers_202_then_a_worker_makes_an_active_seeded_workspace(
    shared_client: Client, shared_database: Database, shared: Env
) -> None:
    body = signup_body(programme_name="Digital Services 2030", start_date="2027-04-01")
    answer = await shared_client.post(SIGNUP, json=body)
    assert answer.status_code == 202, answer.text
    accepted = answer.json()
    assert accepted["slug"] == body["slug"]
    assert accepted["state"] == "queued"
    assert accepted["status_url"] == f"/api/v1/provisioning-runs/{accepted['run_id']}"
    assert answer.headers["location"] == accepted["status_url"]

    await wait_for_run(shared_database, accepted["run_id"], succeeded)
    status = (await shared_client.get(accepted["status_url"])).json()
    assert status["state"] == "succeeded"
    assert status["progress"] == {"done": 6, "total": 6, "percent": 100}
    assert [s["name"] for s in status["steps"]] == STEPS
    assert all(s["state"] == "succeeded" and s["attempts"] == 1 for s in status["steps"])
    assert all("result" not in s for s in status["steps"])  # anonymous: no internals

    headers = await owner_headers(shared.settings, accepted["run_id"])
    settings = await shared_client.get(f"/api/v1/w/{body['slug']}/settings", headers=headers)
    assert settings.status_code == 200, settings.text
    # The run id is public (the status URL): the platform's key and it alone do not make the
    # owner's token, whatever the key (the development default is published in the source).
    guessed = identity.derived_secret(
        shared.settings.secret_key, f"invitation:{accepted['run_id']}"
    )
    refused = await shared_client.get(
        f"/api/v1/w/{body['slug']}/settings", headers={"Authorization": f"Bearer {guessed}"}
    )
    assert refused.status_code == 401, refused.text
    assert settings.json()["state"] == "active"
    programmes = await shared_client.get(f"/api/v1/w/{body['slug']}/programmes", headers=headers)
    [programme] = programmes.json()["items"]
    assert (programme["name"], programme["start_date"]) == ("Digital Services 2030", "2027-04-01")

    async with shared_database.transaction() as session:
        tenant = await tenancy.require_by_slug(session, body["slug"])
    assert tenant.settings["template_pack"] == {"key": "msp-governance", "version": "1.1.0"}
    storage = Storage(shared.settings)
    marker = f"tenants/{tenant.id}/"
    assert await storage.keys(marker) == [marker]
    assert (await storage.tags(marker))["pmo-tenant"] == str(tenant.id)
    s3 = boto3.client(
        "s3",
        endpoint_url=shared.settings.s3_endpoint_url,
        region_name=shared.settings.s3_region,
        aws_access_key_id="test",
        aws_secret_access_key="test-secret",
    )
    head = s3.head_object(Bucket=shared.settings.s3_bucket, Key=marker)
    assert head["ServerSideEncryption"] == "AES256"
    assert head["Metadata"]["idempotency-key"] == f"{accepted['run_id']}:create_storage"
    encryption = s3.get_bucket_encryption(Bucket=shared.settings.s3_bucket)
    rule = encryption["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"


async def test_the_version_asked_for_is_the_version_recorded(
    shared_client: Client, shared_database: Database
) -> None:
    body = signup_body(template_pack="project-pmo-light", template_version="1.0.0")
    answer = await shared_client.post(SIGNUP, json=body)
    await wait_for_run(shared_database, answer.json()["run_id"], succeeded)
    async with shared_database.transaction() as session:
        tenant = await tenancy.require_by_slug(session, body["slug"])
    assert tenant.settings["template_pack"] == {"key": "project-pmo-light", "version": "1.0.0"}


async def test_a_signup_is_checked_up_front_with_every_field_error_at_once(
    shared_client: Client, shared_database: Database
) -> None:
    body = signup_body(
        admin_email="not-an-email",
        plan="platinum",
        template_pack="no-such-pack",
        slug="Not A Slug",
        cell="atlantis",
        start_date="1999-12-31",
    )
    answer = await shared_client.post(SIGNUP, json=body)
    assert answer.status_code == 422
    problem = answer.json()
    assert problem["code"] == "validation-error"
    fields = {e["field"] for e in problem["errors"]}
    assert fields == {"admin_email", "plan", "template_pack", "slug", "cell", "start_date"}

    version = await shared_client.post(SIGNUP, json=signup_body(template_version="9.9.9"))
    assert version.status_code == 422
    assert [e["field"] for e in version.json()["errors"]] == ["template_version"]
    region = await shared_client.post(SIGNUP, json=signup_body(region="mars-north-1"))
    assert [e["field"] for e in region.json()["errors"]] == ["region"]
    unknown = await shared_client.post(SIGNUP, json={**signup_body(), "coupon": "FREE"})
    assert unknown.status_code == 422
    blank = await shared_client.post(SIGNUP, json=signup_body(organisation_name="   ", slug=None))
    assert blank.status_code == 422
    assert blank.json()["errors"] == [
        {
            "field": "organisation_name",
            "message": "not blank, and no NUL characters",
            "source": "body",
        }
    ]
    async with shared_database.transaction() as session:
        assert await tenancy.get_by_slug(session, body["slug"]) is None


async def test_a_programme_name_too_long_for_the_packs_texts_is_refused_and_nothing_is_written(
    shared_client: Client, shared_database: Database
) -> None:
    # The schema allows 200 characters, but agile-pmo-safe names its portfolio
    # "{programme_name} portfolio", which goes into a 200-character column.
    body = signup_body(template_pack="agile-pmo-safe", programme_name="P" * 200)
    answer = await shared_client.post(SIGNUP, json=body, headers={"Idempotency-Key": body["slug"]})

    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"] == [
        {
            "field": "programme_name",
            "message": "at most 190 characters for template pack agile-pmo-safe 1.0.0",
            "source": "body",
        }
    ]
    async with shared_database.transaction() as session:
        runs = select(func.count()).select_from(ProvisioningRun)
        assert await session.scalar(runs.where(ProvisioningRun.slug == body["slug"])) == 0
        assert not await tenancy.slug_taken(session, body["slug"])
        records = select(func.count()).select_from(ControlIdempotencyRecord)
        assert (
            await session.scalar(records.where(ControlIdempotencyRecord.key == body["slug"])) == 0
        )

    fitting = signup_body(template_pack="agile-pmo-safe", programme_name="P" * 190)
    accepted = await shared_client.post(SIGNUP, json=fitting)
    assert accepted.status_code == 202, accepted.text
    await wait_for_run(shared_database, accepted.json()["run_id"], succeeded)


async def test_without_a_slug_one_is_derived_from_the_name_and_made_unique(
    shared_client: Client, shared_database: Database
) -> None:
    name = f"Zoë & Søn {uuid.uuid4().hex[:6]} Ltd"
    first = await shared_client.post(SIGNUP, json=signup_body(organisation_name=name, slug=None))
    second = await shared_client.post(SIGNUP, json=signup_body(organisation_name=name, slug=None))
    assert first.status_code == second.status_code == 202
    base = first.json()["slug"]
    assert base.startswith("zoe-s") and base.endswith("-ltd")
    assert second.json()["slug"] == f"{base}-2"
    for answer in (first, second):
        await wait_for_run(shared_database, answer.json()["run_id"], succeeded)


async def test_the_same_idempotency_key_gets_the_same_answer_and_one_tenant(
    shared_client: Client, shared_database: Database
) -> None:
    body = signup_body()
    key = {"Idempotency-Key": uuid.uuid4().hex}
    first = await shared_client.post(SIGNUP, json=body, headers=key)
    again = await shared_client.post(SIGNUP, json=body, headers=key)
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    other = await shared_client.post(SIGNUP, json=signup_body(), headers=key)
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency-key-reused"

    await wait_for_run(shared_database, first.json()["run_id"], succeeded)
    async with shared_database.transaction() as session:
        count = select(func.count()).select_from(ProvisioningRun)
        assert await session.scalar(count.where(ProvisioningRun.slug == body["slug"])) == 1
        assert await tenancy.get_by_slug(session, body["slug"]) is not None
        records = select(func.count()).select_from(ControlIdempotencyRecord)
        assert (
            await session.scalar(
                records.where(ControlIdempotencyRecord.key == key["Idempotency-Key"])
            )
            == 1
        )


async def test_signups_racing_for_one_slug_one_wins_the_others_get_409(
    shared_client: Client, shared_database: Database
) -> None:
    slug = unique_slug("race")
    answers = await asyncio.gather(
        *(shared_client.post(SIGNUP, json=signup_body(slug=slug)) for _ in range(8))
    )
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [202] + [409] * 7
    for lost in (a for a in answers if a.status_code == 409):
        problem = lost.json()
        assert problem["code"] == "conflict"
        assert problem["errors"] == [{"field": "slug", "message": "taken", "source": "body"}]
        assert slug in problem["detail"]
    [won] = [a for a in answers if a.status_code == 202]
    await wait_for_run(shared_database, won.json()["run_id"], succeeded)
    later = await shared_client.post(SIGNUP, json=signup_body(slug=slug))
    assert later.status_code == 409


async def test_a_slug_of_an_existing_workspace_is_taken(
    shared_client: Client, shared_database: Database
) -> None:
    slug = unique_slug("taken")
    async with shared_database.transaction() as session:
        await tenancy.create_tenant(
            session, slug=slug, name="Already here", state=TenantState.ACTIVE
        )
    answer = await shared_client.post(SIGNUP, json=signup_body(slug=slug))
    assert answer.status_code == 409


async def test_signups_offer_the_published_catalogue_not_the_packs_on_disk(
    shared_client: Client, shared_database: Database, tmp_path: Path
) -> None:
    key = f"tiny-{uuid.uuid4().hex[:8]}"
    root = tmp_path / "published"
    write_yaml(root / key / "pack.yaml", {**MANIFEST, "key": key})
    write_yaml(root / key / f"{VERSION['version']}.yaml", VERSION)
    refused = await shared_client.post(SIGNUP, json=signup_body(template_pack=key))
    assert refused.status_code == 422  # on disk here, but not published
    assert [e["field"] for e in refused.json()["errors"]] == ["template_pack"]

    async with shared_database.transaction() as session:
        assert not (await bridge.sync(session, [load_pack(root / key)], root)).problems
    answer = await shared_client.post(SIGNUP, json=signup_body(template_pack=key))
    assert answer.status_code == 202, answer.text
    run = await wait_for_run(shared_database, answer.json()["run_id"], succeeded)
    async with shared_database.transaction() as session:
        tenant = await tenancy.require(session, run.tenant_id)
    assert tenant.settings["template_pack"] == {"key": key, "version": VERSION["version"]}


async def test_a_taken_slug_is_named_with_the_other_field_errors_in_one_answer(
    shared_client: Client, shared_database: Database
) -> None:
    slug = unique_slug("named")
    async with shared_database.transaction() as session:
        await tenancy.create_tenant(session, slug=slug, name="Here", state=TenantState.ACTIVE)
    answer = await shared_client.post(SIGNUP, json=signup_body(slug=slug, plan="gold"))
    assert answer.status_code == 422, answer.text
    assert [(e["field"], e["message"]) for e in answer.json()["errors"]] == [
        ("plan", "one of trial, starter, professional, enterprise"),
        ("slug", "taken"),
    ]
    # Reserved by a signup whose workspace is not made yet: taken too.
    reserved = signup_body()
    assert (await shared_client.post(SIGNUP, json=reserved)).status_code == 202
    again = await shared_client.post(
        SIGNUP, json=signup_body(slug=reserved["slug"], start_date="1999-01-01")
    )
    assert again.status_code == 422
    assert {e["field"]: e["message"] for e in again.json()["errors"]}["slug"] == "taken"
    # Only the slug: the 409 as before.
    alone = await shared_client.post(SIGNUP, json=signup_body(slug=slug))
    assert alone.status_code == 409
    assert alone.json()["errors"] == [{"field": "slug", "message": "taken", "source": "body"}]
