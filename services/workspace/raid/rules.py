"""RAID rules: risk scores, responses, trend, and the RAG of a dependency."""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import date

from services.workspace.configuration.models import RiskResponseModel
from services.workspace.models import Rag
from services.workspace.raid.models import DependencyStatus, RiskKind, RiskResponse, RiskTrend
from services.workspace.structure.models import MilestoneState

THREAT_RESPONSES = frozenset(
    {
        RiskResponse.AVOID,
        RiskResponse.REDUCE,
        RiskResponse.FALLBACK,
        RiskResponse.TRANSFER,
        RiskResponse.SHARE,
        RiskResponse.ACCEPT,
    }
)
OPPORTUNITY_RESPONSES = frozenset(
    {RiskResponse.EXPLOIT, RiskResponse.ENHANCE, RiskResponse.SHARE, RiskResponse.REJECT}
)
ROAM_RESPONSES = frozenset(
    {RiskResponse.RESOLVED, RiskResponse.OWNED, RiskResponse.ACCEPTED, RiskResponse.MITIGATED}
)
# A dependency whose commitment leaves less slack than this before the need-by date is amber.
DEPENDENCY_SLACK_DAYS = 7


def risk_score(probability: int, impact: int) -> int:
    """Score on the probability × impact matrix."""
    if probability < 1 or impact < 1:
        raise ValueError("probability and impact start at 1")
    return probability * impact


@dataclass(frozen=True, slots=True)
class RiskLevels:
    """A risk's probability and impact before its response (inherent) and after (residual)."""

    inherent_probability: int
    inherent_impact: int
    residual_probability: int
    residual_impact: int


# Each residual level and the inherent one it is held to, as the API names them.
RESIDUAL_BOUNDS = (
    ("residual_probability", "inherent_probability", "probability"),
    ("residual_impact", "inherent_impact", "impact"),
)


def residual_problems(
    kind: RiskKind, levels: RiskLevels, written: AbstractSet[str] | None = None
) -> list[tuple[str, str]]:
    """Why ``levels`` cannot stand, as ``(field, message)`` pairs: a threat's response lowers
    its probability or impact or leaves them, so neither residual level exceeds its inherent one
    (nor, then, the residual score the inherent score). Each pair names the residual field,
    or the inherent one when only that was ``written`` (None: all of them, a new risk).

    An opportunity is not held either way: exploiting or enhancing it raises its residual
    score above the inherent one (more likely, a larger gain), and sharing or rejecting it
    may lower it.
    """
    if kind is RiskKind.OPPORTUNITY:
        return []
    problems: list[tuple[str, str]] = []
    for residual, inherent, level in RESIDUAL_BOUNDS:
        after, before = getattr(levels, residual), getattr(levels, inherent)
        if after <= before:
            continue
        if written is not None and inherent in written and residual not in written:
            problems.append((inherent, f"at least the residual {level} ({after}) of a threat"))
        else:
            problems.append(
                (
                    residual,
                    f"at most the inherent {level} ({before}): a threat's response "
                    "does not raise it",
                )
            )
    return problems


def responses_for(kind: RiskKind, model: RiskResponseModel) -> frozenset[RiskResponse]:
    """The responses a risk of ``kind`` may take in a workspace using ``model``.

    ROAM (SAFe) is how a train handles the threats to its PI objectives; it has nothing to say
    about taking a chance, so an opportunity takes exploit, enhance, share or reject under
    either model (as the template packs' validator requires of the packs).
    """
    if kind is RiskKind.OPPORTUNITY:
        return OPPORTUNITY_RESPONSES
    return ROAM_RESPONSES if model is RiskResponseModel.ROAM else THREAT_RESPONSES


def risk_trend(previous_score: int, score: int, kind: RiskKind = RiskKind.THREAT) -> RiskTrend:
    """How a residual score moved. A threat improves as its score falls; an opportunity as its
    score rises (its score is how likely and how large the gain: exploiting or enhancing it
    raises it)."""
    if score == previous_score:
        return RiskTrend.STABLE
    better = score > previous_score if kind is RiskKind.OPPORTUNITY else score < previous_score
    return RiskTrend.IMPROVING if better else RiskTrend.WORSENING


@dataclass(frozen=True, slots=True)
class LinkedMilestone:
    """A milestone a dependency names, as its RAG reads it."""

    state: MilestoneState
    baseline: date | None = None
    forecast: date | None = None
    actual: date | None = None

    @property
    def planned(self) -> date | None:
        """When it is expected: its forecast, else its baseline."""
        return self.forecast or self.baseline


@dataclass(frozen=True, slots=True)
class DependencyLinks:
    """What a dependency's RAG reads beyond its own row: the milestones it names (``delivering``
    on the from side, ``needing`` on the to side) and how the projects on its sides stand (a
    side's project is the one it names, or its milestone's)."""

    delivering: LinkedMilestone | None = None
    needing: LinkedMilestone | None = None
    side_cancelled: bool = False


NO_LINKS = DependencyLinks()


def need_date(need_by: date | None, links: DependencyLinks) -> date | None:
    """The date a dependency is needed by: its typed need-by date, else the needing milestone's
    (actual, else forecast, else baseline) unless that milestone is cancelled."""
    if need_by is not None:
        return need_by
    needing = links.needing
    if needing is None or needing.state is MilestoneState.CANCELLED:
        return None
    return needing.actual or needing.planned


def dependency_rag(
    status: DependencyStatus,
    need_by: date | None,
    committed: date | None,
    today: date,
    links: DependencyLinks = NO_LINKS,
) -> Rag | None:
    """Green when delivered or committed with slack; amber when uncommitted or tight; red when
    the commitment misses the need-by date or the need-by date passed undelivered. None when
    cancelled, or nothing is needed by a date. A date on a dependency still ``proposed`` is
    not a commitment until the delivering side agrees it: amber at best.

    Red, whatever the dates, while a project on either side is cancelled and the dependency is
    neither delivered nor cancelled: nothing will deliver it, or nothing needs it any more;
    either way it is re-planned or cancelled, not left green.

    A delivering milestone is the commitment: achieved on or before the need-by date, the
    dependency is delivered (green); achieved after it, or cancelled, it missed (red); still to
    come, its forecast (else baseline) stands in for ``committed``, which is read only when the
    milestone has no date. Either commitment counts from today at the earliest: one whose day
    passed undelivered leaves only the slack today leaves. Without a need-by date, the needing
    milestone's (actual, else forecast, else baseline) is the need."""
    if status is DependencyStatus.CANCELLED:
        return None
    if status is DependencyStatus.DELIVERED:
        return Rag.GREEN
    if links.side_cancelled:
        return Rag.RED
    delivering = links.delivering
    if delivering is not None and delivering.state is MilestoneState.CANCELLED:
        return Rag.RED  # nothing will deliver it, needed by a date or not
    need_by = need_date(need_by, links)
    if need_by is None:
        return None
    if delivering is not None:
        if delivering.state is MilestoneState.ACHIEVED:
            done = delivering.actual or delivering.planned
            return Rag.GREEN if done is None or done <= need_by else Rag.RED
        if delivering.planned is not None:
            committed = delivering.planned
    if today > need_by:
        return Rag.RED
    if committed is None:
        return Rag.AMBER
    # A commitment whose day has passed undelivered can be met today at the soonest: the
    # slack left is what today leaves, not what the missed date promised.
    committed = max(committed, today)
    slack = (need_by - committed).days
    if slack < 0:
        return Rag.RED
    if slack < DEPENDENCY_SLACK_DAYS or status is DependencyStatus.PROPOSED:
        return Rag.AMBER
    return Rag.GREEN
