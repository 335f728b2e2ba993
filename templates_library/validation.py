"""Cross-reference checks on loaded packs.

Each `check_*` function is pure: it takes a typed `PackVersion` and returns `Finding`s (a dotted
location and a message). `validate_version` / `validate_pack` turn findings into `Problem`s with
the file and line, using the source map recorded by the loader.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NamedTuple, get_args

import msgspec

from templates_library.items import seed_items
from templates_library.loader import LoadedPack, LoadedVersion, is_semver
from templates_library.schema import (
    PARAMETER_REFERENCE,
    STANDARD_REGISTERS,
    START_DATE_PARAMETER,
    OpportunityResponse,
    PackManifest,
    PackVersion,
    Parameter,
    RoamResponse,
    ScaleLevel,
    ThreatResponse,
)
from templates_library.source import Problem, join_location
from templates_library.values import (
    InvalidParametersError,
    ItemId,
    ItemValues,
    pack_fields,
    seed_values,
)

if TYPE_CHECKING:
    from templates_library.rows import Stored

MINIMUM_GATE_CRITERIA = 5

_THREAT_RESPONSES = frozenset(get_args(ThreatResponse))
_OPPORTUNITY_RESPONSES = frozenset(get_args(OpportunityResponse))
_ROAM_RESPONSES = frozenset(get_args(RoamResponse))


class Finding(NamedTuple):
    location: str
    message: str


VersionCheck = Callable[[PackVersion], Iterator[Finding]]


class InvalidPackError(Exception):
    """A pack (or the requested version of it) cannot be used because it has problems."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(problem) for problem in problems))
        self.problems = problems


# --- file-level checks ---------------------------------------------------------------------------


def check_version_file_name(file_stem: str, version: PackVersion) -> Iterator[Finding]:
    """The file is named by a valid semver equal to the `version` field inside."""
    if not is_semver(file_stem):
        yield Finding("version", f"file name `{file_stem}` is not a semantic version (e.g. 1.0.0)")
    elif version.version != file_stem:
        yield Finding(
            "version", f"version `{version.version}` differs from file name `{file_stem}`"
        )


def check_manifest_key(folder_name: str, manifest: PackManifest) -> Iterator[Finding]:
    """`pack.yaml` key equals the pack's folder name."""
    if manifest.key != folder_name:
        yield Finding("key", f"pack key `{manifest.key}` differs from folder name `{folder_name}`")


# --- version checks ------------------------------------------------------------------------------


def check_unique_keys(version: PackVersion) -> Iterator[Finding]:
    """Keys are unique per kind (nested items within their parent)."""
    seen: set[tuple[str, str]] = set()
    for index, parameter in enumerate(version.parameters):
        if ("parameter", parameter.key) in seen:
            location = join_location(join_location("parameters", index), "key")
            yield Finding(location, f"duplicate parameter key `{parameter.key}`")
        seen.add(("parameter", parameter.key))
    for item in seed_items(version):
        if (item.kind, item.key) in seen:
            location = join_location(item.location, "key")
            yield Finding(location, f"duplicate {item.kind} key `{item.key}`")
        seen.add((item.kind, item.key))


def check_structure_references(version: PackVersion) -> Iterator[Finding]:
    """Tranches name a programme; projects, milestones, gates and checklists name real items;
    a project's milestone is in the project's tranche."""
    programmes = {programme.key for programme in version.programmes}
    tranches = {tranche.key for tranche in version.tranches}
    projects = {project.key for project in version.projects}
    gates = {gate.key for gate in version.gates}
    for i, tranche in enumerate(version.tranches):
        if tranche.programme not in programmes:
            yield _unknown(f"tranches[{i}].programme", "programme", tranche.programme)
    for i, project in enumerate(version.projects):
        if project.tranche not in tranches:
            yield _unknown(f"projects[{i}].tranche", "tranche", project.tranche)
    tranche_of = {project.key: project.tranche for project in version.projects}
    for i, milestone in enumerate(version.milestones):
        if milestone.tranche is not None and milestone.tranche not in tranches:
            yield _unknown(f"milestones[{i}].tranche", "tranche", milestone.tranche)
        if milestone.project is not None and milestone.project not in projects:
            yield _unknown(f"milestones[{i}].project", "project", milestone.project)
        # As the API refuses it: a project's milestone is in the project's tranche (or none).
        theirs = tranche_of.get(milestone.project) if milestone.project is not None else None
        if milestone.tranche is not None and theirs is not None and milestone.tranche != theirs:
            yield Finding(
                f"milestones[{i}].tranche",
                f"milestone `{milestone.key}` is in tranche `{milestone.tranche}`, but its project "
                f"`{milestone.project}` is in `{theirs}`: name the project's tranche, or none",
            )
    for i, gate in enumerate(version.gates):
        if gate.after_tranche is not None and gate.after_tranche not in tranches:
            yield _unknown(f"gates[{i}].after_tranche", "tranche", gate.after_tranche)
    for i, checklist in enumerate(version.checklists):
        if checklist.gate is not None and checklist.gate not in gates:
            yield _unknown(f"checklists[{i}].gate", "gate", checklist.gate)
        if checklist.tranche is not None and checklist.tranche not in tranches:
            yield _unknown(f"checklists[{i}].tranche", "tranche", checklist.tranche)
    for i, benefit in enumerate(version.benefits):
        for j, project_key in enumerate(benefit.enabling_projects):
            if project_key not in projects:
                yield _unknown(f"benefits[{i}].enabling_projects[{j}]", "project", project_key)
    for i, dependency in enumerate(version.dependencies):
        if dependency.from_project not in projects:
            yield _unknown(f"dependencies[{i}].from_project", "project", dependency.from_project)
        if dependency.to_project is not None and dependency.to_project not in projects:
            yield _unknown(f"dependencies[{i}].to_project", "project", dependency.to_project)
    for i, assumption in enumerate(version.assumptions):
        risks = {risk.key for risk in version.risks}
        if assumption.linked_risk is not None and assumption.linked_risk not in risks:
            yield _unknown(f"assumptions[{i}].linked_risk", "risk", assumption.linked_risk)


