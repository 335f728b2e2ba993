"""The flat list of items a pack version seeds, each identified by (kind, key).

Nested items (gate criteria, checklist entries, report sections, register entries, custom fields)
get a compound key `parent/child`, so a key is unique within its kind across the whole version
and an upgrade can match the same item in two versions.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import msgspec

from templates_library.schema import PackPart, PackVersion
from templates_library.source import join_location

KINDS: tuple[str, ...] = (
    "programme",
    "tranche",
    "project",
    "role",
    "raci",
    "board",
    "gate",
    "gate_criterion",
    "milestone",
    "probability_level",
    "impact_level",
    "score_band",
    "proximity",
    "benefit_confidence",
    "scale_settings",
    "rag_rules",
    "custom_field",
    "register",
    "register_entry",
    "status_report",
    "report_section",
    "risk",
    "assumption",
    "issue",
    "benefit",
    "decision",
    "dependency",
    "stakeholder",
    "document",
    "checklist",
    "checklist_entry",
    "lesson",
)
"""Every kind of item, in the order `seed_items` yields them."""


class SeedItem(msgspec.Struct, frozen=True, kw_only=True):
    """One seedable item: its kind, stable key, location in the version file, and content."""

    kind: str
    key: str
    location: str
    part: PackPart


def seed_items(version: PackVersion) -> list[SeedItem]:
    """Every item the version seeds, in file order (parameters are not seeded)."""
    return list(_walk(version))


def _own_key(part: Any) -> str:
    return str(part.key)


def _level_key(part: Any) -> str:
    return str(part.value)


def _register_key(part: Any) -> str:
    return f"{part.register}/{part.key}"


def _each(
    kind: str, field: str, parts: Sequence[PackPart], key: Callable[[Any], str] = _own_key
) -> Iterator[SeedItem]:
    for index, part in enumerate(parts):
        yield SeedItem(kind=kind, key=key(part), location=join_location(field, index), part=part)


def _walk(version: PackVersion) -> Iterator[SeedItem]:
    yield from _each("programme", "programmes", version.programmes)
    yield from _each("tranche", "tranches", version.tranches)
    yield from _each("project", "projects", version.projects)
    yield from _each("role", "roles", version.roles)
    yield from _each("raci", "raci", version.raci)
    yield from _each("board", "boards", version.boards)
    for gate in _each("gate", "gates", version.gates):
        yield gate
        yield from _children(gate, "gate_criterion", "criteria")
    yield from _each("milestone", "milestones", version.milestones)
    scales = version.scales
    yield from _each("probability_level", "scales.probability", scales.probability, _level_key)
    yield from _each("impact_level", "scales.impact", scales.impact, _level_key)
    yield from _each("score_band", "scales.bands", scales.bands)
    yield from _each("proximity", "scales.proximity", scales.proximity)
    yield from _each("benefit_confidence", "scales.benefit_confidence", scales.benefit_confidence)
    yield SeedItem(kind="scale_settings", key="scales", location="scales", part=scales)
    yield SeedItem(kind="rag_rules", key="rag_rules", location="rag_rules", part=version.rag_rules)
    yield from _each("custom_field", "custom_fields", version.custom_fields, _register_key)
    for register in _each("register", "registers", version.registers):
        yield register
        yield from _children(register, "register_entry", "entries")
    for report in _each("status_report", "status_reports", version.status_reports):
        yield report
        yield from _children(report, "report_section", "sections")
    yield from _each("risk", "risks", version.risks)
    yield from _each("assumption", "assumptions", version.assumptions)
    yield from _each("issue", "issues", version.issues)
    yield from _each("benefit", "benefits", version.benefits)
    yield from _each("decision", "decisions", version.decisions)
    yield from _each("dependency", "dependencies", version.dependencies)
    yield from _each("stakeholder", "stakeholders", version.stakeholders)
    yield from _each("document", "documents", version.documents)
    for checklist in _each("checklist", "checklists", version.checklists):
        yield checklist
        yield from _children(checklist, "checklist_entry", "entries")
    yield from _each("lesson", "lessons", version.lessons)


def _children(parent: SeedItem, kind: str, field: str) -> Iterator[SeedItem]:
    for child in _each(kind, join_location(parent.location, field), getattr(parent.part, field)):
        yield msgspec.structs.replace(child, key=f"{parent.key}/{child.key}")


# Fixed forever: uuid5(NAMESPACE_URL, "https://pmo.cloud/ns/template-items"). Changing it would
# give every seeded row a new id, so re-seeding and upgrades would no longer find their rows.
ITEM_NAMESPACE = uuid.UUID("aa9de79c-26a3-52fa-bf10-c66448cd7104")


def stable_id(tenant_id: uuid.UUID, pack_key: str, kind: str, item_key: str) -> uuid.UUID:
    """The id a seeded row gets: the same for the same tenant, pack and item, in any version.

    Pack keys and kinds contain no `/`, so `tenant/pack/kind/key` cannot be ambiguous even though
    nested item keys (`gate/criterion`) do.
    """
    return uuid.uuid5(ITEM_NAMESPACE, f"{tenant_id}/{pack_key}/{kind}/{item_key}")


def count_by_kind(version: PackVersion) -> dict[str, int]:
    """How many items of each kind the version seeds."""
    counts: dict[str, int] = {}
    for item in seed_items(version):
        counts[item.kind] = counts.get(item.kind, 0) + 1
    return counts
