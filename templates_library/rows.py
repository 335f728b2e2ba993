"""Pack items ↔ workspace rows: which table holds each kind of item, and both directions.

* :meth:`Stored.columns` turns an item's seed values (see `values`) into the columns of its row;
  :meth:`Stored.parts` gives the rows of its parts (a board's seats, a benefit's enabling
  projects).
* :meth:`Stored.values` reads a row back into the same seed values — same field names, same
  value types — so an upgrade can compare a workspace with the pack (`upgrade.plan_upgrade`).

References between items are stable ids on the way in (`items.stable_id`) and item keys on the
way out; a reference to a row that did not come from the pack reads as ``row:<uuid>``, which
differs from every key, as it should. Columns that seeding fills but that belong to the client
afterwards (a milestone's forecast, a risk's residual score, the programme a row sits in) are
``seed_only``: an upgrade's update leaves them alone, or moves them along only where the client
never changed them (`Stored.follow`).

This module knows the workspace's tables; the services keep the rules (`risk_score`,
`band_rag`), which it calls.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement

from services.db.base import WorkspaceModel
from services.workspace.benefits.models import Benefit, BenefitEnabler
from services.workspace.configuration.models import (
    CustomFieldDefinition,
    RegisterSettings,
    RiskBand,
    ScaleKind,
    ScaleLevel,
)
from services.workspace.configuration.rules import band_rag
from services.workspace.custom_registers.models import CustomRegister, CustomRegisterEntry
from services.workspace.gates.models import (
    Checklist,
    ChecklistEntry,
    GateBoundary,
    GateCriterion,
    StageGate,
)
from services.workspace.governance.models import Board, BoardMember, Decision, ProgrammeDocument
from services.workspace.organisation.models import ProgrammeRole, RaciEntry, Stakeholder
from services.workspace.raid.models import Assumption, Dependency, Issue, Risk
from services.workspace.raid.rules import risk_score
from services.workspace.reporting.models import ReportFormat, ReportSection
from services.workspace.structure.models import Milestone, Programme, Project, Tranche
from templates_library.items import stable_id
from templates_library.values import ItemId, ItemValues, item_ref, parse_item_ref

Row = dict[str, Any]

# The rag rules' row also holds the scales' settings (the risk response model): one row per
# workspace, two items.
SETTINGS_ROW: ItemId = ("rag_rules", "rag_rules")
SCALES: ItemId = ("scale_settings", "scales")
# The provenance of a part of an item (a board seat, an enabling project): the item's reference
# and `#` the part, so the unique index on (tenant, pack, item) still holds.
PART = "#"


class Writing:
    """What writing one version's items into one workspace needs to know."""

    def __init__(
        self,
        tenant_id: uuid.UUID,
        pack: str,
        version: str,
        items: Mapping[ItemId, ItemValues],
    ) -> None:
        self.tenant_id = tenant_id
        self.pack = pack
        self.version = version
        self.items = items
        self._ids: dict[ItemId, uuid.UUID] = {}
        self._ranks: dict[ItemId, int] = {}
        counters: dict[tuple[str, str], int] = {}
        for kind, key in items:
            group = (kind, _rank_group(kind, key, items[(kind, key)]))
            self._ranks[(kind, key)] = counters.get(group, 0)
            counters[group] = counters.get(group, 0) + 1
        self.first_programme = next((key for kind, key in items if kind == "programme"), None)

    def id(self, kind: str, key: str) -> uuid.UUID:
        # References name the same items many times over: work each id out once.
        found = self._ids.get((kind, key))
        if found is None:
            found = self._ids[(kind, key)] = stable_id(self.tenant_id, self.pack, kind, key)
        return found

    def ref(self, kind: str, key: str | None) -> uuid.UUID | None:
        return None if key is None else self.id(kind, key)

    def refs(self, kind: str, keys: list[str]) -> list[uuid.UUID]:
        return [self.id(kind, key) for key in keys]

    def rank(self, item_id: ItemId) -> int:
        """The item's place among its kind (custom fields: within their register)."""
        return self._ranks.get(item_id, 0)

    def provenance(self, kind: str, key: str, part: str | None = None) -> Row:
        ref = item_ref(kind, key)
        return {
            "source_pack": self.pack,
            "source_version": self.version,
            "source_item": ref if part is None else f"{ref}{PART}{part}",
        }

    def programme_key(self, kind: str, values: Mapping[str, Any]) -> str | None:
        """The programme an item belongs to: through its tranche, project or gate, else the
        version's first programme (packs state no programme for registers and boards)."""
        through: list[tuple[str, str]] = {
            "tranche": [("programme", "programme")],
            "project": [("tranche", "tranche")],
            "milestone": [("tranche", "tranche"), ("project", "project")],
            "gate": [("after_tranche", "tranche")],
            "checklist": [("gate", "gate"), ("tranche", "tranche")],
        }.get(kind, [])
        for name, target in through:
            key = values.get(name)
            if key is None:
                continue
            if target == "programme":
                return str(key)
            parent = self.items.get((target, key))
            if parent is not None:
                return self.programme_key(target, parent)
        return self.first_programme

    def programme_id(self, kind: str, values: Mapping[str, Any]) -> uuid.UUID | None:
        return self.ref("programme", self.programme_key(kind, values))