def check_board_references(version: PackVersion) -> Iterator[Finding]:
    """Gates, decisions, escalations and board hierarchy name boards that exist."""
    boards = {board.key for board in version.boards}
    for i, gate in enumerate(version.gates):
        if gate.board not in boards:
            yield _unknown(f"gates[{i}].board", "board", gate.board)
    for i, decision in enumerate(version.decisions):
        if decision.board not in boards:
            yield _unknown(f"decisions[{i}].board", "board", decision.board)
    for i, issue in enumerate(version.issues):
        if issue.escalate_to is not None and issue.escalate_to not in boards:
            yield _unknown(f"issues[{i}].escalate_to", "board", issue.escalate_to)
    for i, board in enumerate(version.boards):
        if board.reports_to is not None and board.reports_to not in boards:
            yield _unknown(f"boards[{i}].reports_to", "board", board.reports_to)


def check_role_references(version: PackVersion) -> Iterator[Finding]:
    """Every owner, lead, board member and RACI entry names a declared role."""
    roles = {role.key for role in version.roles}
    references: list[tuple[str, str | None]] = []
    for i, board in enumerate(version.boards):
        references += [
            (f"boards[{i}].members[{j}].role", member.role)
            for j, member in enumerate(board.members)
        ]
        references += [
            (f"boards[{i}].quorum.required_roles[{j}]", role)
            for j, role in enumerate(board.quorum.required_roles)
        ]
    for i, entry in enumerate(version.raci):
        references.append((f"raci[{i}].accountable", entry.accountable))
        for name, keys in (
            ("responsible", entry.responsible),
            ("consulted", entry.consulted),
            ("informed", entry.informed),
        ):
            references += [(f"raci[{i}].{name}[{j}]", key) for j, key in enumerate(keys)]
    references += [(f"projects[{i}].lead", p.lead) for i, p in enumerate(version.projects)]
    references += [(f"risks[{i}].owner", r.owner) for i, r in enumerate(version.risks)]
    references += [(f"assumptions[{i}].owner", a.owner) for i, a in enumerate(version.assumptions)]
    references += [(f"issues[{i}].owner", issue.owner) for i, issue in enumerate(version.issues)]
    for i, benefit in enumerate(version.benefits):
        references.append((f"benefits[{i}].owner", benefit.owner))
        references.append((f"benefits[{i}].realisation_lead", benefit.realisation_lead))
    references += [
        (f"stakeholders[{i}].owner", s.owner) for i, s in enumerate(version.stakeholders)
    ]
    references += [(f"documents[{i}].owner", d.owner) for i, d in enumerate(version.documents)]
    for i, checklist in enumerate(version.checklists):
        references += [
            (f"checklists[{i}].entries[{j}].owner", entry.owner)
            for j, entry in enumerate(checklist.entries)
        ]
    references += [
        (f"lessons[{i}].owner", lesson.owner) for i, lesson in enumerate(version.lessons)
    ]
    for location, key in references:
        if key is not None and key not in roles:
            yield _unknown(location, "role", key)


def check_board_terms(version: PackVersion) -> Iterator[Finding]:
    """Each board has one chair and a quorum its members can meet."""
    for i, board in enumerate(version.boards):
        chairs = [member for member in board.members if member.capacity == "chair"]
        if len(chairs) != 1:
            yield Finding(f"boards[{i}].members", f"needs exactly one chair, has {len(chairs)}")
        voting = [member for member in board.members if member.capacity in {"chair", "member"}]
        if board.quorum.minimum_members > len(voting):
            yield Finding(
                f"boards[{i}].quorum.minimum_members",
                f"quorum of {board.quorum.minimum_members} exceeds the {len(voting)} "
                "chair and members of the board",
            )
        member_roles = {member.role for member in board.members}
        for j, role in enumerate(board.quorum.required_roles):
            if role not in member_roles:
                yield Finding(
                    f"boards[{i}].quorum.required_roles[{j}]",
                    f"role `{role}` is required for quorum but is not a member",
                )
        if not board.decision_rights:
            yield Finding(f"boards[{i}].decision_rights", "terms of reference need decision rights")


