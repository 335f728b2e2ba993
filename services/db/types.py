"""Column types shared by the models of both planes."""

from __future__ import annotations

import enum
from typing import Any

from sqlalchemy import Enum


def text_enum(enum_class: type[enum.Enum], length: int = 32, name: str | None = None) -> Enum:
    """An enum stored as text with a CHECK constraint (adding a value is a plain migration).

    ``name`` names the CHECK constraint; give one when a table has two columns of one enum.
    """
    return Enum(
        enum_class,
        native_enum=False,
        create_constraint=True,
        length=length,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
        name=name or enum_class.__name__.lower(),
    )


def enum_values(enum_class: type[enum.Enum]) -> list[Any]:
    return [m.value for m in enum_class]
