"""Custom field definitions: the extra typed fields a workspace adds to its registers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Table, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.db.base import WORKSPACE_SCHEMA, metadata
from services.db.tenant_scope import TenantScopeError, scope_of
from services.errors import Conflict, ValidationFailed, field_error
from services.workspace.configuration.models import CustomFieldDefinition, CustomFieldType
from services.workspace.configuration.service import (
    REGISTERS,
    coerce_value,
    forget_configuration,
)
from services.workspace.custom_registers.models import CustomRegister, CustomRegisterEntry
from services.workspace.registers import RegisterService


@dataclass(frozen=True, slots=True)
class CustomFieldFilter:
    register: str | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        if self.register is None:
            return []
        return [CustomFieldDefinition.register == self.register]

    def order(self) -> list[Any]:
        return [
            CustomFieldDefinition.register,
            CustomFieldDefinition.position,
            CustomFieldDefinition.key,
        ]


class CustomFieldService(RegisterService[CustomFieldDefinition]):
    """Definitions are workspace configuration: admins change them, packs seed them."""

    model = CustomFieldDefinition
    noun = "custom field"

    async def check(self, row: CustomFieldDefinition, before: dict[str, Any] | None) -> None:
        _check_choices(row)
        if before is not None and "type" in before:
            await self._check_values_fit(row)
        elif before is not None and "choices" in before:
            await self._check_removed_choices(row, before["choices"])
        if before is None:
            await self._check_register(row.register)
            exists = await self.session.scalar(
                select(CustomFieldDefinition.id).where(
                    CustomFieldDefinition.register == row.register,
                    CustomFieldDefinition.key == row.key,
                )
            )
            if exists is not None:
                raise Conflict(f"{row.register} already has a custom field {row.key!r}.")
        forget_configuration(self.session)

    async def _check_register(self, register: str) -> None:
        """A field extends a register that exists: a standard one or the workspace's own."""
        if register in REGISTERS:
            return
        own = await self.session.scalar(
            select(CustomRegister.id).where(CustomRegister.key == register)
        )
        if own is None:
            raise ValidationFailed(
                f"No register {register!r} in this workspace.",
                errors=[
                    field_error(
                        "register",
                        f"one of {', '.join(sorted(REGISTERS))} or a custom register's key",
                    )
                ],
            )

    async def _check_removed_choices(
        self, row: CustomFieldDefinition, old: list[str] | None
    ) -> None:
        """A choice still held by rows stays: they could no longer be filtered by it, nor
        written without changing it."""
        removed = [choice for choice in old or [] if choice not in (row.choices or [])]
        if row.type is not CustomFieldType.CHOICE or not removed:
            return
        used = await values_in_use(self.session, row.register, row.key, removed)
        if used:
            rows = sum(used.values())
            which = ", ".join(f"{choice!r} ({n})" for choice, n in used.items())
            verb = "uses" if rows == 1 else "use"
            raise Conflict(
                f"{rows} {register_rows(row.register, rows)} still {verb} the choices of "
                f"{row.key!r} being removed: {which}. Change them first.",
                errors=[field_error("choices", f"still in use: {which}")],
            )

    async def _check_values_fit(self, row: CustomFieldDefinition) -> None:
        """A field's type changes (an upgrade may change it; the API does not) only where the
        values rows hold still fit it: a number field whose rows hold text could neither
        filter them nor take their own values back."""
        refused: dict[str, int] = {}
        for value, count in (await held_values(self.session, row.register, row.key)).items():
            if coerce_value(row, value)[1] is not None:
                refused[repr(value)] = count
        if refused:
            rows = sum(refused.values())
            which = ", ".join(f"{value} ({n})" for value, n in refused.items())
            verb = "holds" if rows == 1 else "hold"
            raise Conflict(
                f"{rows} {register_rows(row.register, rows)} still {verb} values of {row.key!r} "
                f"that a {row.type} field cannot hold: {which}. Change them first.",
                errors=[field_error("type", f"values in use do not fit: {which}")],
            )

    async def delete(self, row: CustomFieldDefinition) -> None:
        """A field that rows still hold a value in stays (their values would be unknown keys:
        unfilterable, and refused on their next write)."""
        rows = sum((await values_in_use(self.session, row.register, row.key)).values())
        if rows:
            verb = "holds" if rows == 1 else "hold"
            raise Conflict(
                f"{rows} {register_rows(row.register, rows)} still {verb} a value in "
                f"{row.key!r}. Clear it first."
            )
        await super().delete(row)
        forget_configuration(self.session)