def _rank_group(kind: str, key: str, values: Mapping[str, Any]) -> str:
    if kind == "custom_field":
        return str(values.get("register", ""))
    return key.split("/", 1)[0] if "/" in key else ""


class Reading:
    """Row ids → item keys for reading a workspace's rows back."""

    def __init__(self, keys: Mapping[uuid.UUID, str]) -> None:
        self.keys = keys
        self.seats: dict[uuid.UUID, list[BoardMember]] = {}
        self.enablers: dict[uuid.UUID, list[BenefitEnabler]] = {}

    def key(self, row_id: uuid.UUID | None) -> str | None:
        if row_id is None:
            return None
        return self.keys.get(row_id, f"row:{row_id}")

    def keys_of(self, row_ids: list[uuid.UUID]) -> list[str]:
        return [self.key(row_id) or "" for row_id in row_ids]


def plain(value: Any) -> Any:
    """A column value as seed values hold it: enums as their text."""
    return value.value if isinstance(value, enum.Enum) else value


PartRows = dict[type[WorkspaceModel], list[Row]]
Columns = Callable[[str, ItemValues, Writing], Row]
Values = Callable[[Any, Reading], ItemValues]


def _no_parts(_key: str, _values: ItemValues, _writing: Writing) -> PartRows:
    return {}


def _no_follow(_row: Any, _values: ItemValues, columns: Row) -> Row:
    return columns


@dataclass(frozen=True)
class Stored:
    """Where one kind of item lives and how its row reads and writes."""

    kind: str
    model: type[WorkspaceModel]
    columns: Columns
    values: Values
    # Set by seeding only; an upgrade's update does not write them (see `follow`).
    seed_only: frozenset[str] = frozenset()
    parts: Callable[[str, ItemValues, Writing], PartRows] = _no_parts
    # Moves seed-only columns along with an update where the client never changed them.
    follow: Callable[[Any, ItemValues, Row], Row] = _no_follow
    # For tables holding several kinds: which rows are this kind's.
    where: Callable[[], ColumnElement[bool]] | None = None

    def owns(self, row: Any) -> bool:
        """Whether a row of this kind's table is of this kind (for tables of several kinds)."""
        if self.model is ScaleLevel:
            return bool(row.scale == _SCALE_OF_KIND[self.kind])
        return True

    def item_key(self, row: Any) -> str | None:
        """The item key of a row seeded from a pack (None for a client's row)."""
        if row.source_item is None:
            return None
        base = row.source_item.split(PART, 1)[0]
        kind, key = parse_item_ref(base)
        if (kind, key) == SETTINGS_ROW and self.kind == SCALES[0]:
            return SCALES[1]
        return key if kind == self.kind else None


# --- per kind ------------------------------------------------------------------------------------


def _programme(key: str, v: ItemValues, w: Writing) -> Row:
    return {
        "name": v["title"],
        "description": v["description"],
        "start_date": v["start_date"],
        "end_date": v["end_date"],
        "level": v["level"],
        "vision": v["vision"],
    }


def _programme_values(row: Programme, r: Reading) -> ItemValues:
    return {
        "title": row.name,
        "description": row.description,
        "start_date": row.start_date,
        "end_date": row.end_date,
        "level": plain(row.level),
        "vision": row.vision,
    }


def _tranche(key: str, v: ItemValues, w: Writing) -> Row:
    return {
        "programme_id": w.ref("programme", v["programme"]),
        "name": v["title"],
        "start_date": v["start_date"],
        "end_date": v["end_date"],
        "purpose": v["purpose"],
        "capabilities": list(v["capabilities"]),
        "position": w.rank(("tranche", key)),
    }


def _tranche_values(row: Tranche, r: Reading) -> ItemValues:
    return {
        "programme": r.key(row.programme_id),
        "title": row.name,
        "start_date": row.start_date,
        "end_date": row.end_date,
        "purpose": row.purpose,
        "capabilities": list(row.capabilities),
    }


def _project(key: str, v: ItemValues, w: Writing) -> Row:
    return {
        "programme_id": w.programme_id("project", v),
        "tranche_id": w.ref("tranche", v["tranche"]),
        "name": v["title"],
        "description": v["description"],
        "kind": v["kind"],
        "approach": v["approach"],
        "lead_role_id": w.ref("role", v["lead"]),
    }