def check_offsets_within_programme(version: PackVersion) -> Iterator[Finding]:
    """Day offsets fall between 0 and the duration of the programme they belong to."""
    durations = {programme.key: programme.duration_days for programme in version.programmes}
    longest = max(durations.values(), default=0)
    tranche_span = {t.key: durations.get(t.programme, longest) for t in version.tranches}
    project_span = {p.key: tranche_span.get(p.tranche, longest) for p in version.projects}

    def span_of(tranche: str | None = None, project: str | None = None) -> int:
        if project is not None and project in project_span:
            return project_span[project]
        if tranche is not None and tranche in tranche_span:
            return tranche_span[tranche]
        return longest

    offsets: list[tuple[str, int, int]] = []
    for i, tranche in enumerate(version.tranches):
        span = tranche_span[tranche.key]
        offsets += [(f"tranches[{i}].start_day", tranche.start_day, span)]
        offsets += [(f"tranches[{i}].end_day", tranche.end_day, span)]
    for i, milestone in enumerate(version.milestones):
        span = span_of(milestone.tranche, milestone.project)
        offsets.append((f"milestones[{i}].day", milestone.day, span))
    for i, dependency in enumerate(version.dependencies):
        span = span_of(project=dependency.from_project)
        offsets.append((f"dependencies[{i}].need_by_day", dependency.need_by_day, span))
    for i, assumption in enumerate(version.assumptions):
        if assumption.validate_by_day is not None:
            location = f"assumptions[{i}].validate_by_day"
            offsets.append((location, assumption.validate_by_day, longest))
    for location, offset, span in offsets:
        if not 0 <= offset <= span:
            yield Finding(location, f"day {offset} is outside the programme span 0..{span}")


def check_tranche_order(version: PackVersion) -> Iterator[Finding]:
    """Within a programme, tranches are listed in order and do not overlap (days inclusive)."""
    previous: dict[str, tuple[str, int]] = {}
    for i, tranche in enumerate(version.tranches):
        if tranche.end_day < tranche.start_day:
            yield Finding(
                f"tranches[{i}].end_day",
                f"tranche ends (day {tranche.end_day}) before it starts (day {tranche.start_day})",
            )
        if tranche.programme in previous:
            before, before_end = previous[tranche.programme]
            if tranche.start_day <= before_end:
                yield Finding(
                    f"tranches[{i}].start_day",
                    f"tranche starts on day {tranche.start_day}, overlapping or before "
                    f"tranche `{before}` which ends on day {before_end}",
                )
        previous[tranche.programme] = (tranche.key, tranche.end_day)


def check_scale_levels(version: PackVersion) -> Iterator[Finding]:
    """Probability and impact scales run 1..n without gaps, and name every level once."""
    for name, levels in (
        ("probability", version.scales.probability),
        ("impact", version.scales.impact),
    ):
        values = [level.value for level in levels]
        if values != list(range(1, len(values) + 1)):
            yield Finding(f"scales.{name}", f"values must run 1..n in order, got {values}")


def check_score_bands(version: PackVersion) -> Iterator[Finding]:
    """Bands are contiguous and cover every score from 1 to top probability times top impact."""
    highest = _top(version.scales.probability) * _top(version.scales.impact)
    expected_min = 1
    for i, band in enumerate(version.scales.bands):
        location = f"scales.bands[{i}]"
        if band.max_score < band.min_score:
            yield Finding(join_location(location, "max_score"), "max_score is below min_score")
        if band.min_score != expected_min:
            yield Finding(
                join_location(location, "min_score"),
                f"band `{band.key}` starts at {band.min_score}; expected {expected_min} "
                "so bands are contiguous",
            )
        expected_min = band.max_score + 1
    if expected_min - 1 != highest:
        yield Finding(
            "scales.bands", f"bands end at {expected_min - 1}; they must cover 1..{highest}"
        )


def check_risk_scores(version: PackVersion) -> Iterator[Finding]:
    """Risk probability, impact and proximity use values the scales declare."""
    probabilities = {level.value for level in version.scales.probability}
    impacts = {level.value for level in version.scales.impact}
    proximities = {level.key for level in version.scales.proximity}
    for i, risk in enumerate(version.risks):
        if risk.probability not in probabilities:
            yield Finding(
                f"risks[{i}].probability",
                f"probability {risk.probability} is not on the scale {sorted(probabilities)}",
            )
        if risk.impact not in impacts:
            yield Finding(
                f"risks[{i}].impact", f"impact {risk.impact} is not on the scale {sorted(impacts)}"
            )
        if risk.proximity not in proximities:
            yield _unknown(f"risks[{i}].proximity", "proximity", risk.proximity)


