"""Pack items ↔ workspace rows: which table holds each kind of item, and both directions.

* :meth:`Stored.columns` turns an item's seed values (see `values`) into the columns of its row;
  :attr:`Stored.parts` gives the rows of its parts (a board's seats, a benefit's enabling
  projects).
* :meth:`Stored.values` reads a row back into the same seed values — same field names, same
  value types — so an upgrade can compare a workspace with the pack (`upgrade.plan_upgrade`).

Most fields map to one column each (`F`: same value, renamed, or a reference); what does not —
a board's members and quorum, a gate's tranche boundary, a benefit's number-or-text baseline,
the RAG thresholds — is written out by hand below. `STORED` reads as the table in
`templates_library/README.md`.

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
from datetime import UTC, date, datetime
from typing import Any

from services.db.base import WorkspaceModel
from services.workspace.benefits.models import Benefit, BenefitEnabler
from services.workspace.benefits.service import BenefitService
from services.workspace.configuration.custom_fields import CustomFieldService
from services.workspace.configuration.models import (
    CustomFieldDefinition,
    RegisterSettings,
    RiskBand,
    ScaleKind,
    ScaleLevel,
)
from services.workspace.configuration.rules import band_rag
from services.workspace.custom_registers.models import CustomRegister, CustomRegisterEntry
from services.workspace.custom_registers.service import (
    CustomRegisterEntryService,
    CustomRegisterService,
)
from services.workspace.gates.models import (
    Checklist,
    ChecklistEntry,
    CriterionStatus,
    GateBoundary,
    GateCriterion,
    StageGate,
)
from services.workspace.gates.service import ChecklistService, GateService
from services.workspace.governance.models import Board, BoardMember, Decision, ProgrammeDocument
from services.workspace.governance.service import (
    BoardService,
    DecisionService,
    ProgrammeDocumentService,
)
from services.workspace.lessons.models import Lesson
from services.workspace.lessons.service import LessonService
from services.workspace.organisation.models import ProgrammeRole, RaciEntry, Stakeholder
from services.workspace.organisation.service import (
    ProgrammeRoleService,
    RaciEntryService,
    StakeholderService,
)
from services.workspace.raid.models import Assumption, Dependency, Issue, Risk
from services.workspace.raid.rules import risk_score
from services.workspace.raid.service import (
    AssumptionService,
    DependencyService,
    IssueService,
    RiskService,
)
from services.workspace.registers import RegisterService
from services.workspace.reporting.models import ReportFormat, ReportSection
from services.workspace.reporting.service import ReportFormatService
from services.workspace.structure.models import Milestone, Programme, Project, Tranche
from services.workspace.structure.service import (
    MilestoneService,
    ProjectService,
    TrancheService,
)
from templates_library.items import stable_id
from templates_library.values import (
    ItemId,
    ItemValues,
    client_row,
    client_row_id,
    item_ref,
    parse_item_ref,
)

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
        today: date | None = None,
    ) -> None:
        self.tenant_id = tenant_id
        self.pack = pack
        self.version = version
        self.items = items
        # The workspace's today (`clock.today`), the day a lesson written now is raised on.
        self.today = today or datetime.now(UTC).date()
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
            # A merge may keep the client's reference to a row of its own (`row:<uuid>`).
            found = client_row_id(key) or stable_id(self.tenant_id, self.pack, kind, key)
            self._ids[(kind, key)] = found
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
        return self.keys.get(row_id) or client_row(row_id)

    def keys_of(self, row_ids: list[uuid.UUID]) -> list[str]:
        return [self.key(row_id) or "" for row_id in row_ids]


def plain(value: Any) -> Any:
    """A column value as seed values hold it: enums as their text."""
    return value.value if isinstance(value, enum.Enum) else value


PartRows = dict[type[WorkspaceModel], list[Row]]
Columns = Callable[[str, ItemValues, Writing], Row]
Values = Callable[[Any, Reading], ItemValues]


@dataclass(frozen=True)
class F:
    """A field of the seed values and its column. With `refers` (a kind), the field holds an
    item key and the column the id of that item's row (`many`: a list of keys, a uuid array)."""

    name: str
    column: str = ""
    refers: str | None = None
    many: bool = False

    @property
    def to(self) -> str:
        return self.column or self.name

    def write(self, value: Any, writing: Writing) -> Any:
        if self.refers is not None:
            if self.many:
                return writing.refs(self.refers, value)
            return writing.ref(self.refers, value)
        return _copy(value)

    def read(self, value: Any, reading: Reading) -> Any:
        if self.refers is not None:
            return reading.keys_of(value) if self.many else reading.key(value)
        return _copy(plain(value))


