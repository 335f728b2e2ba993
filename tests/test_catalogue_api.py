"""The public template catalogue: ``/api/v1/templates`` (no sign-in; feeds the signup page)."""

from __future__ import annotations

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from services.db.engine import Database
from templates_library import catalogue as bridge
from templates_library.items import count_by_kind
from templates_library.loader import PACKS_DIR, load_library, load_pack
from templates_library.schema import PackVersion

TEMPLATES = "/api/v1/templates"


@pytest.fixture(scope="module")
async def synced(database: Database) -> None:
    async with database.transaction() as session:
        await bridge.sync(session, load_library(), PACKS_DIR)


pytestmark = pytest.mark.usefixtures("synced")


async def test_list_needs_no_sign_in_and_shows_every_shipped_pack(
    client: AsyncTestClient[Litestar],
) -> None:
    response = await client.get(TEMPLATES, params={"limit": 200})

    assert response.status_code == 200
    page = response.json()
    packs = {pack["key"]: pack for pack in page["items"]}
    assert {p.key for p in load_library()} <= set(packs)
    msp = packs["msp-governance"]
    assert msp["latest_version"] == "1.1.0"
    assert [v["version"] for v in msp["versions"]] == ["1.0.0", "1.1.0"]
    assert msp["title"] and msp["summary"] and msp["audience"]

    # No sign-in here, so the query is checked before the handler runs.
    unknown = await client.get(TEMPLATES, params={"audience": "nhs"})
    assert unknown.status_code == 422
    assert unknown.json()["errors"] == [
        {"field": "audience", "message": "not a parameter here", "source": "query"}
    ]
    assert msp["versions"][1]["changes"] and msp["versions"][1]["items"] > 150
    assert [p["key"] for p in page["items"]] == sorted(packs)
    assert response.headers["cache-control"] == "public, max-age=60"


async def test_list_is_paginated(client: AsyncTestClient[Litestar]) -> None:
    whole = (await client.get(TEMPLATES, params={"limit": 200})).json()

    first = (await client.get(TEMPLATES, params={"limit": 2})).json()
    second = (await client.get(TEMPLATES, params={"limit": 2, "offset": 2})).json()

    assert first["total"] == whole["total"] >= 8
    assert first["has_more"] is True
    keys = [p["key"] for p in whole["items"]]
    assert [p["key"] for p in first["items"] + second["items"]] == keys[:4]


async def test_one_pack(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get(f"{TEMPLATES}/project-pmo-light")

    assert response.status_code == 200
    assert response.json()["latest_version"] == "1.2.0"


async def test_version_has_parameters_item_counts_and_full_content(
    client: AsyncTestClient[Litestar],
) -> None:
    response = await client.get(f"{TEMPLATES}/msp-governance/versions/1.0.0")

    assert response.status_code == 200
    body = response.json()
    loaded = load_pack(PACKS_DIR / "msp-governance").versions[0]
    assert loaded.version is not None
    assert (body["key"], body["version"], body["latest"]) == ("msp-governance", "1.0.0", False)
    assert body["item_counts"] == count_by_kind(loaded.version)
    assert body["items"] == sum(body["item_counts"].values())
    start = next(p for p in body["parameters"] if p["key"] == "start_date")
    assert start["type"] == "date" and start["default"] is None
    assert msgspec.convert(body["content"], PackVersion) == loaded.version
    assert body["content_hash"] == bridge.content_hash(loaded.version)
    assert response.headers["etag"] == f'"{body["content_hash"]}"'


async def test_a_version_is_read_again_conditionally_as_its_openapi_says(
    client: AsyncTestClient[Litestar],
) -> None:
    path = f"{TEMPLATES}/msp-governance/versions/1.0.0"
    first = await client.get(path)
    again = await client.get(path, headers={"If-None-Match": first.headers["etag"]})
    document = (await client.get("/schema/openapi.json")).json()

    assert again.status_code == 304
    assert again.headers["etag"] == first.headers["etag"]
    operation = document["paths"]["/api/v1/templates/{key}/versions/{version}"]["get"]
    assert operation["responses"]["200"]["headers"]["ETag"]["schema"] == {"type": "string"}
    assert "304" in operation["responses"]
    assert "If-None-Match" in {p["name"] for p in operation["parameters"]}


@pytest.mark.parametrize(
    ("path", "detail"),
    [
        ("/no-such-pack", "No template pack 'no-such-pack'."),
        ("/no-such-pack/versions/1.0.0", "No template pack 'no-such-pack'."),
        (
            "/msp-governance/versions/9.0.0",
            "Template pack 'msp-governance' has no version '9.0.0' (it has 1.0.0, 1.1.0).",
        ),
    ],
)
async def test_unknown_packs_and_versions_are_404_problems(
    client: AsyncTestClient[Litestar], path: str, detail: str
) -> None:
    response = await client.get(TEMPLATES + path)

    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "not-found"
    assert response.json()["detail"] == detail


async def test_malformed_keys_are_refused_before_the_database(
    client: AsyncTestClient[Litestar],
) -> None:
    response = await client.get(f"{TEMPLATES}/Not%20A%20Key%00/versions/1.0.0")

    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["errors"][0]["field"] == "key"