def _check_choices(definition: CustomFieldDefinition) -> None:
    if definition.type is CustomFieldType.CHOICE and not definition.choices:
        raise ValidationFailed(
            "A choice field lists its choices.",
            errors=[field_error("choices", "at least one choice for a choice field")],
        )
    if definition.type is not CustomFieldType.CHOICE and definition.choices:
        raise ValidationFailed(
            "Only choice fields have choices.",
            errors=[field_error("choices", f"a {definition.type} field has no choices")],
        )
    # Each choice once, saying something, without spaces around it ("a " would pass for "a"
    # on a screen), as pack validation holds a pack's choices.
    seen: set[str] = set()
    for choice in definition.choices or []:
        if not choice.strip():
            problem = "is blank"
        elif choice != choice.strip():
            problem = "has spaces around it"
        elif choice in seen:
            problem = "is listed twice"
        else:
            seen.add(choice)
            continue
        said = f"choice {choice!r} {problem}"
        raise ValidationFailed(f"choices: {said}.", errors=[field_error("choices", said)])


def _rows_of(session: AsyncSession, register: str) -> tuple[Table, ColumnElement[bool]]:
    """The table holding ``register``'s rows (a standard register or a custom register's key),
    and the condition picking them out in the session's workspace."""
    scope = scope_of(session.sync_session)
    if scope is None:
        raise TenantScopeError("counting custom field values without a tenant scope")
    if register in REGISTERS:
        table = metadata.tables[f"{WORKSPACE_SCHEMA}.{register}"]
        return table, table.c.tenant_id == scope.tenant_id
    table = metadata.tables[f"{WORKSPACE_SCHEMA}.{CustomRegisterEntry.__tablename__}"]
    registers = select(CustomRegister.id).where(CustomRegister.key == register)
    return table, (table.c.tenant_id == scope.tenant_id) & table.c.register_id.in_(registers)


async def values_in_use(
    session: AsyncSession, register: str, key: str, choices: list[str] | None = None
) -> dict[str, int]:
    """How many rows of ``register`` (a standard register or a custom register's key) hold
    each value of their custom field ``key`` (as text; only ``choices``, when given)."""
    table, condition = _rows_of(session, register)
    value = table.c.custom_fields[key].astext
    wanted = value.in_(choices) if choices is not None else value.is_not(None)
    found = await session.execute(
        select(value, func.count()).where(condition, wanted).group_by(value).order_by(value)
    )
    return {str(stored): int(count) for stored, count in found.all()}


async def held_values(session: AsyncSession, register: str, key: str) -> dict[Any, int]:
    """The values rows of ``register`` hold in custom field ``key``, as stored (JSON: text,
    numbers …), each with how many rows hold it."""
    table, condition = _rows_of(session, register)
    value = table.c.custom_fields[key]
    found = await session.execute(
        select(value, func.count()).where(condition, value.is_not(None)).group_by(value)
    )
    return {stored: int(count) for stored, count in found.all()}


def register_rows(register: str, count: int) -> str:
    """``count`` rows of ``register`` in words, without the number: "risk", "log entries"."""
    if register not in REGISTERS:
        return f"{register} entr{'y' if count == 1 else 'ies'}"
    noun = register.replace("_", " ")
    return noun[:-1] if count == 1 and noun.endswith("s") else noun