def _copy(value: Any) -> Any:
    if isinstance(value, list):
        return list(value)
    if isinstance(value, dict):
        return dict(value)
    return value


def _nothing(*_: Any) -> dict[str, Any]:
    return {}


def _no_parts(_key: str, _values: ItemValues, _writing: Writing) -> PartRows:
    return {}


def _no_work(_row: Any, _reading: Reading) -> list[str]:
    return []


def _no_follow(_row: Any, _values: ItemValues, columns: Row) -> Row:
    return columns


@dataclass(frozen=True)
class Stored:
    """Where one kind of item lives and how its row reads and writes."""

    kind: str
    model: type[WorkspaceModel]
    fields: tuple[F, ...] = ()
    # Columns and fields that need more than one `F` each.
    more_columns: Columns = _nothing
    more_values: Values = _nothing
    # Whether the row sits in a programme (`programme_id`, from `Writing.programme_id`).
    in_programme: bool = False
    # Set by seeding only; an upgrade's update does not write them (see `follow`).
    seed_only: frozenset[str] = frozenset()
    parts: Callable[[str, ItemValues, Writing], PartRows] = _no_parts
    # Moves seed-only columns along with an update where the client never changed them.
    follow: Callable[[Any, ItemValues, Row], Row] = _no_follow
    # The register's service, whose rules an upgrade's update of the row must pass (as the
    # API's update would); None where the API does not write the table.
    rules: type[RegisterService[Any]] | None = None
    # Columns that say nothing of the client's work on a row (`worked_on`): derived by the
    # register's rules (a risk's trend), or placed by seeding and moved by nobody (positions).
    not_work: frozenset[str] = frozenset()
    # The client's work on the row's parts (the people named in a board's seats).
    parts_worked_on: Callable[[Any, Reading], list[str]] = _no_work
    # Seed-only columns worked out from another item (a gate's planned date from its tranche's
    # end): no upgrade rewrites them when that item changes, so they hold what the version
    # that seeded the row derived, which need not be the pinned version's (`worked_on`).
    derived: frozenset[str] = frozenset()

    def columns(self, key: str, values: ItemValues, writing: Writing) -> Row:
        row = {f.to: f.write(values[f.name], writing) for f in self.fields}
        if self.in_programme:
            row["programme_id"] = writing.programme_id(self.kind, values)
        return {**row, **self.more_columns(key, values, writing)}

    def values(self, row: Any, reading: Reading) -> ItemValues:
        found = {f.name: f.read(getattr(row, f.to), reading) for f in self.fields}
        return {**found, **self.more_values(row, reading)}

    @property
    def client_columns(self) -> frozenset[str]:
        """Columns an upgrade's update does not write."""
        return self.seed_only | ({"programme_id"} if self.in_programme else set())

    def worked_on(self, row: Any, seeded: Row, reading: Reading) -> list[str]:
        """The columns of `row` holding the client's work: those that differ from what seeding
        put there (`seeded`: the item's columns as its base version writes them; a column it
        does not write, the column's default). That is the row's state (status, actual dates,
        assessments …), custom fields, the people named, and the seed-only columns that are the
        client's once written (a milestone's forecast, a risk's residual assessment). The
        pack's own fields are left out: an upgrade compares them as seed values."""
        changed = []
        for column in self.model.__table__.columns:
            name = column.name
            if name in _BOOKKEEPING or name in self.not_work:
                continue
            if name in seeded and name not in self.client_columns:
                continue
            expected = seeded[name] if name in seeded else _seeded_default(column)
            if expected is not _UNKNOWN and not _same_column(getattr(row, name), expected):
                changed.append(name)
        return changed + self.parts_worked_on(row, reading)

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


# Columns every row keeps for itself: never the client's work.
_BOOKKEEPING = frozenset(
    {
        "tenant_id",
        "id",
        "version",
        "created_at",
        "updated_at",
        "created_by",
        "updated_by",
        "source_pack",
        "source_version",
        "source_item",
    }
)
_UNKNOWN = object()


def _seeded_default(column: Any) -> Any:
    """What seeding leaves in a column it does not write (`_UNKNOWN`: a time stamp, or a
    default only the database knows)."""
    default = column.default
    if default is None:
        return None if column.server_default is None else _UNKNOWN
    if getattr(default, "is_scalar", False):
        return default.arg
    if getattr(default, "is_callable", False):
        value = default.arg(None)
        return value if isinstance(value, dict | list) else _UNKNOWN
    return _UNKNOWN


