"""The workspace's register configuration, read once per session, and custom field rules."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from services.errors import ValidationFailed, field_error
from services.workspace.configuration.models import (
    CustomFieldDefinition,
    CustomFieldType,
    RegisterSettings,
    RiskBand,
    ScaleKind,
    ScaleLevel,
)
from services.workspace.configuration.rules import (
    DEFAULT_CONFIGURATION,
    Band,
    Level,
    RagRules,
    RegisterConfiguration,
)
from services.workspace.schemas import CUSTOM_NUMBER_MAX, CUSTOM_TEXT_MAX

_CONFIGURATION = "register_configuration"
_DEFINITIONS = "custom_field_definitions"
# Registers whose rows carry custom fields in this application (besides a workspace's own
# custom registers, named by their keys).
REGISTERS = (
    "projects",
    "milestones",
    "benefits",
    "risks",
    "issues",
    "assumptions",
    "dependencies",
    "decisions",
    "change_requests",
    "actions",
    "stakeholders",
    "lessons",
)


async def configuration(session: AsyncSession) -> RegisterConfiguration:
    """Scales, bands and RAG rules of the session's workspace (defaults where it has none).

    Three queries the first time in a session, none after.
    """
    cached = session.info.get(_CONFIGURATION)
    if isinstance(cached, RegisterConfiguration):
        return cached
    levels = (await session.scalars(select(ScaleLevel).order_by(ScaleLevel.position))).all()
    bands = (await session.scalars(select(RiskBand).order_by(RiskBand.min_score))).all()
    settings = await session.scalar(select(RegisterSettings))
    by_scale: dict[ScaleKind, tuple[Level, ...]] = {}
    for kind in ScaleKind:
        found = tuple(
            Level(lv.key, lv.label, lv.value, lv.description) for lv in levels if lv.scale is kind
        )
        if found:
            by_scale[kind] = found
    default = DEFAULT_CONFIGURATION
    result = RegisterConfiguration(
        probability=by_scale.get(ScaleKind.PROBABILITY, default.probability),
        impact=by_scale.get(ScaleKind.IMPACT, default.impact),
        proximity=by_scale.get(ScaleKind.PROXIMITY, default.proximity),
        benefit_confidence=by_scale.get(ScaleKind.BENEFIT_CONFIDENCE, default.benefit_confidence),
        bands=tuple(
            Band(b.key, b.label, b.min_score, b.max_score, b.rag, b.response) for b in bands
        )
        or default.bands,
        rag_rules=_rules(settings) if settings else default.rag_rules,
        risk_response_model=settings.risk_response_model
        if settings
        else default.risk_response_model,
    )
    session.info[_CONFIGURATION] = result
    return result


def _rules(row: RegisterSettings) -> RagRules:
    return RagRules(
        schedule_slip_green_max_weeks=row.schedule_slip_green_max_weeks,
        schedule_slip_amber_max_weeks=row.schedule_slip_amber_max_weeks,
        cost_variance_green_max_pct=row.cost_variance_green_max_pct,
        cost_variance_amber_max_pct=row.cost_variance_amber_max_pct,
        benefits_forecast_green_min_pct=row.benefits_forecast_green_min_pct,
        benefits_forecast_amber_min_pct=row.benefits_forecast_amber_min_pct,
        override_requires_reason=row.override_requires_reason,
        path_to_green_for_amber=row.path_to_green_for_amber,
        path_to_green_for_red=row.path_to_green_for_red,
    )


def forget_configuration(session: AsyncSession) -> None:
    session.info.pop(_CONFIGURATION, None)
    session.info.pop(_DEFINITIONS, None)


async def definitions(session: AsyncSession, register: str) -> list[CustomFieldDefinition]:
    """The custom fields defined for ``register``, in display order (one query per session)."""
    cached = session.info.get(_DEFINITIONS)
    if not isinstance(cached, list):
        cached = list(
            (
                await session.scalars(
                    select(CustomFieldDefinition).order_by(
                        CustomFieldDefinition.position, CustomFieldDefinition.key
                    )
                )
            ).all()
        )
        session.info[_DEFINITIONS] = cached
    return [d for d in cached if d.register == register]


def _field(key: str) -> str:
    return f"custom_fields.{key}"


def coerce_value(definition: CustomFieldDefinition, value: Any) -> tuple[Any, str | None]:
    """A value as stored for its field's type, or the reason it is refused."""
    kind = definition.type
    if kind is CustomFieldType.NUMBER:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None, "must be a number"
        if not -CUSTOM_NUMBER_MAX <= value <= CUSTOM_NUMBER_MAX:
            return None, f"must be between {-CUSTOM_NUMBER_MAX:g} and {CUSTOM_NUMBER_MAX:g}"
        # 250000.0 is shown and exported as 250000.
        return (int(value) if isinstance(value, float) and value.is_integer() else value), None
    if not isinstance(value, str):
        return None, f"must be {'a date (YYYY-MM-DD)' if kind is CustomFieldType.DATE else 'text'}"
    if len(value) > CUSTOM_TEXT_MAX:
        return None, f"at most {CUSTOM_TEXT_MAX} characters"
    if "\x00" in value:
        return None, "no NUL characters"
    if kind is CustomFieldType.DATE:
        try:
            return date.fromisoformat(value).isoformat(), None
        except ValueError:
            return None, "must be a date (YYYY-MM-DD)"
    if kind is CustomFieldType.CHOICE and value not in (definition.choices or []):
        return None, "must be one of: " + ", ".join(definition.choices or [])
    return value, None