def _project_values(row: Project, r: Reading) -> ItemValues:
    return {
        "tranche": r.key(row.tranche_id),
        "title": row.name,
        "description": row.description,
        "kind": plain(row.kind),
        "approach": plain(row.approach),
        "lead": r.key(row.lead_role_id),
    }


def _role(key: str, v: ItemValues, w: Writing) -> Row:
    return {
        "key": key,
        "title": v["title"],
        "description": v["description"],
        "responsibilities": list(v["responsibilities"]),
    }


def _role_values(row: ProgrammeRole, r: Reading) -> ItemValues:
    return {
        "title": row.title,
        "description": row.description,
        "responsibilities": list(row.responsibilities),
    }


def _raci(key: str, v: ItemValues, w: Writing) -> Row:
    return {
        "programme_id": w.programme_id("raci", v),
        "activity": v["activity"],
        "accountable_role_id": w.ref("role", v["accountable"]),
        "responsible_role_ids": w.refs("role", v["responsible"]),
        "consulted_role_ids": w.refs("role", v["consulted"]),
        "informed_role_ids": w.refs("role", v["informed"]),
        "position": w.rank(("raci", key)),
    }


def _raci_values(row: RaciEntry, r: Reading) -> ItemValues:
    return {
        "activity": row.activity,
        "responsible": r.keys_of(row.responsible_role_ids),
        "accountable": r.key(row.accountable_role_id),
        "consulted": r.keys_of(row.consulted_role_ids),
        "informed": r.keys_of(row.informed_role_ids),
    }


def _board(key: str, v: ItemValues, w: Writing) -> Row:
    quorum = v["quorum"]
    return {
        "programme_id": w.programme_id("board", v),
        "name": v["title"],
        "purpose": v["purpose"],
        "decision_rights": list(v["decision_rights"]),
        "quorum": quorum["minimum_members"],
        "quorum_role_ids": w.refs("role", quorum["required_roles"]),
        "cadence": v["cadence"],
        "duration_minutes": v["duration_minutes"],
        "standing_agenda": list(v["standing_agenda"]),
        "reports_to_id": w.ref("board", v["reports_to"]),
    }


def board_seats(key: str, v: ItemValues, w: Writing) -> PartRows:
    """A board's seats: one per member role, in order (the people are named later)."""
    board_id = w.id("board", key)
    seats = []
    for position, member in enumerate(v["members"]):
        role = w.items.get(("role", member["role"]), {})
        seats.append(
            {
                "id": stable_id(w.tenant_id, w.pack, "board", f"{key}{PART}seat-{position}"),
                "board_id": board_id,
                "user_id": None,
                "role_title": str(role.get("title", member["role"]))[:200],
                "role_id": w.id("role", member["role"]),
                "capacity": member["capacity"],
                "position": position,
                **w.provenance("board", key, f"seat-{position}"),
            }
        )
    return {BoardMember: seats}


def _board_values(row: Board, r: Reading) -> ItemValues:
    seats = r.seats.get(row.id, [])
    return {
        "title": row.name,
        "purpose": row.purpose,
        "members": [
            {"role": r.key(seat.role_id), "capacity": plain(seat.capacity)} for seat in seats
        ],
        "decision_rights": list(row.decision_rights),
        "quorum": {
            "minimum_members": row.quorum,
            "required_roles": r.keys_of(row.quorum_role_ids),
        },
        "cadence": plain(row.cadence),
        "duration_minutes": row.duration_minutes,
        "standing_agenda": list(row.standing_agenda),
        "reports_to": r.key(row.reports_to_id),
    }


def _gate(key: str, v: ItemValues, w: Writing) -> Row:
    after = v["after_tranche"]
    tranche = w.items.get(("tranche", after)) if after is not None else None
    return {
        "programme_id": w.programme_id("gate", v),
        # A gate after a tranche closes it: the exit gate on that tranche's boundary.
        "tranche_id": w.ref("tranche", after),
        "boundary": GateBoundary.EXIT if after is not None else GateBoundary.ENTRY,
        "board_id": w.ref("board", v["board"]),
        "title": v["title"],
        "purpose": v["purpose"],
        "outcomes": list(v["outcomes"]),
        "position": v["position"],
        "planned_date": tranche["end_date"] if tranche else None,
    }


def _gate_values(row: StageGate, r: Reading) -> ItemValues:
    return {
        "title": row.title,
        "board": r.key(row.board_id),
        "purpose": row.purpose,
        "after_tranche": r.key(row.tranche_id) if row.boundary is GateBoundary.EXIT else None,
        "outcomes": list(row.outcomes),
        "position": row.position,
    }


