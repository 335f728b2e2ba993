"""What the signup check asks of the template library (through the ``pmo.workspace`` entry
point ``signup_check``: ``services`` does not import the library)."""

from __future__ import annotations

import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from templates_library.schema import PackVersion
from templates_library.seeding import PUBLISHED
from templates_library.validation import longest_fitting, texts_too_long
from templates_library.values import InvalidParametersError, resolve_parameters

# (pack, version) → (the longest programme name whose texts fit, or inf; the first text too
# long whatever the name): a published version never changes, so worked out once.
_ROOM: dict[tuple[str, str], tuple[float, str | None]] = {}


def _room(pack_key: str, pack: PackVersion, start_date: datetime.date) -> tuple[float, str | None]:
    """A text is as long as its value without the name plus its occurrences times the name's
    length, so one length says for every name whether it fits (`longest_fitting`)."""
    key = (pack_key, pack.version)
    if key not in _ROOM:
        fields = PUBLISHED.fields(pack_key, pack)
        params: dict[str, Any] = {"programme_name": "", "start_date": start_date}
        unfit = texts_too_long(pack, params, pack_key=pack_key, fields=fields)
        room = longest_fitting(pack, params, "programme_name", pack_key=pack_key, fields=fields)
        _ROOM[key] = (room, unfit[0].text.location if unfit else None)
    return _ROOM[key]


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
    try:
        resolve_parameters(pack.parameters, params)
    except InvalidParametersError as error:
        # The signup's own parameters by their fields; one the pack wants that a signup cannot
        # give (a later version's) by its name, on the pack.
        return [
            (name, f"{problem} ({named})")
            if name in params
            else ("template_pack", f"parameter `{name}`: {problem} ({named})")
            for name, problem in error.problems.items()
        ]
    room, unfit = _room(pack_key, pack, start_date)
    if unfit is not None:
        # Not the name's doing: a version published before its texts were checked.
        return [("template_version", f"{named} cannot be seeded ({unfit} is too long)")]
    if len(programme_name) > room:
        return [("programme_name", f"at most {int(room)} characters for {named}")]
    return []
