"""A workspace's register configuration as plain values, and the built-in 5×5 default.

Template packs seed scales, bands and RAG rules into the workspace's tables; anything a
workspace does not define falls back to :data:`DEFAULT_CONFIGURATION`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from services.workspace.configuration.models import RiskResponseModel
from services.workspace.models import Rag


@dataclass(frozen=True, slots=True)
class Level:
    key: str
    label: str
    value: int | None = None
    description: str = ""


@dataclass(frozen=True, slots=True)
class Band:
    """Scores ``min_score..max_score`` inclusive."""

    key: str
    label: str
    min_score: int
    max_score: int
    rag: Rag
    response: str = ""

    def holds(self, score: int) -> bool:
        return self.min_score <= score <= self.max_score


@dataclass(frozen=True, slots=True)
class RagRules:
    """Thresholds for suggested RAG: schedule slip and cost variance are ceilings (green up to,
    amber up to, red above); the benefits forecast is a floor (green from, amber from, red below).
    """

    schedule_slip_green_max_weeks: float = 2
    schedule_slip_amber_max_weeks: float = 6
    cost_variance_green_max_pct: float = 5
    cost_variance_amber_max_pct: float = 10
    benefits_forecast_green_min_pct: float = 90
    benefits_forecast_amber_min_pct: float = 70
    override_requires_reason: bool = True
    path_to_green_for_amber: bool = True
    path_to_green_for_red: bool = True

    def needs_path_to_green(self, rag: Rag | None) -> bool:
        return (rag is Rag.AMBER and self.path_to_green_for_amber) or (
            rag is Rag.RED and self.path_to_green_for_red
        )


def _levels(*labels: str) -> tuple[Level, ...]:
    return tuple(Level(str(i), label, i) for i, label in enumerate(labels, start=1))


@dataclass(frozen=True, slots=True)
class RegisterConfiguration:
    probability: tuple[Level, ...] = _levels(
        "Rare", "Unlikely", "Possible", "Likely", "Almost certain"
    )
    impact: tuple[Level, ...] = _levels("Minor", "Moderate", "Significant", "Major", "Critical")
    bands: tuple[Band, ...] = (
        Band("green", "Green", 1, 4, Rag.GREEN, "Manage within the project."),
        Band("amber", "Amber", 5, 9, Rag.AMBER, "Active response owned by a named person."),
        Band("red", "Red", 10, 15, Rag.RED, "Escalate to the programme board."),
        Band("red-critical", "Red (critical)", 16, 25, Rag.RED, "Escalate to the SRO at once."),
    )
    proximity: tuple[Level, ...] = (
        Level("imminent", "Imminent"),
        Level("this-stage", "This stage or tranche"),
        Level("this-programme", "This programme"),
        Level("beyond", "Beyond the programme"),
    )
    benefit_confidence: tuple[Level, ...] = (
        Level("high", "High"),
        Level("medium", "Medium"),
        Level("low", "Low"),
    )
    rag_rules: RagRules = field(default_factory=RagRules)
    risk_response_model: RiskResponseModel = RiskResponseModel.STANDARD

    @property
    def max_probability(self) -> int:
        return max((lv.value or 0) for lv in self.probability)

    @property
    def max_impact(self) -> int:
        return max((lv.value or 0) for lv in self.impact)

    def band_for(self, score: int) -> Band | None:
        return band_for(score, self.bands)

    def band(self, key: str) -> Band | None:
        return next((b for b in self.bands if b.key == key), None)


DEFAULT_CONFIGURATION = RegisterConfiguration()


def band_for(score: int, bands: tuple[Band, ...]) -> Band | None:
    """The band holding ``score`` (None if the bands leave it out)."""
    return next((b for b in bands if b.holds(score)), None)


def band_gaps(bands: tuple[Band, ...], max_score: int) -> list[str]:
    """Problems with a set of bands: they must cover 1..max_score exactly once, in order."""
    problems: list[str] = []
    expected = 1
    for band in sorted(bands, key=lambda b: b.min_score):
        if band.min_score != expected:
            problems.append(f"band {band.key!r} starts at {band.min_score}, expected {expected}")
        expected = band.max_score + 1
    if expected != max_score + 1:
        problems.append(f"bands end at {expected - 1}, expected {max_score}")
    return problems


def band_rag(key: str, rank: int) -> Rag:
    """The RAG of a score band that is named only by key (as template packs name them): the
    colour its key starts with (``green``, ``amber``, ``red-critical``), else by its place from
    the lowest band up — green, amber, then red."""
    for rag in Rag:
        if key == rag.value or key.startswith(f"{rag.value}-"):
            return rag
    return (Rag.GREEN, Rag.AMBER)[rank] if rank < 2 else Rag.RED