def _criterion(key: str, v: ItemValues, w: Writing) -> Row:
    return {
        "gate_id": w.ref("gate", v["gate"]),
        "text": v["text"],
        "evidence_required": v["evidence"],
        "mandatory": v["mandatory"],
        "position": v["position"],
    }


def _criterion_values(row: GateCriterion, r: Reading) -> ItemValues:
    return {
        "gate": r.key(row.gate_id),
        "text": row.text,
        "evidence": row.evidence_required,
        "mandatory": row.mandatory,
        "position": row.position,
    }


def _milestone(key: str, v: ItemValues, w: Writing) -> Row:
    return {
        "programme_id": w.programme_id("milestone", v),
        "tranche_id": w.ref("tranche", v["tranche"]),
        "project_id": w.ref("project", v["project"]),
        "title": v["title"],
        "kind": v["kind"],
        # The pack's date is the baseline; the forecast starts there and is the client's.
        "baseline_date": v["date"],
        "forecast_date": v["date"],
    }


def _milestone_follow(row: Milestone, v: ItemValues, columns: Row) -> Row:
    if row.forecast_date == row.baseline_date:
        return {**columns, "forecast_date": columns["baseline_date"]}
    return columns


def _milestone_values(row: Milestone, r: Reading) -> ItemValues:
    return {
        "title": row.title,
        "date": row.baseline_date,
        "tranche": r.key(row.tranche_id),
        "project": r.key(row.project_id),
        "kind": plain(row.kind),
    }


_SCALE_OF_KIND = {
    "probability_level": ScaleKind.PROBABILITY,
    "impact_level": ScaleKind.IMPACT,
    "proximity": ScaleKind.PROXIMITY,
    "benefit_confidence": ScaleKind.BENEFIT_CONFIDENCE,
}


def _scale_level(kind: str) -> tuple[Columns, Values]:
    numbered = kind in {"probability_level", "impact_level"}

    def columns(key: str, v: ItemValues, w: Writing) -> Row:
        return {
            "scale": _SCALE_OF_KIND[kind],
            "key": key,
            "value": v["value"] if numbered else None,
            "label": v["label"],
            "description": v["description"],
            "position": w.rank((kind, key)) if numbered else v["position"],
        }

    def values(row: ScaleLevel, r: Reading) -> ItemValues:
        found: ItemValues = {"label": row.label, "description": row.description}
        if numbered:
            return {"value": row.value, **found}
        return {**found, "position": row.position}

    return columns, values


def _band(key: str, v: ItemValues, w: Writing) -> Row:
    return {
        "key": key,
        "label": v["label"],
        "min_score": v["min_score"],
        "max_score": v["max_score"],
        "response": v["response"],
        "rag": band_rag(key, w.rank(("score_band", key))),
    }


def _band_values(row: RiskBand, r: Reading) -> ItemValues:
    return {
        "label": row.label,
        "min_score": row.min_score,
        "max_score": row.max_score,
        "response": row.response,
    }


def _rag_rules(key: str, v: ItemValues, w: Writing) -> Row:
    path = v["path_to_green_required_for"]
    # `overall` has one value in the schema (the worst dimension), so it needs no column.
    return {
        "schedule_slip_green_max_weeks": v["schedule_slip_weeks"]["green_max"],
        "schedule_slip_amber_max_weeks": v["schedule_slip_weeks"]["amber_max"],
        "cost_variance_green_max_pct": v["cost_variance_pct"]["green_max"],
        "cost_variance_amber_max_pct": v["cost_variance_pct"]["amber_max"],
        "benefits_forecast_green_min_pct": v["benefits_forecast_pct"]["green_min"],
        "benefits_forecast_amber_min_pct": v["benefits_forecast_pct"]["amber_min"],
        "override_requires_reason": v["override_requires_reason"],
        "path_to_green_for_amber": "amber" in path,
        "path_to_green_for_red": "red" in path,
    }


def _rag_rules_values(row: RegisterSettings, r: Reading) -> ItemValues:
    return {
        "schedule_slip_weeks": {
            "green_max": row.schedule_slip_green_max_weeks,
            "amber_max": row.schedule_slip_amber_max_weeks,
        },
        "cost_variance_pct": {
            "green_max": row.cost_variance_green_max_pct,
            "amber_max": row.cost_variance_amber_max_pct,
        },
        "benefits_forecast_pct": {
            "green_min": row.benefits_forecast_green_min_pct,
            "amber_min": row.benefits_forecast_amber_min_pct,
        },
        "overall": "worst_dimension",
        "override_requires_reason": row.override_requires_reason,
        "path_to_green_required_for": [
            rag
            for rag, required in (
                ("amber", row.path_to_green_for_amber),
                ("red", row.path_to_green_for_red),
            )
            if required
        ],
    }