def _same_column(value: Any, expected: Any) -> bool:
    if value is None or expected is None:
        return value is expected
    return bool(plain(value) == plain(expected))


def _seats_named(row: Board, r: Reading) -> list[str]:
    return ["the people in its seats"] if any(s.user_id for s in r.seats.get(row.id, [])) else []


# --- what takes more than a field each ----------------------------------------------------------


def _rank(kind: str) -> Columns:
    """`position` = the item's place among its kind (or within its register), seed only."""
    return lambda key, v, w: {"position": w.rank((kind, key))}


def _key_and_rank(kind: str) -> Columns:
    return lambda key, v, w: {"key": key, "position": w.rank((kind, key))}


def _board_quorum(key: str, v: ItemValues, w: Writing) -> Row:
    quorum = v["quorum"]
    return {
        "quorum": quorum["minimum_members"],
        "quorum_role_ids": w.refs("role", quorum["required_roles"]),
    }


def board_seats(key: str, v: ItemValues, w: Writing) -> PartRows:
    """A board's seats: one per member role, in order (the people are named later)."""
    board_id = w.id("board", key)
    seats = []
    for position, member in enumerate(v["members"]):
        # A seat the client added without a role reads back with its title (`_board_members`).
        role_key = member["role"]
        role = w.items.get(("role", role_key), {}) if role_key is not None else {}
        title = role.get("title", member.get("title", role_key or ""))
        seats.append(
            {
                "id": stable_id(w.tenant_id, w.pack, "board", f"{key}{PART}seat-{position}"),
                "board_id": board_id,
                "user_id": None,
                "role_title": str(title)[:200],
                "role_id": w.ref("role", role_key),
                "capacity": member["capacity"],
                "position": position,
                **w.provenance("board", key, f"seat-{position}"),
            }
        )
    return {BoardMember: seats}


def _board_members(row: Board, r: Reading) -> ItemValues:
    seats = r.seats.get(row.id, [])
    return {
        "members": [_seat(seat, r) for seat in seats],
        "quorum": {
            "minimum_members": row.quorum,
            "required_roles": r.keys_of(row.quorum_role_ids),
        },
    }


def _seat(seat: BoardMember, r: Reading) -> dict[str, Any]:
    """A seat as a member: its role and capacity; a seat without a role (the client's: a pack
    seat always has one) by its title too, as nothing else says what it is."""
    member = {"role": r.key(seat.role_id), "capacity": plain(seat.capacity)}
    if seat.role_id is None:
        member["title"] = seat.role_title
    return member


def _gate_boundary(key: str, v: ItemValues, w: Writing) -> Row:
    after = v["after_tranche"]
    tranche = w.items.get(("tranche", after)) if after is not None else None
    # A gate after a tranche closes it: the exit gate on that tranche's boundary.
    return {
        "tranche_id": w.ref("tranche", after),
        "boundary": GateBoundary.EXIT if after is not None else GateBoundary.ENTRY,
        "planned_date": tranche["end_date"] if tranche else None,
    }


def _gate_after(row: StageGate, r: Reading) -> ItemValues:
    exit_gate = row.boundary is GateBoundary.EXIT
    return {"after_tranche": r.key(row.tranche_id) if exit_gate else None}


def _milestone_forecast(key: str, v: ItemValues, w: Writing) -> Row:
    # The pack's date is the baseline; the forecast starts there and is the client's.
    return {"forecast_date": v["date"]}


def _milestone_follow(row: Milestone, v: ItemValues, columns: Row) -> Row:
    if row.forecast_date == row.baseline_date:
        return {**columns, "forecast_date": columns["baseline_date"]}
    return columns


# What a gate criterion tests: a pack changing one of them sets a new test.
ASSESSED_ON = ("text", "evidence_required", "mandatory")


def reassessed(row: GateCriterion, columns: Row) -> bool:
    """Whether writing ``columns`` over an assessed criterion changes what it tests."""
    return row.status is not CriterionStatus.NOT_ASSESSED and any(
        name in columns and columns[name] != getattr(row, name) for name in ASSESSED_ON
    )