def check_risk_responses(version: PackVersion) -> Iterator[Finding]:
    """Threats take threat responses (or ROAM in agile packs); opportunities take theirs."""
    if version.scales.risk_responses == "roam":
        threat_responses = _ROAM_RESPONSES
    else:
        threat_responses = _THREAT_RESPONSES
    for i, risk in enumerate(version.risks):
        allowed = threat_responses if risk.kind == "threat" else _OPPORTUNITY_RESPONSES
        if risk.response not in allowed:
            yield Finding(
                f"risks[{i}].response",
                f"`{risk.response}` is not a response to a {risk.kind}; "
                f"use one of {', '.join(sorted(allowed))}",
            )


def check_custom_fields(version: PackVersion) -> Iterator[Finding]:
    """Choice fields list their choices, other types list none; the register exists."""
    registers = STANDARD_REGISTERS | {register.key for register in version.registers}
    for i, field in enumerate(version.custom_fields):
        location = f"custom_fields[{i}]"
        if field.register not in registers:
            yield _unknown(join_location(location, "register"), "register", field.register)
        if field.type == "choice" and len(field.choices or []) < 2:
            yield Finding(join_location(location, "choices"), "a choice field needs ≥2 choices")
        if field.type != "choice" and field.choices is not None:
            yield Finding(
                join_location(location, "choices"), f"a {field.type} field cannot have choices"
            )


def check_register_entries(version: PackVersion) -> Iterator[Finding]:
    """Entries of the pack's own registers fill declared fields with values of the right type."""
    for i, register in enumerate(version.registers):
        fields = {f.key: f for f in version.custom_fields if f.register == register.key}
        if not fields:
            yield Finding(f"registers[{i}]", f"register `{register.key}` has no custom_fields")
        for j, entry in enumerate(register.entries):
            location = f"registers[{i}].entries[{j}]"
            for name, field in fields.items():
                if field.required and name not in entry.values:
                    yield Finding(join_location(location, "values"), f"missing `{name}`")
            for name, value in entry.values.items():
                where = join_location(join_location(location, "values"), name)
                declared = fields.get(name)
                if declared is None:
                    yield Finding(where, f"`{name}` is not a field of register `{register.key}`")
                elif problem := _field_value_problem(declared.type, declared.choices, value):
                    yield Finding(where, problem)


def check_gate_criteria(version: PackVersion) -> Iterator[Finding]:
    """Every gate has at least five criteria."""
    for i, gate in enumerate(version.gates):
        if len(gate.criteria) < MINIMUM_GATE_CRITERIA:
            yield Finding(
                f"gates[{i}].criteria",
                f"gate `{gate.key}` has {len(gate.criteria)} criteria; "
                f"at least {MINIMUM_GATE_CRITERIA} are needed",
            )


# What names or states an item: the API refuses these blank, so a pack may not seed them so.
NAMING_FIELDS = frozenset({"title", "name", "label", "text"})


def check_texts_said(version: PackVersion) -> Iterator[Finding]:
    """Titles, names, labels and texts say something (not blank), a gate criterion says what
    evidence shows it is met, and a list of choices holds each choice once, none blank (as the
    API holds them)."""

    def walk(value: object, location: str) -> Iterator[Finding]:
        if isinstance(value, dict):
            for name, inner in value.items():
                where = join_location(location, name)
                if name in NAMING_FIELDS and isinstance(inner, str) and not inner.strip():
                    yield Finding(where, f"`{name}` is blank: say what it is")
                elif name == "choices" and isinstance(inner, list):
                    yield from _choice_problems(inner, where)
                else:
                    yield from walk(inner, where)
        elif isinstance(value, list):
            for i, inner in enumerate(value):
                yield from walk(inner, f"{location}[{i}]")

    yield from walk(msgspec.to_builtins(version), "")
    for i, gate in enumerate(version.gates):
        for j, criterion in enumerate(gate.criteria):
            if not criterion.evidence.strip():
                where = f"gates[{i}].criteria[{j}].evidence"
                yield Finding(where, "a gate criterion says what evidence shows it is met")


def _choice_problems(choices: list[object], location: str) -> Iterator[Finding]:
    seen: set[object] = set()
    for i, choice in enumerate(choices):
        where = f"{location}[{i}]"
        if isinstance(choice, str) and not choice.strip():
            yield Finding(where, "a choice is blank")
        elif isinstance(choice, str) and choice != choice.strip():
            yield Finding(where, f"choice {choice!r} has spaces around it")
        elif choice in seen:
            yield Finding(where, f"choice {choice!r} is listed twice")
        seen.add(choice)


# What a signup gives the pack it seeds (`signups.seeding_problems`, the provisioning run), the
# only way a workspace is seeded: every other parameter takes its default.
SIGNUP_PARAMETERS = ("programme_name", START_DATE_PARAMETER)