async def validate_custom_fields(
    session: AsyncSession,
    register: str,
    values: Mapping[str, Any],
    current: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The stored custom fields after applying ``values`` to ``current`` (None: a new row).

    Unknown keys, wrong types and choices outside the list are refused; a required field must
    be given on create and cannot be cleared. ``null`` removes a value.
    """
    defined = {d.key: d for d in await definitions(session, register)}
    result = dict(current or {})
    errors: list[dict[str, str]] = []
    for key, value in values.items():
        definition = defined.get(key)
        if definition is None:
            errors.append(field_error(_field(key), f"no custom field {key!r} on {register}"))
            continue
        if value is None:
            result.pop(key, None)
            continue
        stored, problem = coerce_value(definition, value)
        if problem:
            errors.append(field_error(_field(key), problem))
        else:
            result[key] = stored
    for definition in defined.values():
        missing = definition.key not in result
        if definition.required and missing and (current is None or definition.key in values):
            errors.append(field_error(_field(definition.key), "required"))
    if errors:
        raise ValidationFailed("Some custom fields are invalid.", errors=errors)
    return result


_FILTER = re.compile(
    r"^(?P<key>[a-z0-9][a-z0-9_-]{0,63})(?P<op>=|<=|>=)(?P<value>[^\x00]{0,2000})$"
)


async def custom_field_conditions(
    session: AsyncSession,
    register: str,
    column: InstrumentedAttribute[dict[str, Any]],
    filters: list[str] | None,
) -> list[ColumnElement[bool]]:
    """``key=value`` (any type), ``key>=value`` / ``key<=value`` (numbers, dates) as SQL."""
    if not filters:
        return []
    defined = {d.key: d for d in await definitions(session, register)}
    conditions: list[ColumnElement[bool]] = []
    errors: list[dict[str, str]] = []
    for raw in filters:
        match = _FILTER.match(raw)
        definition = defined.get(match["key"]) if match else None
        if match is None or definition is None:
            errors.append(
                field_error("custom", f"{raw!r}: expected key=value of a custom field", "query")
            )
            continue
        key, op, text = match["key"], match["op"], match["value"]
        value: Any = text
        if definition.type is CustomFieldType.NUMBER:
            try:
                value = float(text)
            except ValueError:
                errors.append(field_error("custom", f"{key} takes a number", "query"))
                continue
        stored, problem = coerce_value(definition, value)
        if problem:
            errors.append(field_error("custom", f"{key} {problem}", "query"))
            continue
        if op == "=":
            conditions.append(column.contains({key: stored}))
            continue
        if definition.type not in (CustomFieldType.NUMBER, CustomFieldType.DATE):
            errors.append(field_error("custom", f"{key}: <= and >= need a number or date", "query"))
            continue
        element = column[key]
        if definition.type is CustomFieldType.NUMBER:
            compared: Any = element.as_float()
        else:
            compared = element.as_string()
        conditions.append(compared >= stored if op == ">=" else compared <= stored)
    if errors:
        raise ValidationFailed("Invalid custom field filter.", errors=errors)
    return conditions
