"""API shapes of the public template catalogue (what the signup page shows)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from services.catalogue.models import TemplatePack, TemplateVersion
from services.catalogue.service import latest_of

# A parameter's default as published: `anyOf`, and one `number` for whole numbers too. Litestar
# would write `oneOf` with an `integer` branch beside `number`, which an integer default matches
# twice, so a standard validator refuses the answer that carries it.
_DEFAULT_SCHEMA: dict[str, Any] = {
    "one_of": None,
    "any_of": [{"type": t} for t in ("string", "number", "boolean", "null")],
}
ParameterDefault = Annotated[
    str | int | float | bool | None,
    Meta(
        description="The value used when none is given (a date as ISO text).",
        extra_json_schema={"extra": _DEFAULT_SCHEMA},
    ),
]

PackKey = Annotated[str, Meta(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=64)]


class TemplateParameter(msgspec.Struct):
    """A value asked for when a workspace is seeded from the version (e.g. its start date)."""

    key: str
    type: Literal["text", "date", "number", "choice"]
    description: str
    default: ParameterDefault = None
    choices: list[str] | None = None


class TemplateVersionSummary(msgspec.Struct):
    version: str
    published_at: datetime
    content_hash: Annotated[str, Meta(description="sha256 of the version's canonical content")]
    items: Annotated[int, Meta(description="How many items seeding this version writes.")]
    changes: list[str]

    @classmethod
    def of(cls, row: TemplateVersion) -> TemplateVersionSummary:
        return cls(
            version=row.version,
            published_at=row.published_at,
            content_hash=row.content_hash,
            items=sum(row.item_counts.values()),
            changes=list(row.changes),
        )


class TemplatePackSummary(msgspec.Struct):
    key: PackKey
    title: str
    summary: str
    audience: list[str]
    author: str
    licence: str
    methods: list[str]
    latest_version: str | None
    versions: Annotated[list[TemplateVersionSummary], Meta(description="Oldest first.")]

    @classmethod
    def of(cls, pack: TemplatePack, versions: list[TemplateVersion]) -> TemplatePackSummary:
        return cls(
            key=pack.key,
            title=pack.title,
            summary=pack.summary,
            audience=list(pack.audience),
            author=pack.author,
            licence=pack.licence,
            methods=list(pack.methods),
            latest_version=latest_of(versions).version if versions else None,
            versions=[TemplateVersionSummary.of(v) for v in versions],
        )


class TemplateVersionRead(msgspec.Struct):
    """One published version in full: what it asks for, what it seeds, and its content."""

    key: PackKey
    version: str
    title: str
    latest: Annotated[bool, Meta(description="Whether this is the pack's latest version.")]
    published_at: datetime
    content_hash: str
    changes: list[str]
    parameters: list[TemplateParameter]
    item_counts: Annotated[dict[str, int], Meta(description="Items seeded, by kind.")]
    items: int
    content: Annotated[
        dict[str, Any],
        Meta(description="The version file as parsed (see templates_library/README.md)."),
    ]

    @classmethod
    def of(
        cls, pack: TemplatePack, row: TemplateVersion, versions: list[TemplateVersion]
    ) -> TemplateVersionRead:
        return cls(
            key=pack.key,
            version=row.version,
            title=pack.title,
            latest=latest_of(versions).id == row.id,
            published_at=row.published_at,
            content_hash=row.content_hash,
            changes=list(row.changes),
            parameters=msgspec.convert(row.parameters, list[TemplateParameter]),
            item_counts=dict(row.item_counts),
            items=sum(row.item_counts.values()),
            content=row.content,
        )