def check_parameters(version: PackVersion) -> Iterator[Finding]:
    """Defaults match their parameter's type; choice parameters list their choices; every
    parameter a signup does not give (`SIGNUP_PARAMETERS`) has a default, or no workspace
    could be seeded from the version."""
    for i, parameter in enumerate(version.parameters):
        location = f"parameters[{i}]"
        if parameter.default is None and parameter.key not in SIGNUP_PARAMETERS:
            yield Finding(
                join_location(location, "default"),
                f"parameter `{parameter.key}` has no default, and a signup gives only "
                f"{' and '.join(f'`{name}`' for name in SIGNUP_PARAMETERS)}: give it a default",
            )
        if parameter.type == "choice" and len(parameter.choices or []) < 2:
            yield Finding(join_location(location, "choices"), "a choice parameter needs ≥2 choices")
        if parameter.type != "choice" and parameter.choices is not None:
            yield Finding(
                join_location(location, "choices"),
                f"a {parameter.type} parameter cannot have choices",
            )
        if parameter.default is not None and (
            problem := _field_value_problem(parameter.type, parameter.choices, parameter.default)
        ):
            yield Finding(join_location(location, "default"), problem)
        if parameter.max_length is not None and parameter.type != "text":
            yield Finding(
                join_location(location, "max_length"),
                f"a {parameter.type} parameter cannot have a max_length",
            )
        elif (
            parameter.max_length is not None
            and isinstance(parameter.default, str)
            and len(parameter.default) > parameter.max_length
        ):
            yield Finding(
                join_location(location, "default"),
                f"the default is {len(parameter.default)} characters, longer than the "
                f"parameter's max_length ({parameter.max_length})",
            )


def check_parameters_across_versions(
    earlier: Sequence[PackVersion], version: PackVersion
) -> Iterator[Finding]:
    """A workspace on an earlier version can move to this one with the parameters it has.

    A pin keeps the parameters as supplied (defaults stay out), so a parameter new since an
    earlier version, or with a default there, needs a default here; a parameter keeps its type,
    a choice parameter keeps its choices and a text parameter's max_length never tightens.
    """
    latest_first = list(reversed(earlier))
    for i, parameter in enumerate(version.parameters):
        location = f"parameters[{i}]"
        name = f"parameter `{parameter.key}`"
        before = [
            (other.version, declared)
            for other in latest_first
            for declared in other.parameters
            if declared.key == parameter.key
        ]
        # A default every parameter but a signup's has already (`check_parameters`).
        if parameter.default is None and parameter.key in SIGNUP_PARAMETERS:
            declared_in = {number for number, _ in before}
            lacking = next((o.version for o in latest_first if o.version not in declared_in), None)
            defaulted = next((n for n, d in before if d.default is not None), None)
            if lacking is not None:
                yield Finding(
                    join_location(location, "default"),
                    f"{name} is new since {lacking}, so workspaces on {lacking} have no value "
                    "for it: give it a default",
                )
            elif defaulted is not None:
                yield Finding(
                    join_location(location, "default"),
                    f"{name} has a default in {defaulted}, so workspaces on {defaulted} may "
                    "have no value for it: keep a default",
                )
        retyped = next(((n, d) for n, d in before if d.type != parameter.type), None)
        if retyped is not None:
            yield Finding(
                join_location(location, "type"),
                f"{name} was {retyped[1].type} in {retyped[0]}: a parameter keeps its type "
                "(add a new parameter instead)",
            )
            continue
        reported: set[str] = set()
        for number, declared in before:
            dropped = [
                choice
                for choice in declared.choices or []
                if choice not in (parameter.choices or []) and choice not in reported
            ]
            if dropped:
                reported.update(dropped)
                listed = ", ".join(f"`{choice}`" for choice in dropped)
                plural = "choices" if len(dropped) > 1 else "a choice"
                yield Finding(
                    join_location(location, "choices"),
                    f"{name} drops {listed}, {plural} in {number}",
                )
        tighter = parameter.max_length
        looser = next(
            (
                (n, d.max_length)
                for n, d in before
                if tighter is not None and (d.max_length is None or d.max_length > tighter)
            ),
            None,
        )
        if looser is not None:
            number, allowed = looser
            then = "had no max_length" if allowed is None else f"allowed {allowed} characters"
            yield Finding(
                join_location(location, "max_length"),
                f"{name} {then} in {number}: a value valid then may be longer than {tighter}",
            )


def check_start_date(version: PackVersion) -> Iterator[Finding]:
    """A `start_date` parameter of type date is declared: every day offset counts from it."""
    for i, parameter in enumerate(version.parameters):
        if parameter.key == START_DATE_PARAMETER:
            if parameter.type != "date":
                yield Finding(
                    f"parameters[{i}].type",
                    f"`{START_DATE_PARAMETER}` must be a date parameter (offsets count from it)",
                )
            return
    yield Finding(
        "parameters",
        f"declare a date parameter `{START_DATE_PARAMETER}`: day offsets count from it",
    )


def check_parameter_references(version: PackVersion) -> Iterator[Finding]:
    """`{name}` in any text names a declared parameter."""
    declared = {parameter.key for parameter in version.parameters}
    for location, text in _texts(version, ""):
        for name in PARAMETER_REFERENCE.findall(text):
            if name not in declared:
                yield Finding(location, f"`{{{name}}}` does not name a declared parameter")


