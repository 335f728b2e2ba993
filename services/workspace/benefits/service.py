"""Benefit profiles: references, lifecycle, enabling projects, measurements and realisation."""

from __future__ import annotations

import enum
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import msgspec
from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.dialects.postgresql import aggregate_order_by

from services.db.base import utcnow
from services.errors import Conflict, NotFound, ValidationFailed, field_error
from services.workspace import clock
from services.workspace.benefits.models import (
    Benefit,
    BenefitClassification,
    BenefitEnabler,
    BenefitMeasurement,
    BenefitState,
)
from services.workspace.benefits.rules import (
    TRANSITIONS,
    BenefitProfile,
    BenefitProgress,
    RealisationRollUp,
    accepts_measurements,
    expected_value,
    fixed_fields,
    interim_target_problem,
    realisation_pct,
    roll_up,
    state_problems,
    transition_problems,
)
from services.workspace.configuration import service as configuration
from services.workspace.registers import RegisterService, between, invalid

# A benefit's measurements, newest first: by the day measured, then when recorded, then by id
# (measurements recorded in one transaction share their created_at), so no two swap places
# between pages. The list runs it (its route states it: pagination.stated_order), and the
# benefit's latest measurement is the list's first.
MEASUREMENT_ORDER = (
    BenefitMeasurement.measured_on.desc(),
    BenefitMeasurement.created_at.desc(),
    BenefitMeasurement.id,
)


class BenefitSort(enum.StrEnum):
    TARGET = "target_date"
    NEWEST = "-created_at"
    TITLE = "title"
    VALUE = "-value_per_year"


@dataclass(frozen=True, slots=True)
class BenefitFilter:
    programme_id: uuid.UUID | None = None
    state: BenefitState | None = None
    owner_id: uuid.UUID | None = None
    classification: BenefitClassification | None = None
    dis_benefit: bool | None = None
    due_after: date | None = None
    due_before: date | None = None
    sort: BenefitSort = BenefitSort.TARGET

    def conditions(self) -> list[ColumnElement[bool]]:
        pairs = [
            (Benefit.programme_id, self.programme_id),
            (Benefit.state, self.state),
            (Benefit.owner_id, self.owner_id),
            (Benefit.classification, self.classification),
            (Benefit.dis_benefit, self.dis_benefit),
        ]
        return [c == v for c, v in pairs if v is not None] + between(
            Benefit.target_date, self.due_after, self.due_before
        )

    def order(self) -> list[Any]:
        orders: dict[Any, list[Any]] = {
            BenefitSort.TARGET: [Benefit.target_date.asc().nulls_last()],
            BenefitSort.NEWEST: [Benefit.created_at.desc()],
            BenefitSort.TITLE: [func.lower(Benefit.title)],
            BenefitSort.VALUE: [Benefit.value_per_year.desc().nulls_last()],
        }
        return orders[self.sort]


@dataclass(frozen=True, slots=True)
class Progress:
    """What the measurements say about one benefit."""

    measurements: int = 0
    latest_on: date | None = None
    latest_value: float | None = None


def forecast_pct(
    benefit: Benefit, latest: float | None = None, *, exact: bool = False
) -> float | None:
    """The value the benefit is expected to reach as a % of the way from baseline to target:
    the owner's forecast while it is open; a realised or not-realised one's ``latest``
    measurement's value (a not-realised one's baseline when it has none), as
    :func:`~services.workspace.benefits.rules.expected_value` says. Give ``latest`` for a
    closed benefit, or it counts as never measured."""
    expected = expected_value(benefit.state, benefit.forecast_value, benefit.baseline_value, latest)
    return realisation_pct(benefit.baseline_value, benefit.target_value, expected, exact=exact)