def _scale_settings(key: str, v: ItemValues, w: Writing) -> Row:
    return {"risk_response_model": v["risk_responses"]}


def _scale_settings_values(row: RegisterSettings, r: Reading) -> ItemValues:
    return {"risk_responses": plain(row.risk_response_model)}


def _custom_field(key: str, v: ItemValues, w: Writing) -> Row:
    return {
        "register": v["register"],
        "key": v["name"],
        "label": v["label"],
        "type": v["type"],
        "choices": None if v["choices"] is None else list(v["choices"]),
        "required": v["required"],
        "help": v["help"],
        "position": w.rank(("custom_field", key)),
    }


def _custom_field_values(row: CustomFieldDefinition, r: Reading) -> ItemValues:
    return {
        "name": row.key,
        "register": row.register,
        "label": row.label,
        "type": plain(row.type),
        "choices": None if row.choices is None else list(row.choices),
        "required": row.required,
        "help": row.help,
    }


def _register(key: str, v: ItemValues, w: Writing) -> Row:
    return {
        "key": key,
        "title": v["title"],
        "purpose": v["purpose"],
        "position": w.rank(("register", key)),
    }


def _register_values(row: CustomRegister, r: Reading) -> ItemValues:
    return {"title": row.title, "purpose": row.purpose}


def _entry(key: str, v: ItemValues, w: Writing) -> Row:
    return {
        "register_id": w.ref("register", v["register"]),
        "custom_fields": dict(v["values"]),
        "position": v["position"],
    }


def _entry_values(row: CustomRegisterEntry, r: Reading) -> ItemValues:
    return {
        "register": r.key(row.register_id),
        "values": dict(row.custom_fields),
        "position": row.position,
    }


def _format(key: str, v: ItemValues, w: Writing) -> Row:
    return {
        "title": v["title"],
        "cadence": v["cadence"],
        "audience": v["audience"],
        "rag_dimensions": list(v["rag_dimensions"]),
        "top_risks": v["top_risks"],
        "top_issues": v["top_issues"],
        "top_decisions": v["top_decisions"],
    }


def _format_values(row: ReportFormat, r: Reading) -> ItemValues:
    return {
        "title": row.title,
        "cadence": row.cadence,
        "audience": row.audience,
        "rag_dimensions": list(row.rag_dimensions),
        "top_risks": row.top_risks,
        "top_issues": row.top_issues,
        "top_decisions": row.top_decisions,
    }


def _section(key: str, v: ItemValues, w: Writing) -> Row:
    return {
        "format_id": w.ref("status_report", v["status_report"]),
        "title": v["title"],
        "guidance": v["guidance"],
        "position": v["position"],
    }


def _section_values(row: ReportSection, r: Reading) -> ItemValues:
    return {
        "status_report": r.key(row.format_id),
        "title": row.title,
        "guidance": row.guidance,
        "position": row.position,
    }


def _risk(key: str, v: ItemValues, w: Writing) -> Row:
    score = risk_score(v["probability"], v["impact"])
    return {
        "programme_id": w.programme_id("risk", v),
        "title": v["title"],
        "category": v["category"],
        "cause": v["cause"],
        "event": v["event"],
        "effect": v["effect"],
        "kind": v["kind"],
        # The pack assesses the risk before its response; residual starts there.
        "inherent_probability": v["probability"],
        "inherent_impact": v["impact"],
        "inherent_score": score,
        "residual_probability": v["probability"],
        "residual_impact": v["impact"],
        "residual_score": score,
        "proximity": v["proximity"],
        "response": v["response"],
        "response_plan": v["response_plan"],
        "owner_role_id": w.ref("role", v["owner"]),
        "trigger": v["trigger"],
    }


def _risk_follow(row: Risk, v: ItemValues, columns: Row) -> Row:
    """Residual moves with inherent while the client has not assessed it separately."""
    assessed = (row.residual_probability, row.residual_impact) != (
        row.inherent_probability,
        row.inherent_impact,
    )
    if assessed:
        return columns
    return {
        **columns,
        "residual_probability": columns["inherent_probability"],
        "residual_impact": columns["inherent_impact"],
        "residual_score": columns["inherent_score"],
    }


def _risk_values(row: Risk, r: Reading) -> ItemValues:
    return {
        "title": row.title,
        "category": row.category,
        "cause": row.cause,
        "event": row.event,
        "effect": row.effect,
        "probability": row.inherent_probability,
        "impact": row.inherent_impact,
        "proximity": row.proximity,
        "response": plain(row.response),
        "response_plan": row.response_plan,
        "owner": r.key(row.owner_role_id),
        "kind": plain(row.kind),
        "trigger": row.trigger,
    }