def check_rag_rules(version: PackVersion) -> Iterator[Finding]:
    """Thresholds get stricter from green to amber; reports carry the overall RAG."""
    rules = version.rag_rules
    for name, ceiling in (
        ("schedule_slip_weeks", rules.schedule_slip_weeks),
        ("cost_variance_pct", rules.cost_variance_pct),
    ):
        if ceiling.green_max > ceiling.amber_max:
            yield Finding(f"rag_rules.{name}", "green_max must not exceed amber_max")
    if rules.benefits_forecast_pct.green_min < rules.benefits_forecast_pct.amber_min:
        yield Finding("rag_rules.benefits_forecast_pct", "green_min must not be below amber_min")
    for i, report in enumerate(version.status_reports):
        if "overall" not in report.rag_dimensions:
            yield Finding(f"status_reports[{i}].rag_dimensions", "must include `overall`")
        if len(set(report.rag_dimensions)) != len(report.rag_dimensions):
            yield Finding(f"status_reports[{i}].rag_dimensions", "lists a dimension twice")


def check_benefits(version: PackVersion) -> Iterator[Finding]:
    """Confidence is on the scale; quantitative benefits have a numeric baseline and target;
    a value per year is money, to the cent (the column keeps two decimals and never rounds)."""
    confidences = {level.key for level in version.scales.benefit_confidence}
    for i, benefit in enumerate(version.benefits):
        if benefit.confidence not in confidences:
            yield _unknown(f"benefits[{i}].confidence", "benefit confidence", benefit.confidence)
        value = benefit.value_per_year
        if value is not None and not _to_the_cent(value):
            yield Finding(f"benefits[{i}].value_per_year", "money has at most two decimal places")
        if benefit.measure == "quantitative":
            for name in ("baseline", "target"):
                if isinstance(getattr(benefit, name), str):
                    yield Finding(
                        f"benefits[{i}].{name}", f"a quantitative benefit needs a numeric {name}"
                    )


def check_dependencies(version: PackVersion) -> Iterator[Finding]:
    """Internal dependencies name the project depended on (`to_project`), never the dependent
    one itself; external ones name the party."""
    for i, dependency in enumerate(version.dependencies):
        if dependency.kind == "internal" and dependency.to_project is None:
            yield Finding(f"dependencies[{i}]", "an internal dependency needs `to_project`")
        if dependency.kind == "external" and not dependency.external_party:
            yield Finding(f"dependencies[{i}]", "an external dependency needs `external_party`")
        if dependency.to_project is not None and dependency.to_project == dependency.from_project:
            # The workspace refuses it too (a project does not depend on itself).
            yield Finding(f"dependencies[{i}].to_project", "a project does not depend on itself")


def check_decisions(version: PackVersion) -> Iterator[Finding]:
    """A template's decisions are still to be taken (proposed or pending): a decision taken
    names who took it, and a superseded one its replacement, which no template can."""
    for i, decision in enumerate(version.decisions):
        if decision.status not in TEMPLATE_DECISION_STATES:
            yield Finding(
                f"decisions[{i}].status",
                f"a template's decision is still to be taken (proposed or pending), not "
                f"{decision.status}",
            )


TEMPLATE_DECISION_STATES = frozenset({"proposed", "pending"})
"""The states a pack's decision may be in (:func:`check_decisions`)."""


VERSION_CHECKS: tuple[VersionCheck, ...] = (
    check_unique_keys,
    check_structure_references,
    check_board_references,
    check_role_references,
    check_board_terms,
    check_offsets_within_programme,
    check_tranche_order,
    check_scale_levels,
    check_score_bands,
    check_risk_scores,
    check_risk_responses,
    check_custom_fields,
    check_register_entries,
    check_gate_criteria,
    check_texts_said,
    check_parameters,
    check_start_date,
    check_parameter_references,
    check_rag_rules,
    check_benefits,
    check_dependencies,
    check_decisions,
)


def version_findings(version: PackVersion, *, pack_key: str = "") -> list[Finding]:
    """All findings for one typed version, without file positions (`pack_key`: the pack the
    version is in, whose key its rows record)."""
    findings = [finding for check in VERSION_CHECKS for finding in check(version)]
    return findings + list(check_text_lengths(version, pack_key=pack_key))


# --- text lengths --------------------------------------------------------------------------------
# The workspace's columns are the limit: a text longer than its column fails the seed or upgrade
# that writes it. The limits are read from the models' column types (`String(200)`), through the
# rows each item becomes (`rows.STORED`); importing them waits until a check runs, so that
# importing this module stays free of the database layer.

_NO_TENANT = uuid.UUID(int=0)
_PROVENANCE = ("source_pack", "source_version", "source_item")


class WrittenText(NamedTuple):
    """A text that seeding writes: where it comes from in the version, and its column."""

    location: str
    kind: str
    key: str
    field: str | None
    column: str
    length: int
    limit: int