def _criterion_follow(row: GateCriterion, v: ItemValues, columns: Row) -> Row:
    # The assessment was of the old test: it is cleared, so the gate counts the criterion as
    # not yet met (the client's evidence link and note stay, for whoever assesses it again).
    if reassessed(row, columns):
        return {
            **columns,
            "status": CriterionStatus.NOT_ASSESSED,
            "assessed_by": None,
            "assessed_at": None,
        }
    return columns


_SCALE_OF_KIND = {
    "probability_level": ScaleKind.PROBABILITY,
    "impact_level": ScaleKind.IMPACT,
    "proximity": ScaleKind.PROXIMITY,
    "benefit_confidence": ScaleKind.BENEFIT_CONFIDENCE,
}


def _scale(kind: str) -> Stored:
    if kind in {"probability_level", "impact_level"}:
        # Numbered levels: their key is the number, their order the pack's.
        return Stored(
            kind,
            ScaleLevel,
            (F("value"), F("label"), F("description")),
            more_columns=lambda key, v, w: {
                "scale": _SCALE_OF_KIND[kind],
                "key": key,
                "position": w.rank((kind, key)),
            },
        )
    return Stored(
        kind,
        ScaleLevel,
        (F("label"), F("description"), F("position")),
        more_columns=lambda key, v, w: {"scale": _SCALE_OF_KIND[kind], "key": key, "value": None},
    )


def _band_rag(key: str, v: ItemValues, w: Writing) -> Row:
    return {"key": key, "rag": band_rag(key, w.rank(("score_band", key)))}


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
    required = (("amber", row.path_to_green_for_amber), ("red", row.path_to_green_for_red))
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
        "path_to_green_required_for": [rag for rag, needed in required if needed],
    }


def _risk_scores(key: str, v: ItemValues, w: Writing) -> Row:
    score = risk_score(v["probability"], v["impact"])
    # The pack assesses the risk before its response; residual starts there.
    return {
        "inherent_score": score,
        "residual_probability": v["probability"],
        "residual_impact": v["impact"],
        "residual_score": score,
    }


def _risk_follow(row: Risk, v: ItemValues, columns: Row) -> Row:
    """Residual moves with inherent while the client has not assessed it separately."""
    assessed = (row.residual_probability, row.residual_impact) != (
        row.inherent_probability,
        row.inherent_impact,
    )
    if assessed:
        return columns
    score = risk_score(v["probability"], v["impact"])
    return {
        **columns,
        "residual_probability": v["probability"],
        "residual_impact": v["impact"],
        "residual_score": score,
    }


def _issue_escalation(key: str, v: ItemValues, w: Writing) -> Row:
    board = w.items.get(("board", v["escalate_to"])) if v["escalate_to"] else None
    return {"escalated_to": str(board["title"])[:200] if board else ""}


def _measure(value: float | str) -> tuple[float | None, str]:
    return (None, value) if isinstance(value, str) else (float(value), "")


def _benefit_measures(key: str, v: ItemValues, w: Writing) -> Row:
    baseline, baseline_text = _measure(v["baseline"])
    target, target_text = _measure(v["target"])
    return {
        "baseline_value": baseline,
        "baseline_text": baseline_text,
        "target_value": target,
        "target_text": target_text,
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
        "baseline": row.baseline_value if row.baseline_value is not None else row.baseline_text,
        "target": row.target_value if row.target_value is not None else row.target_text,
        "enabling_projects": [r.key(e.project_id) for e in r.enablers.get(row.id, [])],
    }


def _raised_today(key: str, v: ItemValues, w: Writing) -> Row:
    # A starter lesson is raised the day it enters the workspace: never after its today, as
    # the lessons log requires (the programme's start may be months ahead).
    return {"raised_on": w.today}


def _external_party(key: str, v: ItemValues, w: Writing) -> Row:
    return {"external_party": v["external_party"] or ""}


def _external_party_value(row: Dependency, r: Reading) -> ItemValues:
    return {"external_party": row.external_party or None}


def _role(name: str, column: str = "") -> F:
    return F(name, column or f"{name}_role_id", refers="role")


