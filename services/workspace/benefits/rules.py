"""Benefit rules: the lifecycle, realisation %, and the programme roll-up."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from services.workspace.benefits.models import BenefitMeasure, BenefitState
from services.workspace.money import CENT

S = BenefitState
TERMINAL = frozenset({S.REALISED, S.NOT_REALISED, S.WITHDRAWN})
TRANSITIONS: dict[BenefitState, frozenset[BenefitState]] = {
    S.IDENTIFIED: frozenset({S.VALIDATED, S.WITHDRAWN}),
    S.VALIDATED: frozenset({S.PLANNED, S.IDENTIFIED, S.WITHDRAWN}),
    S.PLANNED: frozenset({S.REALISING, S.VALIDATED, S.WITHDRAWN}),
    S.REALISING: frozenset({S.REALISED, S.NOT_REALISED, S.WITHDRAWN}),
    S.REALISED: frozenset(),
    S.NOT_REALISED: frozenset(),
    S.WITHDRAWN: frozenset(),
}
# What a benefit in a final state is judged on: its measure's definition, baseline, target and
# the steps on the way. Realised or not, that judgement is on record and the figures stay as
# they were (there is no step back from a final state); its text and people stay editable.
FIXED_WHEN_FINAL = frozenset(
    {
        "measure",
        "indicator",
        "unit",
        "baseline_value",
        "baseline_text",
        "baseline_date",
        "target_value",
        "target_text",
        "target_date",
        "interim_targets",
    }
)


def fixed_fields(state: BenefitState, changed: Iterable[str]) -> list[str]:
    """The fields among ``changed`` a benefit in ``state`` keeps as they are, in name order:
    in a final state (realised, not_realised, withdrawn) the figures that judge it."""
    return sorted(set(changed) & FIXED_WHEN_FINAL) if state in TERMINAL else []


@dataclass(frozen=True, slots=True)
class BenefitProfile:
    """What the lifecycle rules look at."""

    measure: BenefitMeasure
    owner_set: bool
    baseline_value: float | None
    target_value: float | None
    target_date_set: bool
    measurements: int = 0


def transition_problems(
    current: BenefitState, new: BenefitState, profile: BenefitProfile
) -> list[tuple[str, str]]:
    """Why ``current → new`` is refused, as ``(field, message)`` pairs; empty when legal.

    The move must be one of the lifecycle's, and the benefit must have what ``new`` needs
    (:func:`state_problems`).
    """
    if new == current:
        return []
    if new not in TRANSITIONS[current]:
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "none (final state)"
        return [("state", f"cannot move from {current} to {new}; allowed: {allowed}")]
    return state_problems(new, profile)


def state_problems(state: BenefitState, profile: BenefitProfile) -> list[tuple[str, str]]:
    """What a benefit in ``state`` lacks, as ``(field, message)`` pairs; empty when nothing.

    A benefit is validated once it has an owner; it is planned once a quantitative one has a
    baseline, a target and a target date; it is realised only on measured evidence. It keeps
    all that while it stays in the state (or goes further), not only on the way in.
    """
    problems: list[tuple[str, str]] = []
    reached = {S.VALIDATED, S.PLANNED, S.REALISING, S.REALISED, S.NOT_REALISED}
    if state in reached and not profile.owner_set:
        problems.append(("owner_id", f"a {state} benefit needs an owner"))
    quantitative = profile.measure is BenefitMeasure.QUANTITATIVE
    if state in reached - {S.VALIDATED} and quantitative:
        if profile.baseline_value is None:
            problems.append(("baseline_value", f"a {state} benefit needs a baseline"))
        if profile.target_value is None:
            problems.append(("target_value", f"a {state} benefit needs a target"))
        if not profile.target_date_set:
            problems.append(("target_date", f"a {state} benefit needs a target date"))
    if state is S.REALISED and quantitative and profile.measurements == 0:
        problems.append(("state", "a benefit is realised on evidence: record a measurement first"))
    return problems


def interim_target_problem(
    interim: Iterable[date],
    baseline_date: date | None,
    target_date: date | None,
    *,
    set_now: bool = True,
) -> str | None:
    """Why the interim targets' dates do not fit the benefit's; None when they do. They are in
    date order, on or after the baseline date and on or before the target date (each when set):
    an interim target is a step on the way, not past either end. One per date: two for one day
    would say two things of it. That is checked on targets being set (``set_now``): ones stored
    before it was refused do not lock the benefit against writes of other fields."""
    dates = list(interim)
    if dates != sorted(dates):
        return "in date order"
    twice = next((a for a, b in itertools.pairwise(dates) if a == b), None)
    if set_now and twice is not None:
        return f"one per date: {twice} has more than one"
    if baseline_date is not None and dates and dates[0] < baseline_date:
        return f"on or after baseline_date ({baseline_date}): {dates[0]} is before it"
    if target_date is not None and dates and dates[-1] > target_date:
        return f"on or before target_date ({target_date}): {dates[-1]} is after it"
    return None


def accepts_measurements(state: BenefitState) -> bool:
    return state is not S.WITHDRAWN


def expected_value(
    state: BenefitState,
    forecast: float | None,
    baseline: float | None,
    latest: float | None,
) -> float | None:
    """The value a benefit is expected to reach, as a forecast roll-up counts it: the owner's
    forecast while it is open; once closed, what was measured, as the forecast is moot (a
    realised one at its latest measurement, a not-realised one too, or at its baseline when
    never measured: nothing was realised). A withdrawn one keeps its forecast (the roll-ups
    leave it out)."""
    if state is S.REALISED:
        return latest
    if state is S.NOT_REALISED:
        return baseline if latest is None else latest
    return forecast


def realisation_pct(
    baseline: float | None, target: float | None, latest: float | None, *, exact: bool = False
) -> float | None:
    """(latest − baseline) / (target − baseline) × 100, to two decimals as shown (``exact``:
    unrounded, for roll-ups and rules); None when it cannot be known, or is beyond what a
    number holds (a target a hair's breadth from its baseline).

    Works for falling indicators (a target below the baseline) and dis-benefits alike. Worked
    out in decimal on the values as written, so a forecast of exactly 90 % is 90, not the
    89.99999999999999 binary floating point makes of (18 − 10.8) / (18 − 10): a RAG rule's
    "≥ 90 %" must see what the report shows.
    """
    if baseline is None or target is None or latest is None or target == baseline:
        return None
    start = _decimal(baseline)
    pct = (_decimal(latest) - start) / (_decimal(target) - start) * 100
    # Two decimals of a % with more digits than the decimal context holds cannot be had (and
    # mean nothing beside a float's seventeen significant digits): such a % is shown as it is.
    if not exact and pct.adjusted() < _ROUNDED_DIGITS:
        pct = pct.quantize(Decimal("0.01"), ROUND_HALF_UP)
    # No progress on a falling indicator is 0 / (a negative) = -0: shown as 0.
    shown = float(pct.copy_abs() if pct.is_zero() else pct)
    return shown if math.isfinite(shown) else None


# The integer digits a % may have and still be rounded to two decimals within the default
# decimal context's 28 digits.
_ROUNDED_DIGITS = 25


def _decimal(value: float) -> Decimal:
    # The shortest text that reads back as the float: the value as it was written.
    return Decimal(repr(float(value)))


@dataclass(frozen=True, slots=True)
class BenefitProgress:
    """One benefit's part in a programme roll-up."""

    pct: float | None
    value_per_year: Decimal | None
    dis_benefit: bool = False


@dataclass(frozen=True, slots=True)
class RealisationRollUp:
    # As shown: two decimals.
    pct: float | None
    value_weighted: bool
    counted: int
    # Money, to the cent: each benefit's value × its (capped) %, summed exactly.
    value_realised_per_year: Decimal | None
    # Unrounded: what a RAG rule compares (89.996 % is not 90 %).
    exact_pct: float | None = None


def roll_up(benefits: Iterable[BenefitProgress]) -> RealisationRollUp:
    """A programme's realisation %: value-weighted when the money of every benefit counted is
    known, else a plain mean (weighting by the money of some would leave the others out: one
    valued benefit at 100 % would read 100 % beside unvalued ones at nothing). Dis-benefits
    and benefits without a % are left out. Each benefit counts between 0 and 100 %, so one
    overachieving benefit cannot hide an underachieving one. The money realised is summed
    over the benefits whose money is known, either way.
    A dis-benefit's ``value_per_year`` is a cost, so negative (or zero); a benefit's is gained,
    so positive: the flag decides what is counted, and a value's money only counts where it is
    positive, so a cost never adds to (or weighs in) the value realised.
    Give each benefit's % unrounded (``realisation_pct(…, exact=True)``): only the result's
    ``pct`` is rounded, for showing.
    """
    counted = [b for b in benefits if b.pct is not None and not b.dis_benefit]
    if not counted:
        return RealisationRollUp(None, False, 0, None)
    # Each % as the Decimal of its float, so the money sums exactly.
    capped = [(min(max(_decimal(b.pct or 0.0), Decimal(0)), Decimal(100)), b) for b in counted]
    valued = [
        (pct, b.value_per_year)
        for pct, b in capped
        if b.value_per_year is not None and b.value_per_year > 0
    ]
    realised = sum((pct / 100 * value for pct, value in valued), Decimal(0)) if valued else None
    if realised is not None and len(valued) == len(capped):
        exact = realised / sum(value for _, value in valued) * 100
    else:
        exact = sum((pct for pct, _ in capped), Decimal(0)) / len(capped)
    return RealisationRollUp(
        float(exact.quantize(Decimal("0.01"), ROUND_HALF_UP)),
        len(valued) == len(capped),
        len(capped),
        None if realised is None else realised.quantize(CENT, ROUND_HALF_UP),
        float(exact),
    )
