"""What the signup check asks of the template library (through the ``pmo.workspace`` entry
point ``signup_check``: ``services`` does not import the library)."""

from __future__ import annotations

import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from templates_library.seeding import PUBLISHED
from templates_library.validation import longest_fitting, texts_too_long
from templates_library.values import InvalidParametersError


async def seeding_problems(
    session: AsyncSession,
    pack_key: str,
    version: str,
    programme_name: str,
    start_date: datetime.date,
) -> list[tuple[str, str]]:
    """What seeding ``pack_key`` ``version`` with a signup's parameters would fail on, as
    (signup field, message): a parameter the pack refuses, or a programme name that makes one
    of the pack's texts too long for its column (pack validation's own length check)."""
    pack = await PUBLISHED.get(session, pack_key, version)
    # What the provisioning run seeds with (`provisioning.seeding`).
    params: dict[str, Any] = {"programme_name": programme_name, "start_date": start_date}
    named = f"template pack {pack_key} {version}"
    fields = PUBLISHED.fields(pack_key, pack)
    try:
        too_long = texts_too_long(pack, params, pack_key=pack_key, fields=fields)
    except InvalidParametersError as error:
        # The signup's own parameters by their fields; one the pack wants that a signup cannot
        # give (a later version's) by its name, on the pack.
        return [
            (name, f"{problem} ({named})")
            if name in params
            else ("template_pack", f"parameter `{name}`: {problem} ({named})")
            for name, problem in error.problems.items()
        ]
    if not too_long:
        return []
    room = longest_fitting(pack, params, "programme_name", pack_key=pack_key, fields=fields)
    if 0 < room < len(programme_name):
        return [("programme_name", f"at most {room} characters for {named}")]
    # Not the name's doing: a version published before its texts were checked.
    first = too_long[0].text
    return [("template_version", f"{named} cannot be seeded ({first.location} is too long)")]