OWNER = _role("owner", "owner_role_id")
STORED: dict[str, Stored] = {
    stored.kind: stored
    for stored in [
        Stored(
            "programme",
            Programme,
            (
                F("title", "name"),
                F("description"),
                F("start_date"),
                F("end_date"),
                F("level"),
                F("vision"),
            ),
        ),
        Stored(
            "tranche",
            Tranche,
            (
                F("programme", "programme_id", refers="programme"),
                F("title", "name"),
                F("start_date"),
                F("end_date"),
                F("purpose"),
                F("capabilities"),
            ),
            more_columns=_rank("tranche"),
            seed_only=frozenset({"position"}),
            not_work=frozenset({"position"}),
            rules=TrancheService,
        ),
        Stored(
            "project",
            Project,
            (
                F("tranche", "tranche_id", refers="tranche"),
                F("title", "name"),
                F("description"),
                F("kind"),
                F("approach"),
                _role("lead"),
            ),
            in_programme=True,
            rules=ProjectService,
        ),
        Stored(
            "role",
            ProgrammeRole,
            (F("title"), F("description"), F("responsibilities")),
            more_columns=lambda key, v, w: {"key": key},
            rules=ProgrammeRoleService,
        ),
        Stored(
            "raci",
            RaciEntry,
            (
                F("activity"),
                _role("accountable"),
                *(
                    F(letter, f"{letter}_role_ids", refers="role", many=True)
                    for letter in ("responsible", "consulted", "informed")
                ),
            ),
            more_columns=_rank("raci"),
            in_programme=True,
            seed_only=frozenset({"position"}),
            not_work=frozenset({"position"}),
            rules=RaciEntryService,
        ),
        Stored(
            "board",
            Board,
            (
                F("title", "name"),
                F("purpose"),
                F("decision_rights"),
                F("cadence"),
                F("duration_minutes"),
                F("standing_agenda"),
                F("reports_to", "reports_to_id", refers="board"),
            ),
            more_columns=_board_quorum,
            more_values=_board_members,
            in_programme=True,
            parts=board_seats,
            parts_worked_on=_seats_named,
            rules=BoardService,
        ),
        Stored(
            "gate",
            StageGate,
            (
                F("title"),
                F("board", "board_id", refers="board"),
                F("purpose"),
                F("outcomes"),
                F("position"),
            ),
            more_columns=_gate_boundary,
            more_values=_gate_after,
            in_programme=True,
            seed_only=frozenset({"planned_date"}),
            derived=frozenset({"planned_date"}),
            rules=GateService,
        ),
        Stored(
            "gate_criterion",
            GateCriterion,
            (
                F("gate", "gate_id", refers="gate"),
                F("text"),
                F("evidence", "evidence_required"),
                F("mandatory"),
                F("position"),
            ),
            follow=_criterion_follow,
        ),
        Stored(
            "milestone",
            Milestone,
            (
                F("title"),
                F("date", "baseline_date"),
                F("tranche", "tranche_id", refers="tranche"),
                F("project", "project_id", refers="project"),
                F("kind"),
            ),
            more_columns=_milestone_forecast,
            in_programme=True,
            seed_only=frozenset({"forecast_date"}),
            follow=_milestone_follow,
            rules=MilestoneService,
        ),
        _scale("probability_level"),
        _scale("impact_level"),
        Stored(
            "score_band",
            RiskBand,
            (F("label"), F("min_score"), F("max_score"), F("response")),
            more_columns=_band_rag,
        ),
        _scale("proximity"),
        _scale("benefit_confidence"),
        Stored("scale_settings", RegisterSettings, (F("risk_responses", "risk_response_model"),)),
        Stored(
            "rag_rules",
            RegisterSettings,
            more_columns=_rag_rules,
            more_values=_rag_rules_values,
        ),
        Stored(
            "custom_field",
            CustomFieldDefinition,
            (
                F("name", "key"),
                F("register"),
                F("label"),
                F("type"),
                F("choices"),
                F("required"),
                F("help"),
            ),
            more_columns=_rank("custom_field"),
            seed_only=frozenset({"position"}),
            not_work=frozenset({"position"}),
            rules=CustomFieldService,
        ),
        Stored(
            "register",
            CustomRegister,
            (F("title"), F("purpose")),
            more_columns=_key_and_rank("register"),
            seed_only=frozenset({"position"}),
            not_work=frozenset({"position"}),
            rules=CustomRegisterService,
        ),
        Stored(
            "register_entry",
            CustomRegisterEntry,
            (
                F("register", "register_id", refers="register"),
                F("values", "custom_fields"),
                F("position"),
            ),
            rules=CustomRegisterEntryService,
        ),
        Stored(
            "status_report",
            ReportFormat,
            (
                F("title"),
                F("cadence"),
                F("audience"),
                F("rag_dimensions"),
                F("top_risks"),
                F("top_issues"),
                F("top_decisions"),
            ),
            rules=ReportFormatService,
        ),
        Stored(
            "report_section",
            ReportSection,
            (
                F("status_report", "format_id", refers="status_report"),
                F("title"),
                F("guidance"),
                F("position"),
            ),
        ),
        Stored(
            "risk",
            Risk,
            (
                F("title"),
                F("category"),
                F("cause"),
                F("event"),
                F("effect"),
                F("probability", "inherent_probability"),
                F("impact", "inherent_impact"),
                F("proximity"),
                F("response"),
                F("response_plan"),
                OWNER,
                F("kind"),
                F("trigger"),
            ),
            more_columns=_risk_scores,
            in_programme=True,
            seed_only=frozenset({"residual_probability", "residual_impact", "residual_score"}),
            # The rules move the trend with the residual score, which the pack may move.
            not_work=frozenset({"trend"}),
            follow=_risk_follow,
            rules=RiskService,
        ),
        Stored(
            "assumption",
            Assumption,
            (
                F("statement"),
                OWNER,
                F("confidence"),
                F("validation_method"),
                F("validate_by"),
                F("linked_risk", "risk_id", refers="risk"),
            ),
            in_programme=True,
            rules=AssumptionService,
        ),
        Stored(
            "issue",
            Issue,
            (
                F("title"),
                F("description"),
                F("type"),
                F("priority"),
                F("severity"),
                OWNER,
                F("escalate_to", "escalated_to_board_id", refers="board"),
            ),
            more_columns=_issue_escalation,
            in_programme=True,
            seed_only=frozenset({"escalated_to"}),
            derived=frozenset({"escalated_to"}),
            rules=IssueService,
        ),
        Stored(
            "benefit",
            Benefit,
            (
                F("title"),
                F("description"),
                F("classification"),
                F("measure"),
                F("indicator"),
                F("unit"),
                F("measurement_frequency"),
                F("confidence"),
                OWNER,
                F("dis_benefit"),
                F("objective"),
                _role("realisation_lead"),
                F("target_date"),
                F("value_per_year"),
            ),
            more_columns=_benefit_measures,
            more_values=_benefit_values,
            in_programme=True,
            parts=benefit_enablers,
            rules=BenefitService,
        ),
        Stored(
            "decision",
            Decision,
            (
                F("title"),
                F("context"),
                F("options"),
                F("decision"),
                F("rationale"),
                F("board", "board_id", refers="board"),
                F("status"),
            ),
            in_programme=True,
            rules=DecisionService,
        ),
        Stored(
            "dependency",
            Dependency,
            # A pack's dependency runs from the project that depends (`from_project`) to what
            # it depends on; a workspace dependency's `to` side needs something from its
            # `from` side. So the sides swap.
            (
                F("title"),
                F("from_project", "to_project_id", refers="project"),
                F("kind"),
                F("need_by", "need_by_date"),
                F("to_project", "from_project_id", refers="project"),
            ),
            more_columns=_external_party,
            more_values=_external_party_value,
            in_programme=True,
            rules=DependencyService,
        ),
        Stored(
            "stakeholder",
            Stakeholder,
            (
                F("group", "name"),
                F("interest_in_change"),
                F("power"),
                F("interest"),
                F("engagement"),
                OWNER,
            ),
            in_programme=True,
            rules=StakeholderService,
        ),
        Stored(
            "document",
            ProgrammeDocument,
            (F("title"), F("purpose"), OWNER, F("sections"), F("review", "review_cadence")),
            in_programme=True,
            rules=ProgrammeDocumentService,
        ),
        Stored(
            "checklist",
            Checklist,
            (
                F("title"),
                F("purpose"),
                F("gate", "gate_id", refers="gate"),
                F("tranche", "tranche_id", refers="tranche"),
            ),
            in_programme=True,
            rules=ChecklistService,
        ),
        Stored(
            "checklist_entry",
            ChecklistEntry,
            (
                F("checklist", "checklist_id", refers="checklist"),
                F("text"),
                OWNER,
                F("evidence"),
                F("position"),
            ),
        ),
        Stored(
            "lesson",
            Lesson,
            (
                F("title"),
                F("category"),
                F("kind"),
                F("what_happened"),
                F("recommendation"),
                OWNER,
            ),
            more_columns=_raised_today,
            in_programme=True,
            # The day it was raised is the client's once written, and says nothing of work.
            seed_only=frozenset({"raised_on"}),
            not_work=frozenset({"raised_on"}),
            rules=LessonService,
        ),
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
    Lesson,
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
