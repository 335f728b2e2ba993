"""What an offboarded client takes away: files a spreadsheet opens safely and a program reads as
the API writes, that explain themselves without the platform."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from services.db.engine import Database
from services.storage.service import Storage
from tests.provisioning.conftest import (
    SIGNUP,
    Env,
    owner_headers,
    signup_body,
    succeeded,
    wait_for_run,
)

Client = AsyncTestClient[Litestar]
pytestmark = pytest.mark.usefixtures("worker")

BOM = b"\xef\xbb\xbf"
FORMULA = '=HYPERLINK("http://x.example")'


async def provisioned(
    client: Client, database: Database, env: Env, **signup: Any
) -> tuple[str, dict[str, str]]:
    body = signup_body(**signup)
    answer = await client.post(SIGNUP, json=body)
    await wait_for_run(database, answer.json()["run_id"], succeeded)
    return body["slug"], await owner_headers(env.settings, answer.json()["run_id"])


async def offboarded(
    client: Client, database: Database, env: Env, slug: str, headers: dict[str, str]
) -> tuple[Storage, str]:
    """Offboard the workspace; its storage and the export's prefix."""
    answer = await client.post(f"/api/v1/w/{slug}/offboarding", headers=headers)
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
