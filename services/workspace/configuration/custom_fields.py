"""Custom field definitions: the extra typed fields a workspace adds to its registers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, select

from services.errors import Conflict, ValidationFailed, field_error
from services.workspace.configuration.models import CustomFieldDefinition, CustomFieldType
from services.workspace.configuration.service import REGISTERS, forget_configuration
from services.workspace.custom_registers.models import CustomRegister
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

    async def delete(self, row: CustomFieldDefinition) -> None:
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