class BenefitService(RegisterService[Benefit]):
    model = Benefit
    noun = "benefit"
    register = "benefits"

    def values_of(self, data: msgspec.Struct) -> dict[str, Any]:
        values = super().values_of(data)
        self._enablers: list[uuid.UUID] | None = values.pop("enabling_project_ids", None)
        return values

    async def create(self, data: msgspec.Struct, **kwargs: Any) -> Benefit:
        benefit = await super().create(data, **kwargs)
        await self._set_enablers(benefit, getattr(self, "_enablers", None) or [])
        return benefit

    async def update(self, row: Benefit, changes: dict[str, Any]) -> Benefit:
        # The row is held from here to the end of the write, and must still be the version the
        # caller's If-Match was checked against. A change of the benefit's columns alone would
        # be refused later by the version-checked UPDATE, but one of its enabling projects
        # writes no column: two at once with one ETag both went through, their projects mixed.
        # Measurements wait for it too, so the rules below read what stays.
        await self.hold_as_loaded(row, tagged=False)
        enablers = changes.pop("enabling_project_ids", None)
        if enablers is not None:
            await self._set_enablers(row, enablers)
        return await super().update(row, changes)

    async def _set_enablers(self, benefit: Benefit, project_ids: list[uuid.UUID]) -> None:
        unique = list(dict.fromkeys(project_ids))
        for project_id in unique:
            await self.require_project(project_id, benefit.programme_id, "enabling_project_ids")
        await self.session.execute(
            delete(BenefitEnabler)
            .where(BenefitEnabler.benefit_id == benefit.id)
            .execution_options(synchronize_session=False)
        )
        for position, project_id in enumerate(unique):
            self.session.add(
                BenefitEnabler(
                    benefit_id=benefit.id,
                    project_id=project_id,
                    position=position,
                    created_by=self.actor_id,
                )
            )
        await self.session.flush()

    async def check(self, row: Benefit, before: dict[str, Any] | None) -> None:
        await self.require_roles(row, before)
        if before is None:
            await self.require_programme(row.programme_id)
        # What the state was before this write: a benefit closed by it may still have its
        # figures set along the way, one closed before keeps them.
        previous = row.state if before is None else before.get("state", row.state)
        # ``before`` names every field a PATCH sent: one sent back as it is changes nothing.
        changed = [name for name, old in (before or {}).items() if getattr(row, name) != old]
        fixed = fixed_fields(previous, changed)
        if fixed:
            raise Conflict(
                f"A {previous} benefit is on record: what it was judged on ({', '.join(fixed)}) "
                "stays as it is (realised, not_realised and withdrawn are final). Its title, "
                "description and people may still change; later measurements are recorded as "
                "measurements.",
                errors=[
                    field_error(
                        "state",
                        f"{previous} is final: its {', '.join(fixed)} cannot change",
                    )
                ],
            )
        settings = await configuration.configuration(self.session)
        # The workspace's confidence levels are checked on the value a write sets: one stored
        # before the levels changed (a template upgrade) is not what a write of other fields is
        # about, and refusing it would lock the benefit (its withdrawal, say), as for a risk's
        # proximity.
        if (
            (before is None or "confidence" in before)
            and row.confidence is not None
            and row.confidence not in {level.key for level in settings.benefit_confidence}
        ):
            known = ", ".join(level.key for level in settings.benefit_confidence)
            raise invalid("confidence", f"one of the workspace's confidence levels: {known}")
        if (
            row.baseline_date is not None
            and row.target_date is not None
            and row.target_date < row.baseline_date
        ):
            raise invalid("target_date", "on or after baseline_date")
        # A dis-benefit's value is a cost (negative or zero), a benefit's a gain (zero or more):
        # checked when either is written, so a row stored before the rule is not locked by it.
        if (
            (before is None or {"value_per_year", "dis_benefit"} & set(changed))
            and row.value_per_year is not None
            and (row.value_per_year > 0 if row.dis_benefit else row.value_per_year < 0)
        ):
            raise invalid(
                "value_per_year",
                "a dis-benefit's is a cost: negative or zero"
                if row.dis_benefit
                else "a benefit's is gained: zero or more",
            )
        interim = interim_target_problem(
            (date.fromisoformat(str(t["date"])) for t in row.interim_targets),
            row.baseline_date,
            row.target_date,
            set_now=before is None or "interim_targets" in changed,
        )
        if interim is not None:
            raise invalid("interim_targets", interim, f"Interim targets must be {interim}.")
        if before is not None and "baseline_date" in before and row.baseline_date is not None:
            # A measurement is refused before the baseline date: so is a baseline moved past one.
            first = await self.session.scalar(
                select(func.min(BenefitMeasurement.measured_on)).where(
                    BenefitMeasurement.benefit_id == row.id
                )
            )
            if first is not None and first < row.baseline_date:
                raise invalid(
                    "baseline_date",
                    f"on or before the first measurement ({first}): measurements are not "
                    "dated before their baseline",
                )
        # What the state needs holds on every write, not only on the way into the state.
        measurements = 0
        if row.state is BenefitState.REALISED:
            measurements = (await self.progress([row.id])).get(row.id, Progress()).measurements
        profile = BenefitProfile(
            measure=row.measure,
            owner_set=row.owner_id is not None,
            baseline_value=row.baseline_value,
            target_value=row.target_value,
            target_date_set=row.target_date is not None,
            measurements=measurements,
        )
        if previous is not row.state and row.state not in TRANSITIONS[previous]:
            problems = transition_problems(previous, row.state, profile)
            detail = f"The benefit cannot move from {previous} to {row.state}."
        else:
            # The move is one of the lifecycle's: what stops it is what the state needs.
            problems = state_problems(row.state, profile)
            needs = "; ".join(f"{message} ({field})" for field, message in problems)
            detail = (
                f"The benefit cannot become {row.state} yet: {needs}."
                if previous is not row.state
                else f"A {row.state} benefit keeps what its state needs: {needs}."
            )
        if problems:
            raise ValidationFailed(detail, errors=[field_error(f, m) for f, m in problems])
        if previous is not row.state:
            row.state_changed_at = utcnow()

    async def delete(self, row: Benefit) -> None:
        """A measured benefit is kept: its measurements are an append-only series, the record of
        what was realised. One that will not be realised changes state instead."""
        # Held first, so a measurement on its way in is waited for and counted (uncounted, the
        # database's key refused the delete, saying to remove the measurements).
        await self.session.execute(select(Benefit.id).where(Benefit.id == row.id).with_for_update())
        measured = (await self.progress([row.id])).get(row.id, Progress()).measurements
        if measured:
            series = f"{measured} measurement{'' if measured == 1 else 's'}"
            raise Conflict(
                f"The benefit has {series}, an append-only series; it is kept on record. Set its "
                "state to withdrawn (or, once realising, not_realised) instead."
            )
        await super().delete(row)

    # --- computed ---------------------------------------------------------------------------

    async def progress(self, benefit_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Progress]:
        """Measurement count and latest value per benefit, in one query."""
        if not benefit_ids:
            return {}
        m = BenefitMeasurement
        latest = func.array_agg(aggregate_order_by(m.value, *MEASUREMENT_ORDER))
        rows = await self.session.execute(
            select(m.benefit_id, func.count(), func.max(m.measured_on), latest[1])
            .where(m.benefit_id.in_(benefit_ids))
            .group_by(m.benefit_id)
        )
        return {b: Progress(int(n), on, value) for b, n, on, value in rows.all()}

    async def enablers(self, benefit_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[uuid.UUID]]:
        found: dict[uuid.UUID, list[uuid.UUID]] = {}
        if not benefit_ids:
            return found
        rows = await self.session.execute(
            select(BenefitEnabler.benefit_id, BenefitEnabler.project_id)
            .where(BenefitEnabler.benefit_id.in_(benefit_ids))
            .order_by(BenefitEnabler.position, BenefitEnabler.created_at)
        )
        for benefit_id, project_id in rows.all():
            found.setdefault(benefit_id, []).append(project_id)
        return found

    async def programme_roll_up(
        self, programme_id: uuid.UUID
    ) -> tuple[RealisationRollUp, RealisationRollUp, dict[str, int]]:
        """Realisation and forecast roll-ups of a programme, and its benefits by state
        (withdrawn ones too: they are out of the roll-ups, not out of the count).

        Two queries whatever the number of benefits or measurements.
        """
        every = (
            await self.session.scalars(select(Benefit).where(Benefit.programme_id == programme_id))
        ).all()
        by_state: dict[str, int] = {}
        for b in every:
            by_state[b.state] = by_state.get(b.state, 0) + 1
        benefits = [b for b in every if b.state != BenefitState.WITHDRAWN]
        progress = await self.progress([b.id for b in benefits])
        realised = roll_up(
            BenefitProgress(
                realisation_pct(
                    b.baseline_value,
                    b.target_value,
                    progress.get(b.id, Progress()).latest_value,
                    exact=True,
                ),
                b.value_per_year,
                b.dis_benefit,
            )
            for b in benefits
        )
        # A closed benefit counts at what was measured, not at the owner's last forecast.
        forecast = roll_up(
            BenefitProgress(
                forecast_pct(b, progress.get(b.id, Progress()).latest_value, exact=True),
                b.value_per_year,
                b.dis_benefit,
            )
            for b in benefits
        )
        return realised, forecast, by_state

    # --- measurements -----------------------------------------------------------------------

    async def measurement(self, benefit: Benefit, measurement_id: uuid.UUID) -> BenefitMeasurement:
        found = await self.session.scalar(
            select(BenefitMeasurement).where(
                BenefitMeasurement.id == measurement_id,
                BenefitMeasurement.benefit_id == benefit.id,
            )
        )
        if found is None:
            raise NotFound(f"No measurement {measurement_id} of this benefit.")
        return found

    async def measurements(
        self, benefit: Benefit, limit: int, offset: int
    ) -> tuple[list[BenefitMeasurement], int]:
        where = BenefitMeasurement.benefit_id == benefit.id
        total = await self.session.scalar(
            select(func.count()).select_from(BenefitMeasurement).where(where)
        )
        rows = await self.session.scalars(
            select(BenefitMeasurement)
            .where(where)
            .order_by(*MEASUREMENT_ORDER)
            .limit(limit)
            .offset(offset)
        )
        return list(rows.all()), int(total or 0)

    async def measure(
        self, benefit: Benefit, measured_on: date, value: float, comment: str = ""
    ) -> BenefitMeasurement:
        """Append a measurement (there is no changing one: a correction is a new measurement)."""
        # The benefit as it stands once no write of it is under way, held until this one is in:
        # read without the lock, a state (withdrawn) or a baseline date changed meanwhile would
        # go unseen, and the measurement go in against it.
        await self.session.scalar(
            select(Benefit)
            .where(Benefit.id == benefit.id)
            .with_for_update(key_share=True)
            .execution_options(populate_existing=True)
        )
        if not accepts_measurements(benefit.state):
            raise Conflict(f"A {benefit.state} benefit takes no more measurements.")
        if benefit.baseline_date is not None and measured_on < benefit.baseline_date:
            raise invalid("measured_on", "on or after the baseline date")
        if (future := clock.not_after_today(measured_on, clock.today(self.session))) is not None:
            raise invalid("measured_on", f"{future}: a measurement is of what was seen")
        # The benefit shows its latest measurement, their count and its realisation: its ETag
        # moves on with each one.
        await self.touch(benefit)
        measurement = BenefitMeasurement(
            benefit_id=benefit.id,
            measured_on=measured_on,
            value=value,
            comment=comment,
            created_by=self.actor_id,
            updated_by=self.actor_id,
        )
        self.session.add(measurement)
        await self.session.flush()
        await self.session.refresh(measurement)
        return measurement
