"""The signup check the library answers (through the pmo.workspace entry point)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import msgspec
import pytest

from services.catalogue import service as catalogue
from services.db.engine import Database
from templates_library.catalogue import content_hash
from templates_library.items import count_by_kind
from templates_library.signups import seeding_problems
from tests.conftest import PublishPack
from tests.tiny_pack import MANIFEST, tiny_version


def needs_a_sponsor(data: dict[str, Any]) -> None:
    """The tiny pack, wanting a parameter a signup does not give."""
    data["parameters"].append({"key": "sponsor", "type": "text", "description": "Who."})


async def published_unchecked(database: Database) -> str:
    """The tiny pack wanting a sponsor, published as a version could be before validation
    asked a default of every parameter a signup does not give (it refuses it now)."""
    key = f"tiny-{uuid.uuid4().hex[:8]}"
    version = tiny_version(needs_a_sponsor)
    to_publish = catalogue.PackToPublish(
        key=key,
        title=MANIFEST["title"],
        summary=MANIFEST["summary"],
        audience=list(MANIFEST["audience"]),
        author=MANIFEST["author"],
        licence=MANIFEST["licence"],
        methods=[],
        versions=[
            catalogue.VersionToPublish(
                version=version.version,
                file=f"{key}/1.0.0.yaml",
                content=msgspec.to_builtins(version),
                content_hash=content_hash(version),
                parameters=[msgspec.to_builtins(p) for p in version.parameters],
                item_counts=count_by_kind(version),
                changes=list(version.changes),
            )
        ],
    )
    async with database.transaction() as session:
        await catalogue.publish(session, [to_publish])
    return key


async def test_a_parameter_a_signup_cannot_give_is_named(
    database: Database, publish_pack: PublishPack
) -> None:
    pack = await published_unchecked(database)
    async with database.transaction() as session:
        found = await seeding_problems(session, pack, "1.0.0", "Tiny", date(2027, 1, 4))
        fine = await seeding_problems(
            session, await publish_pack(None), "1.0.0", "Tiny", date(2027, 1, 4)
        )
    assert found == [
        (
            "template_pack",
            f"parameter `sponsor`: required (it has no default) (template pack {pack} 1.0.0)",
        )
    ]
    assert fine == []


async def test_such_a_version_is_no_longer_published(publish_pack: PublishPack) -> None:
    # Validation refuses it (`check_parameters`): no signup could seed it. (`publish_pack`
    # asserts that the sync reported no problems.)
    with pytest.raises(AssertionError, match="parameter `sponsor` has no default"):
        await publish_pack(needs_a_sponsor)
