"""API shapes of a workspace's template pin and of template upgrades."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

from services.text import NO_NUL, VERSION_PATTERN
from services.workspace.schemas import listed_text

VersionNumber = Annotated[
    str,
    Meta(
        pattern=VERSION_PATTERN,
        max_length=32,
        description="A published version of the workspace's pack (semver).",
    ),
]
Action = Literal["unchanged", "update", "add", "remove", "conflict", "kept"]
AppliedVia = Literal["api", "cli"]


class UpgradeConflict(msgspec.Struct):
    """A conflict an applied upgrade left to the client: the item stays as the client has it
    and the target version's change to it is not applied."""

    kind: str
    key: str
    fields: Annotated[
        list[str],
        Meta(
            description="The fields whose change in the target version was not applied "
            "(changed by the pack, or by both the pack and the client)."
        ),
    ]
    reason: Annotated[str, Meta(description="Why, as the upgrade's plan gave it.")]


class LastUpgrade(msgspec.Struct):
    """The last upgrade that moved the pin, kept because applying settles its conflicts: no
    later dry run shows them again."""

    applied_by: Annotated[
        uuid.UUID | None,
        Meta(
            description="The user who applied it; null when an operator applied it from the "
            "command line without saying who they are (`--by`)."
        ),
    ]
    applied_at: datetime
    from_version: str
    to_version: str
    conflicts: Annotated[
        list[UpgradeConflict],
        Meta(description="What the upgrade left to the client to resolve by hand."),
    ]
    via: Annotated[
        AppliedVia | None,
        Meta(
            description="How it was applied: through the API, or by an operator with "
            "`pmo templates upgrade`; null for upgrades recorded before this was kept."
        ),
    ] = None


class TemplatePinRead(msgspec.Struct):
    """The pack version the workspace follows and the parameters it was seeded with.
    ``held_items``: the pack's changes an upgrade held back that are still due (``kind:key`` →
    the version the upgrade that first held it back moved to): new items, and updates and
    removals a rule held back (rows still use what the pack removes, the change would break a
    register's rule …). The next upgrade plans them again. ``last_upgrade``: the last applied
    upgrade that moved the pin, with the conflicts it left to the client (null before any
    upgrade).

    A seeded row's own ``source_version`` is the version whose values it was last written
    from or settled at, not a copy of ``pack_version``: a row whose change an upgrade held back
    keeps the older version until the change goes through."""

    pack: str
    pack_version: Annotated[
        str,
        Meta(
            description="The version the workspace was seeded at or last upgraded to. Changes "
            "of it an upgrade held back (`held_items`, and rows whose own `source_version` is "
            "older) are still due."
        ),
    ]
    params: dict[str, Any]
    seeded_at: datetime
    upgraded_at: datetime | None
    held_items: Annotated[
        dict[str, str],
        Meta(
            description="The pack's changes an upgrade held back that are still due, as "
            "`kind:key` → the version the upgrade that first held it back moved the workspace "
            "to (not necessarily the version that brought the change). The next upgrade, "
            "even to the same version, plans them again."
        ),
    ] = {}
    last_upgrade: Annotated[
        LastUpgrade | None,
        Meta(
            description="The last applied upgrade that moved the pin, with the conflicts it "
            "left to the client; null before any upgrade."
        ),
    ] = None


class TemplateUpgradeCreate(msgspec.Struct, forbid_unknown_fields=True):
    """Upgrade to ``version`` (the pack's latest when left out). Without ``apply`` this is a
    dry run: the plan, with nothing changed. ``take_pack`` settles conflicts by taking the
    target version's values."""

    version: VersionNumber | None = None
    apply: bool = False
    take_pack: Annotated[
        list[Annotated[str, Meta(max_length=300, pattern=NO_NUL)]],
        Meta(
            max_length=1000,
            extra_json_schema=listed_text(300, min_length=0),
            description="Conflicts to settle by taking the target version's values instead "
            "of leaving them to the client, each as `kind:key` (an entry's `kind` and `key`). "
            "The plan shows each as an update (an add, where the client deleted the item); "
            "anything that is not a conflict of this upgrade is a 422 naming it.",
        ),
    ] = []


class FieldComparison(msgspec.Struct, omit_defaults=True):
    """One field side by side: the pinned version (base), the workspace (theirs) and the target
    (ours). A side is left out where it has no such item or field."""

    field: str
    changed_by: Literal["client", "pack", "both", "same"]
    base: Any | UnsetType = UNSET
    theirs: Any | UnsetType = UNSET
    ours: Any | UnsetType = UNSET


class PlannedItem(msgspec.Struct):
    """What the upgrade does with one pack item, and why."""

    kind: str
    key: str
    action: Action
    reason: str
    # A conflict whose two sides changed different fields.
    mergeable: bool
    fields: list[FieldComparison]
    held_before: Annotated[
        str | None,
        Meta(
            description="Held back again by a run to the version an earlier upgrade already "
            "held this change back at (the pin's `held_items`): the version it was first held "
            "at. Also a change a decided gate's record, or the settled criteria of a gate "
            "under review, holds back for good (the version the workspace moved to holding "
            "it back). On record, not new work; null otherwise."
        ),
    ] = None


class TemplateUpgradeRead(msgspec.Struct):
    """The plan (``applied`` false) or what was applied. ``counts`` covers every item;
    ``entries`` lists all but the unchanged ones. Conflicts and kept items stay as the
    workspace has them."""

    pack: str
    from_version: str
    to_version: str
    applied: bool
    counts: dict[str, int]
    entries: list[PlannedItem]
