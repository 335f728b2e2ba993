"""The signup check the library answers (through the pmo.workspace entry point)."""

from __future__ import annotations

from datetime import date
from typing import Any

from services.db.engine import Database
from templates_library.signups import seeding_problems
from tests.conftest import PublishPack


def needs_a_sponsor(data: dict[str, Any]) -> None:
    """The tiny pack, wanting a parameter a signup does not give."""
    data["parameters"].append({"key": "sponsor", "type": "text", "description": "Who."})


async def test_a_parameter_a_signup_cannot_give_is_named(
    database: Database, publish_pack: PublishPack
) -> None:
    pack = await publish_pack(needs_a_sponsor)
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
