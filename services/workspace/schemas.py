"""API shapes every workspace concept shares: text types, patches, custom field values."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, TypeVar

import msgspec
from msgspec import UNSET, Meta

from services.text import KEY_PATTERN, NO_NUL, NOT_BLANK
from services.workspace import money

Name = Annotated[
    str,
    Meta(
        min_length=1, max_length=200, pattern=NOT_BLANK, description="Shown in lists and reports."
    ),
]
Description = Annotated[str, Meta(max_length=20_000, pattern=NO_NUL)]
Short = Annotated[str, Meta(max_length=200, pattern=NO_NUL)]
Reference = Annotated[
    str, Meta(min_length=1, max_length=32, pattern=NOT_BLANK, description="The register's own id.")
]
Key = Annotated[str, Meta(min_length=1, max_length=64, pattern=KEY_PATTERN)]

SourceVersion = Annotated[
    str | None,
    Meta(
        description="The template pack version whose values this row was last written from or "
        "settled at (null for the client's own rows). Not a copy of the pin's version: a row "
        "whose change an upgrade held back keeps the older version until the change goes "
        "through."
    ),
]
# Money is a JSON number with at most two decimal places (more is refused, not rounded): the
# services hold it as an exact Decimal (`money.exact`), and read shapes show it as a number
# again (`read_of`). msgspec checks the bounds; the description states the cents, not a
# `multipleOf: 0.01`, which validators test in binary floating point and so get wrong (0.29 is
# not a multiple of 0.01 to them).
_CENTS = "at most two decimal places (more is refused, not rounded)"
Money = Annotated[
    float,
    Meta(ge=-1e12, le=1e12, description=f"An amount of money, to the cent: {_CENTS}."),
]
"""Money that may be negative: a change's cost impact (a saving), a benefit's value (a
dis-benefit)."""
Measure = Annotated[float, Meta(ge=-1e15, le=1e15)]
# Litestar drops a `minimum` of 0 from optional fields' schemas (it tests the bound for truth),
# so the bound is also given as extra schema.
_FROM_ZERO: dict[str, Any] = {"extra": {"minimum": 0}}
Cost = Annotated[
    float,
    Meta(
        ge=0,
        le=1e12,
        extra_json_schema=_FROM_ZERO,
        description=f"Money spent or to spend, to the cent: {_CENTS}.",
    ),
]
"""Money that cannot be negative: a budget, a forecast cost, a realisation cost."""
Percent = Annotated[float, Meta(ge=0, le=100, extra_json_schema=_FROM_ZERO)]
Position = Annotated[
    int, Meta(ge=0, le=1000, extra_json_schema=_FROM_ZERO, description="Display order.")
]


def listed_text(max_length: int, min_length: int = 0) -> dict[str, Any]:
    """The ``items`` schema of a list of texts, for ``Meta(extra_json_schema=…)``: Litestar
    leaves a list item's own bounds out of the OpenAPI document."""
    items = {"type": "string", "minLength": min_length, "maxLength": max_length, "pattern": NO_NUL}
    return {"extra": {"items": items}}


Lines = Annotated[
    list[Annotated[str, Meta(max_length=2000, pattern=NO_NUL)]],
    Meta(max_length=50, extra_json_schema=listed_text(2000)),
]
"""A short list of texts (decision rights, an agenda, capabilities …)."""

# A custom field's value: text, choice and date (ISO) as strings, numbers as numbers. The
# service checks each value against its field's definition (``coerce_value``), so an error names
# the field (``custom_fields.exposure``); msgspec would name only ``custom_fields[...]``.
CUSTOM_TEXT_MAX = 2000
CUSTOM_NUMBER_MAX = 1e15
_CUSTOM_VALUE_SCHEMA = {
    "anyOf": [
        {"type": "string", "maxLength": CUSTOM_TEXT_MAX, "pattern": NO_NUL},
        {"type": "number", "minimum": -CUSTOM_NUMBER_MAX, "maximum": CUSTOM_NUMBER_MAX},
        {"type": "null"},
    ]
}
CustomValues = Annotated[
    dict[Key, Any],
    Meta(
        description="Extra fields defined for this register in the workspace (by key).",
        extra_json_schema={"extra": {"additionalProperties": _CUSTOM_VALUE_SCHEMA}},
    ),
]


class Patch(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """An update body: only the fields sent change; ``null`` clears an optional field."""

    def changes(self) -> dict[str, Any]:
        return {f: v for f in self.__struct_fields__ if (v := getattr(self, f)) is not UNSET}


R = TypeVar("R", bound=msgspec.Struct)


def read_of(cls: type[R], row: object, **computed: Any) -> R:
    """Build a read shape from a row's attributes, plus computed fields. Money (``Decimal``)
    is shown as a JSON number (msgspec would write a Decimal as a string)."""
    values = {f: computed[f] if f in computed else getattr(row, f) for f in cls.__struct_fields__}
    return cls(**{f: money.number(v) if isinstance(v, Decimal) else v for f, v in values.items()})


class DatedValue(msgspec.Struct, forbid_unknown_fields=True):
    date: date
    value: Measure