def _assumption(key: str, v: ItemValues, w: Writing) -> Row:
    return {
        "programme_id": w.programme_id("assumption", v),
        "statement": v["statement"],
        "owner_role_id": w.ref("role", v["owner"]),
        "confidence": v["confidence"],
        "validation_method": v["validation_method"],
        "validate_by": v["validate_by"],
        "risk_id": w.ref("risk", v["linked_risk"]),
    }


def _assumption_values(row: Assumption, r: Reading) -> ItemValues:
    return {
        "statement": row.statement,
        "owner": r.key(row.owner_role_id),
        "confidence": plain(row.confidence),
        "validation_method": row.validation_method,
        "validate_by": row.validate_by,
        "linked_risk": r.key(row.risk_id),
    }


def _issue(key: str, v: ItemValues, w: Writing) -> Row:
    board = w.items.get(("board", v["escalate_to"])) if v["escalate_to"] else None
    return {
        "programme_id": w.programme_id("issue", v),
        "title": v["title"],
        "description": v["description"],
        "type": v["type"],
        "priority": v["priority"],
        "severity": v["severity"],
        "owner_role_id": w.ref("role", v["owner"]),
        "escalated_to_board_id": w.ref("board", v["escalate_to"]),
        "escalated_to": str(board["title"])[:200] if board else "",
    }


def _issue_values(row: Issue, r: Reading) -> ItemValues:
    return {
        "title": row.title,
        "description": row.description,
        "type": plain(row.type),
        "priority": plain(row.priority),
        "severity": row.severity,
        "owner": r.key(row.owner_role_id),
        "escalate_to": r.key(row.escalated_to_board_id),
    }


def _measure(value: float | str) -> tuple[float | None, str]:
    return (None, value) if isinstance(value, str) else (float(value), "")


def _benefit(key: str, v: ItemValues, w: Writing) -> Row:
    baseline, baseline_text = _measure(v["baseline"])
    target, target_text = _measure(v["target"])
    return {
        "programme_id": w.programme_id("benefit", v),
        "title": v["title"],
        "description": v["description"],
        "classification": v["classification"],
        "measure": v["measure"],
        "indicator": v["indicator"],
        "unit": v["unit"],
        "baseline_value": baseline,
        "baseline_text": baseline_text,
        "target_value": target,
        "target_text": target_text,
        "measurement_frequency": v["measurement_frequency"],
        "confidence": v["confidence"],
        "owner_role_id": w.ref("role", v["owner"]),
        "dis_benefit": v["dis_benefit"],
        "objective": v["objective"],
        "realisation_lead_role_id": w.ref("role", v["realisation_lead"]),
        "target_date": v["target_date"],
        "value_per_year": v["value_per_year"],
    }


def benefit_enablers(key: str, v: ItemValues, w: Writing) -> PartRows:
    benefit_id = w.id("benefit", key)
    return {
        BenefitEnabler: [
            {
                "id": stable_id(w.tenant_id, w.pack, "benefit", f"{key}{PART}{project}"),
                "benefit_id": benefit_id,
                "project_id": w.id("project", project),
                "position": position,
                **w.provenance("benefit", key, project),
            }
            for position, project in enumerate(v["enabling_projects"])
        ]
    }


def _benefit_values(row: Benefit, r: Reading) -> ItemValues:
    return {
        "title": row.title,
        "description": row.description,
        "classification": plain(row.classification),
        "measure": plain(row.measure),
        "indicator": row.indicator,
        "unit": row.unit,
        "baseline": row.baseline_value if row.baseline_value is not None else row.baseline_text,
        "target": row.target_value if row.target_value is not None else row.target_text,
        "measurement_frequency": row.measurement_frequency,
        "confidence": row.confidence,
        "owner": r.key(row.owner_role_id),
        "dis_benefit": row.dis_benefit,
        "objective": row.objective,
        "realisation_lead": r.key(row.realisation_lead_role_id),
        "enabling_projects": [r.key(e.project_id) for e in r.enablers.get(row.id, [])],
        "target_date": row.target_date,
        "value_per_year": row.value_per_year,
    }


def _decision(key: str, v: ItemValues, w: Writing) -> Row:
    return {
        "programme_id": w.programme_id("decision", v),
        "title": v["title"],
        "context": v["context"],
        "options": list(v["options"]),
        "decision": v["decision"],
        "rationale": v["rationale"],
        "board_id": w.ref("board", v["board"]),
        "status": v["status"],
    }


def _decision_values(row: Decision, r: Reading) -> ItemValues:
    return {
        "title": row.title,
        "context": row.context,
        "options": list(row.options),
        "decision": row.decision,
        "rationale": row.rationale,
        "board": r.key(row.board_id),
        "status": plain(row.status),
    }


