"""Money: amounts in the workspace's currency, exact to the cent.

Columns are ``numeric(16, 2)`` (:data:`MONEY`) and the ORM holds :class:`~decimal.Decimal`, so
sums are exact: budgets of 0.10 and 0.20 make 0.30, not 0.30000000000000004. The API reads and
writes money as JSON numbers. A number arrives as a float; within the API's bounds (±1e12) an
amount of at most two decimals has at most fifteen significant digits, which a float's shortest
form (``repr``) gives back digit for digit, so nothing is lost on the way in (:func:`exact`) or
on the way out (:func:`number`). More decimals are refused, never rounded.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Numeric

from services.errors import ValidationFailed, field_error

MONEY = Numeric(16, 2, asdecimal=True)
CENT = Decimal("0.01")
# numeric(16, 2) holds fourteen digits before the point.
_HELD = Decimal("1e14")


def exact(field: str, value: float | int | Decimal | None) -> Decimal | None:
    """``value`` as the exact amount the column holds (``Decimal`` with two places).

    Raises :class:`ValidationFailed` naming ``field`` for more than two decimal places (or an
    amount no column could hold): money is never rounded silently.
    """
    if value is None:
        return None
    amount = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    if not amount.is_finite() or abs(amount) >= _HELD:
        raise ValidationFailed(
            f"{field} is not an amount of money that can be kept.",
            errors=[field_error(field, "not an amount of money")],
        )
    cents = amount.quantize(CENT)
    if cents != amount:
        raise ValidationFailed(
            f"{field} has more than two decimal places; money is kept to the cent, never rounded.",
            errors=[field_error(field, "at most two decimal places")],
        )
    # numeric has no negative zero: hold what a read will give back.
    return cents.copy_abs() if cents.is_zero() else cents


def number(amount: Decimal) -> float:
    """An amount as the API shows it: a JSON number with the amount's own digits (``1234.5``
    for 1234.50), exact up to fifteen significant digits (every amount the API accepts, and
    sums of them below ten thousand billion)."""
    return float(amount)