class TooLong(NamedTuple):
    """A text longer than the column it goes into."""

    text: WrittenText
    uses: list[str]  # the parameters the pack's text refers to


def written_texts(
    version: PackVersion,
    params: Mapping[str, object],
    *,
    pack_key: str = "",
    fields: Mapping[ItemId, ItemValues] | None = None,
) -> list[WrittenText]:
    """Every text with a length limit that seeding `version` with `params` writes, in item
    order (`fields`: `pack_fields(version)` when the caller has it). Raises
    `InvalidParametersError` if `params` do not fit the version."""
    from sqlalchemy import String

    from templates_library.rows import STORED, Writing

    values = seed_values(version, params, fields=fields)
    writing = Writing(_NO_TENANT, pack_key, version.version, values)
    texts: list[WrittenText] = []
    for item in seed_items(version):
        item_values = values[(item.kind, item.key)]
        stored = STORED[item.kind]
        rows = [
            (stored.model, stored.columns(item.key, item_values, writing)),
            *(
                (model, row)
                for model, part_rows in stored.parts(item.key, item_values, writing).items()
                for row in part_rows
            ),
        ]
        for model, row in rows:
            columns = model.__table__.columns
            for column, value in row.items():
                kind = columns[column].type
                if isinstance(value, str) and isinstance(kind, String) and kind.length:
                    field = _field_of(stored, column, value, item_values)
                    texts.append(
                        WrittenText(
                            location=item.location if field is None else f"{item.location}.{field}",
                            kind=item.kind,
                            key=item.key,
                            field=field,
                            column=f"{model.__tablename__}.{column}",
                            length=len(value),
                            limit=kind.length,
                        )
                    )
    return texts + _provenance_texts(version, pack_key)


def texts_too_long(
    version: PackVersion,
    params: Mapping[str, object],
    *,
    pack_key: str = "",
    fields: Mapping[ItemId, ItemValues] | None = None,
) -> list[TooLong]:
    """The texts that seeding `version` with `params` writes that do not fit their columns
    (this is the check, for pack validation and for signups alike)."""
    fields = pack_fields(version) if fields is None else fields
    return [
        TooLong(text, _parameters_used(fields, text))
        for text in written_texts(version, params, pack_key=pack_key, fields=fields)
        if text.length > text.limit
    ]


def longest_fitting(
    version: PackVersion,
    params: Mapping[str, object],
    name: str,
    *,
    pack_key: str = "",
    fields: Mapping[ItemId, ItemValues] | None = None,
) -> float:
    """The longest value text parameter `name` may have for every text to fit its column, the
    other parameters as in `params` (negative: the texts do not fit even with it empty; `inf`:
    no text takes it)."""
    # Each text is as long as its value without the parameter plus its occurrences times the
    # parameter's length: two seeds (the parameter empty, then one character long) say both.
    fields = pack_fields(version) if fields is None else fields
    empty = written_texts(version, {**params, name: ""}, pack_key=pack_key, fields=fields)
    one = written_texts(version, {**params, name: "x"}, pack_key=pack_key, fields=fields)
    room = [
        (text.limit - text.length) // (longer.length - text.length)
        for text, longer in zip(empty, one, strict=True)
        if longer.length > text.length
    ]
    return min(room, default=math.inf)


def longest_parameters(version: PackVersion) -> dict[str, object]:
    """The value of each parameter that makes the texts using it longest, as far as the version
    says: a text parameter `max_length` characters long (else its default), a choice parameter
    its longest choice; other parameters take their defaults (or any value: they print at a
    fixed length, or the version cannot say)."""
    values: dict[str, object] = {}
    for parameter in version.parameters:
        if parameter.type == "text" and parameter.max_length is not None:
            values[parameter.key] = "x" * parameter.max_length
        elif parameter.type == "choice" and parameter.choices:
            values[parameter.key] = max(parameter.choices, key=len)
        elif parameter.default is not None:
            values[parameter.key] = parameter.default
        else:
            values[parameter.key] = {"date": "2000-01-01", "number": 0}.get(parameter.type, "")
    return values


def check_text_lengths(version: PackVersion, *, pack_key: str = "") -> Iterator[Finding]:
    """Every text an item writes fits its column, with each parameter at its longest
    (`longest_parameters`); `pack_key` is the key the rows record as their pack."""
    params = longest_parameters(version)
    try:
        too_long = texts_too_long(version, params, pack_key=pack_key)
    except InvalidParametersError:
        return  # `check_parameters` and `check_start_date` say why
    declared = {parameter.key: parameter for parameter in version.parameters}
    for text, uses in too_long:
        values = [_parameter_at(declared[name], params[name]) for name in uses]
        given = f"with {', '.join(values)}, " if values else ""
        yield Finding(
            text.location,
            f"{given}{text.length} characters, but `{text.column}` holds at most {text.limit}",
        )