# A pack's dependency runs from the project that depends (`from_project`) to what it depends on
# (`to_project`, or an external party); a workspace dependency's `to` side needs something from
# its `from` side. So the sides swap: the dependent project is the row's `to_project_id`.


def _dependency(key: str, v: ItemValues, w: Writing) -> Row:
    return {
        "programme_id": w.programme_id("dependency", v),
        "title": v["title"],
        "to_project_id": w.ref("project", v["from_project"]),
        "kind": v["kind"],
        "need_by_date": v["need_by"],
        "from_project_id": w.ref("project", v["to_project"]),
        "external_party": v["external_party"] or "",
    }


def _dependency_values(row: Dependency, r: Reading) -> ItemValues:
    return {
        "title": row.title,
        "from_project": r.key(row.to_project_id),
        "kind": plain(row.kind),
        "need_by": row.need_by_date,
        "to_project": r.key(row.from_project_id),
        "external_party": row.external_party or None,
    }


def _stakeholder(key: str, v: ItemValues, w: Writing) -> Row:
    return {
        "programme_id": w.programme_id("stakeholder", v),
        "name": v["group"],
        "interest_in_change": v["interest_in_change"],
        "power": v["power"],
        "interest": v["interest"],
        "engagement": v["engagement"],
        "owner_role_id": w.ref("role", v["owner"]),
    }


def _stakeholder_values(row: Stakeholder, r: Reading) -> ItemValues:
    return {
        "group": row.name,
        "interest_in_change": row.interest_in_change,
        "power": plain(row.power),
        "interest": plain(row.interest),
        "engagement": row.engagement,
        "owner": r.key(row.owner_role_id),
    }


def _document(key: str, v: ItemValues, w: Writing) -> Row:
    return {
        "programme_id": w.programme_id("document", v),
        "title": v["title"],
        "purpose": v["purpose"],
        "owner_role_id": w.ref("role", v["owner"]),
        "sections": list(v["sections"]),
        "review_cadence": v["review"],
    }


def _document_values(row: ProgrammeDocument, r: Reading) -> ItemValues:
    return {
        "title": row.title,
        "purpose": row.purpose,
        "owner": r.key(row.owner_role_id),
        "sections": list(row.sections),
        "review": plain(row.review_cadence),
    }


def _checklist(key: str, v: ItemValues, w: Writing) -> Row:
    return {
        "programme_id": w.programme_id("checklist", v),
        "gate_id": w.ref("gate", v["gate"]),
        "tranche_id": w.ref("tranche", v["tranche"]),
        "title": v["title"],
        "purpose": v["purpose"],
    }


def _checklist_values(row: Checklist, r: Reading) -> ItemValues:
    return {
        "title": row.title,
        "purpose": row.purpose,
        "gate": r.key(row.gate_id),
        "tranche": r.key(row.tranche_id),
    }


def _checklist_entry(key: str, v: ItemValues, w: Writing) -> Row:
    return {
        "checklist_id": w.ref("checklist", v["checklist"]),
        "text": v["text"],
        "owner_role_id": w.ref("role", v["owner"]),
        "evidence": v["evidence"],
        "position": v["position"],
    }


def _checklist_entry_values(row: ChecklistEntry, r: Reading) -> ItemValues:
    return {
        "checklist": r.key(row.checklist_id),
        "text": row.text,
        "owner": r.key(row.owner_role_id),
        "evidence": row.evidence,
        "position": row.position,
    }


def _scale(kind: str) -> Stored:
    columns, values = _scale_level(kind)
    return Stored(
        kind,
        ScaleLevel,
        columns,
        values,
        where=lambda: ScaleLevel.scale == _SCALE_OF_KIND[kind],
    )


PROGRAMME = frozenset({"programme_id"})
STORED: dict[str, Stored] = {
    stored.kind: stored
    for stored in [
        Stored("programme", Programme, _programme, _programme_values),
        Stored("tranche", Tranche, _tranche, _tranche_values, seed_only=frozenset({"position"})),
        Stored("project", Project, _project, _project_values, seed_only=PROGRAMME),
        Stored("role", ProgrammeRole, _role, _role_values),
        Stored("raci", RaciEntry, _raci, _raci_values, seed_only=PROGRAMME | {"position"}),
        Stored("board", Board, _board, _board_values, seed_only=PROGRAMME, parts=board_seats),
        Stored("gate", StageGate, _gate, _gate_values, seed_only=PROGRAMME | {"planned_date"}),
        Stored("gate_criterion", GateCriterion, _criterion, _criterion_values),
        Stored(
            "milestone",
            Milestone,
            _milestone,
            _milestone_values,
            seed_only=PROGRAMME | {"forecast_date"},
            follow=_milestone_follow,
        ),
        _scale("probability_level"),
        _scale("impact_level"),
        Stored("score_band", RiskBand, _band, _band_values),
        _scale("proximity"),
        _scale("benefit_confidence"),
        Stored("scale_settings", RegisterSettings, _scale_settings, _scale_settings_values),
        Stored("rag_rules", RegisterSettings, _rag_rules, _rag_rules_values),
        Stored(
            "custom_field",
            CustomFieldDefinition,
            _custom_field,
            _custom_field_values,
            seed_only=frozenset({"position"}),
        ),
        Stored(
            "register",
            CustomRegister,
            _register,
            _register_values,
            seed_only=frozenset({"position"}),
        ),
        Stored("register_entry", CustomRegisterEntry, _entry, _entry_values),
        Stored("status_report", ReportFormat, _format, _format_values),
        Stored("report_section", ReportSection, _section, _section_values),
        Stored(
            "risk",
            Risk,
            _risk,
            _risk_values,
            seed_only=PROGRAMME | {"residual_probability", "residual_impact", "residual_score"},
            follow=_risk_follow,
        ),
        Stored("assumption", Assumption, _assumption, _assumption_values, seed_only=PROGRAMME),
        Stored("issue", Issue, _issue, _issue_values, seed_only=PROGRAMME | {"escalated_to"}),
        Stored(
            "benefit",
            Benefit,
            _benefit,
            _benefit_values,
            seed_only=PROGRAMME,
            parts=benefit_enablers,
        ),
        Stored("decision", Decision, _decision, _decision_values, seed_only=PROGRAMME),
        Stored("dependency", Dependency, _dependency, _dependency_values, seed_only=PROGRAMME),
        Stored("stakeholder", Stakeholder, _stakeholder, _stakeholder_values, seed_only=PROGRAMME),
        Stored("document", ProgrammeDocument, _document, _document_values, seed_only=PROGRAMME),
        Stored("checklist", Checklist, _checklist, _checklist_values, seed_only=PROGRAMME),
        Stored("checklist_entry", ChecklistEntry, _checklist_entry, _checklist_entry_values),
    ]
}
"""Every kind of item (`items.KINDS`) and where it is stored."""

# Parents before children: the order rows are inserted in (and deleted in reverse).
TABLE_ORDER: tuple[type[WorkspaceModel], ...] = (
    ProgrammeRole,
    Programme,
    Tranche,
    Project,
    Board,
    BoardMember,
    StageGate,
    GateCriterion,
    Milestone,
    ScaleLevel,
    RiskBand,
    RegisterSettings,
    CustomFieldDefinition,
    CustomRegister,
    CustomRegisterEntry,
    ReportFormat,
    ReportSection,
    Risk,
    Assumption,
    Issue,
    Benefit,
    BenefitEnabler,
    Decision,
    Dependency,
    RaciEntry,
    Stakeholder,
    ProgrammeDocument,
    Checklist,
    ChecklistEntry,
)
PART_TABLES: dict[type[WorkspaceModel], tuple[type[WorkspaceModel], str]] = {
    BoardMember: (Board, "board_id"),
    BenefitEnabler: (Benefit, "benefit_id"),
}


@dataclass
class RowsToWrite:
    """Rows by table, in insertion order when iterated through `in_order`."""

    by_table: dict[type[WorkspaceModel], list[Row]] = field(default_factory=dict)

    def add(self, model: type[WorkspaceModel], row: Row) -> None:
        self.by_table.setdefault(model, []).append(row)

    def in_order(self) -> list[tuple[type[WorkspaceModel], list[Row]]]:
        return [(m, self.by_table[m]) for m in TABLE_ORDER if self.by_table.get(m)]

    def count(self) -> int:
        return sum(len(rows) for rows in self.by_table.values())


def rows_for(
    items: Mapping[ItemId, ItemValues], writing: Writing, only: set[ItemId] | None = None
) -> RowsToWrite:
    """The rows that write `items` (or only those named in `only`) into a workspace."""
    result = RowsToWrite()
    settings: Row | None = None
    for item_id, values in items.items():
        if only is not None and item_id not in only:
            continue
        kind, key = item_id
        stored = STORED[kind]
        columns = stored.columns(key, values, writing)
        if item_id == SCALES:
            # Written on the rag rules' row (one settings row per workspace).
            settings = {**(settings or {}), **columns}
            continue
        row = {"id": writing.id(kind, key), **columns, **writing.provenance(kind, key)}
        if item_id == SETTINGS_ROW:
            settings = {**row, **(settings or {})}
            continue
        result.add(stored.model, row)
        for model, part_rows in stored.parts(key, values, writing).items():
            for part in part_rows:
                result.add(model, part)
    # The scales' settings alone (an upgrade changing only them) update the row instead.
    if settings is not None and "id" in settings:
        result.add(RegisterSettings, settings)
    return result