def _field_of(stored: Stored, column: str, value: str, values: ItemValues) -> str | None:
    """The item's field a column's text comes from (None: not one of the item's own)."""
    if column in _PROVENANCE:
        return None
    named = next((f.name for f in stored.fields if f.to == column), None)
    if named is not None:
        return named
    return next((name for name, own in values.items() if own == value), None)


def _provenance_texts(version: PackVersion, pack_key: str) -> list[WrittenText]:
    from templates_library.rows import STORED

    # Every seedable table has the same provenance columns (`SeededFromPack`).
    columns = STORED["programme"].model.__table__.columns
    return [
        WrittenText(
            "", "pack", pack_key, None, "source_pack", len(pack_key), _limit(columns, "source_pack")
        ),
        WrittenText(
            "version",
            "version",
            version.version,
            "version",
            "source_version",
            len(version.version),
            _limit(columns, "source_version"),
        ),
    ]


def _limit(columns: Any, name: str) -> int:
    length: int = columns[name].type.length
    return length


def _parameters_used(fields: Mapping[ItemId, ItemValues], text: WrittenText) -> list[str]:
    own = fields.get((text.kind, text.key), {}).get(text.field or "")
    return list(dict.fromkeys(PARAMETER_REFERENCE.findall(own))) if isinstance(own, str) else []


def _parameter_at(parameter: Parameter, value: object) -> str:
    if parameter.type == "text" and parameter.max_length is not None:
        return f"`{parameter.key}` {parameter.max_length} characters long"
    if parameter.type == "choice":
        return f"`{parameter.key}` `{value}`"
    return f"`{parameter.key}` as its default"


# --- putting it together -------------------------------------------------------------------------


def validate_version(loaded: LoadedVersion) -> list[Problem]:
    """Load problems plus every check on one version file."""
    problems = list(loaded.problems)
    if loaded.version is not None:
        findings = [
            *check_version_file_name(loaded.file.stem, loaded.version),
            *version_findings(loaded.version, pack_key=loaded.file.parent.name),
        ]
        problems += [loaded.source.problem(*finding) for finding in findings]
    return problems


def validate_pack(pack: LoadedPack) -> list[Problem]:
    """Every problem in a pack folder: manifest, stray files, then each version in semver
    order."""
    problems = [*pack.problems, *pack.stray]
    if pack.manifest is not None:
        problems += [
            pack.manifest_source.problem(*finding)
            for finding in check_manifest_key(pack.folder.name, pack.manifest)
        ]
    earlier: list[PackVersion] = []
    for loaded in pack.versions:
        problems += validate_version(loaded)
        if loaded.version is not None:
            problems += [
                loaded.source.problem(*finding)
                for finding in check_parameters_across_versions(earlier, loaded.version)
            ]
            earlier.append(loaded.version)
    return problems


def validate_library(packs: list[LoadedPack]) -> list[Problem]:
    """Every problem in a set of packs."""
    return [problem for pack in packs for problem in validate_pack(pack)]


def require_valid_version(pack: LoadedPack, version: str | None = None) -> PackVersion:
    """The requested version (latest when None) if the pack has no problems, else raise."""
    problems = validate_pack(pack)
    if problems:
        raise InvalidPackError(problems)
    by_number = {
        loaded.version.version: loaded.version for loaded in pack.versions if loaded.version
    }
    wanted = version if version is not None else pack.versions[-1].file.stem
    if wanted not in by_number:
        missing = pack.manifest_source.problem("", f"pack `{pack.key}` has no version `{wanted}`")
        raise InvalidPackError([missing])
    return by_number[wanted]


# --- small pieces --------------------------------------------------------------------------------


def _to_the_cent(amount: float) -> bool:
    # A float's shortest form is the number as written (`services.workspace.money.exact`).
    written = Decimal(repr(amount))
    return written == written.quantize(Decimal("0.01"))


def _unknown(location: str, kind: str, key: str) -> Finding:
    return Finding(location, f"no {kind} with key `{key}`")


def _top(levels: list[ScaleLevel]) -> int:
    return max((level.value for level in levels), default=0)


def _field_value_problem(
    field_type: str, choices: list[str] | None, value: str | int | float | bool
) -> str | None:
    if field_type == "choice" and value not in (choices or []):
        return f"`{value}` is not one of the choices {choices}"
    if field_type == "number" and (isinstance(value, bool) or not isinstance(value, int | float)):
        return f"`{value}` is not a number"
    if field_type == "date":
        try:
            date.fromisoformat(str(value))
        except ValueError:
            return f"`{value}` is not an ISO date (YYYY-MM-DD)"
    if field_type == "text" and not isinstance(value, str):
        return f"`{value}` is not text"
    return None


def _texts(value: object, location: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield location, value
    elif isinstance(value, msgspec.Struct):
        for field in msgspec.structs.fields(value):
            child = getattr(value, field.name)
            yield from _texts(child, join_location(location, field.encode_name))
    elif isinstance(value, list):
        for index, element in enumerate(value):
            yield from _texts(element, join_location(location, index))
    elif isinstance(value, dict):
        for name, element in value.items():
            yield from _texts(element, join_location(location, str(name)))
