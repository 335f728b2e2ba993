"""The workspace's rules as pure functions: no database, no HTTP."""

from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal

import pytest

from services.workspace.benefits.models import BenefitMeasure, BenefitState
from services.workspace.benefits.rules import (
    BenefitProfile,
    BenefitProgress,
    accepts_measurements,
    realisation_pct,
    roll_up,
    transition_problems,
)
from services.workspace.configuration.models import RiskResponseModel
from services.workspace.configuration.rules import (
    DEFAULT_CONFIGURATION,
    Band,
    RagRules,
    band_gaps,
    band_rag,
)
from services.workspace.gates.models import CriterionStatus, GateDecision, GateState
from services.workspace.gates.rules import (
    CriterionCheck,
    decision_problems,
    may_decide,
    tranche_may_start,
)
from services.workspace.models import Rag
from services.workspace.raid.models import DependencyStatus, RiskKind, RiskResponse, RiskTrend
from services.workspace.raid.rules import dependency_rag, responses_for, risk_score, risk_trend
from services.workspace.reporting.models import RagDimension as D
from services.workspace.reporting.rules import (
    ReportEvidence,
    ceiling_rag,
    cost_variance_pct,
    floor_rag,
    publication_problems,
    suggest,
    worst,
)

# --- risk score and band ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("probability", "impact", "score", "band"),
    [
        (1, 1, 1, "green"),
        (2, 2, 4, "green"),
        (1, 5, 5, "amber"),
        (3, 3, 9, "amber"),
        (2, 5, 10, "red"),
        (3, 5, 15, "red"),
        (4, 4, 16, "red-critical"),
        (5, 5, 25, "red-critical"),
    ],
)
def test_risk_score_is_probability_times_impact_banded_on_the_default_5x5(
    probability: int, impact: int, score: int, band: str
) -> None:
    assert risk_score(probability, impact) == score
    found = DEFAULT_CONFIGURATION.band_for(score)
    assert found is not None and found.key == band


def test_default_bands_colour_red_critical_red_and_cover_1_to_25() -> None:
    assert [b.rag for b in DEFAULT_CONFIGURATION.bands] == [Rag.GREEN, Rag.AMBER, Rag.RED, Rag.RED]
    assert band_gaps(DEFAULT_CONFIGURATION.bands, 25) == []
    assert DEFAULT_CONFIGURATION.max_probability == DEFAULT_CONFIGURATION.max_impact == 5


def test_band_gaps_are_reported() -> None:
    bands = (Band("low", "Low", 1, 4, Rag.GREEN), Band("high", "High", 6, 20, Rag.RED))
    assert band_gaps(bands, 25) == [
        "band 'high' starts at 6, expected 5",
        "bands end at 20, expected 25",
    ]


def test_a_band_named_only_by_key_takes_the_colour_its_key_names_else_its_place() -> None:
    named = [band_rag(key, rank) for rank, key in enumerate(["green", "amber", "red-critical"])]
    assert named == [Rag.GREEN, Rag.AMBER, Rag.RED]
    unnamed = [band_rag(key, rank) for rank, key in enumerate(["low", "medium", "high", "top"])]
    assert unnamed == [Rag.GREEN, Rag.AMBER, Rag.RED, Rag.RED]
    assert band_rag("reddish", 0) is Rag.GREEN  # a colour is a whole word of the key


def test_risk_score_refuses_levels_below_one() -> None:
    with pytest.raises(ValueError, match="start at 1"):
        risk_score(0, 3)


def test_responses_depend_on_threat_or_opportunity_and_the_workspace_model() -> None:
    threat = responses_for(RiskKind.THREAT, RiskResponseModel.STANDARD)
    opportunity = responses_for(RiskKind.OPPORTUNITY, RiskResponseModel.STANDARD)
    assert RiskResponse.AVOID in threat and RiskResponse.AVOID not in opportunity
    assert RiskResponse.EXPLOIT in opportunity and RiskResponse.EXPLOIT not in threat
    assert RiskResponse.SHARE in threat and RiskResponse.SHARE in opportunity
    roam = responses_for(RiskKind.THREAT, RiskResponseModel.ROAM)
    assert roam == {
        RiskResponse.RESOLVED,
        RiskResponse.OWNED,
        RiskResponse.ACCEPTED,
        RiskResponse.MITIGATED,
    }


def test_risk_trend_follows_the_residual_score() -> None:
    assert risk_trend(12, 6) is RiskTrend.IMPROVING
    assert risk_trend(6, 12) is RiskTrend.WORSENING
    assert risk_trend(6, 6) is RiskTrend.STABLE


# --- dependency RAG ----------------------------------------------------------------------------

TODAY = date(2027, 3, 1)


@pytest.mark.parametrize(
    ("status", "need_by", "committed", "rag"),
    [
        (DependencyStatus.AGREED, date(2027, 4, 1), date(2027, 3, 1), Rag.GREEN),
        (DependencyStatus.AGREED, date(2027, 4, 1), date(2027, 3, 28), Rag.AMBER),
        (DependencyStatus.AGREED, date(2027, 4, 1), date(2027, 4, 2), Rag.RED),
        (DependencyStatus.PROPOSED, date(2027, 4, 1), None, Rag.AMBER),
        # A date the delivering side has not agreed is no commitment yet: amber at best.
        (DependencyStatus.PROPOSED, date(2027, 4, 1), date(2027, 3, 1), Rag.AMBER),
        (DependencyStatus.PROPOSED, date(2027, 4, 1), date(2027, 4, 2), Rag.RED),
        (DependencyStatus.AGREED, date(2027, 2, 1), date(2027, 1, 1), Rag.RED),
        (DependencyStatus.DELIVERED, date(2027, 2, 1), date(2027, 3, 1), Rag.GREEN),
        (DependencyStatus.CANCELLED, date(2027, 2, 1), None, None),
        (DependencyStatus.AGREED, None, date(2027, 2, 1), None),
    ],
)
def test_dependency_rag_compares_need_by_and_committed_dates(
    status: DependencyStatus, need_by: date | None, committed: date | None, rag: Rag | None
) -> None:
    assert dependency_rag(status, need_by, committed, TODAY) is rag


# --- benefits ----------------------------------------------------------------------------------


def test_realisation_pct_for_rising_falling_and_unknown_indicators() -> None:
    assert realisation_pct(100, 200, 150) == 50.0
    assert realisation_pct(40, 10, 25) == 50.0  # a reduction: processing time 40 → 10 days
    assert realisation_pct(100, 200, 260) == 160.0  # overachieved, shown as it is
    assert realisation_pct(100, 200, None) is None
    assert realisation_pct(None, 200, 150) is None
    assert realisation_pct(100, 100, 150) is None


@pytest.mark.parametrize(
    ("baseline", "target", "latest", "pct"),
    [(18, 10, 10.8, 90), (71, 85, 83.6, 90), (6.5, 2.0, 2.45, 90), (10, 20, 17, 70)],
)
def test_realisation_pct_on_a_boundary_is_the_boundary_not_a_float_below_it(
    baseline: float, target: float, latest: float, pct: float
) -> None:
    # (18 − 10.8) / (18 − 10) is 89.99999999999999 in binary floating point: amber at ≥ 90 %.
    assert realisation_pct(baseline, target, latest, exact=True) == pct
    assert floor_rag(realisation_pct(baseline, target, latest, exact=True), 90, 70) == (
        Rag.GREEN if pct == 90 else Rag.AMBER
    )
    rolled = roll_up([BenefitProgress(realisation_pct(baseline, target, latest, exact=True), None)])
    assert rolled.exact_pct == pct


def test_programme_roll_up_is_value_weighted_when_every_benefit_has_money() -> None:
    rolled = roll_up(
        [BenefitProgress(50.0, Decimal(300_000)), BenefitProgress(100.0, Decimal(100_000))]
    )
    assert rolled.value_weighted is True
    assert rolled.pct == 62.5
    assert rolled.counted == 2
    assert rolled.value_realised_per_year == Decimal("250000.00")


def test_programme_roll_up_with_money_for_some_benefits_only_is_a_mean_of_them_all() -> None:
    # Weighting by the money of one would read 100 % beside two benefits at nothing.
    rolled = roll_up(
        [
            BenefitProgress(100.0, Decimal(100_000)),
            BenefitProgress(0.0, None),
            BenefitProgress(-20.0, None),  # counts as 0
        ]
    )
    assert (rolled.value_weighted, rolled.counted) == (False, 3)
    assert rolled.pct == 33.33
    # The money known is still realised money.
    assert rolled.value_realised_per_year == Decimal("100000.00")


def test_programme_roll_up_sums_money_exactly_to_the_cent() -> None:
    whole = roll_up(
        [BenefitProgress(100.0, Decimal("0.10")), BenefitProgress(100.0, Decimal("0.20"))]
    )
    assert str(whole.value_realised_per_year) == "0.30"
    third = roll_up([BenefitProgress(33.33, Decimal("100.00"))])
    assert str(third.value_realised_per_year) == "33.33"


def test_programme_roll_up_falls_back_to_a_mean_caps_each_benefit_and_skips_dis_benefits() -> None:
    rolled = roll_up(
        [
            BenefitProgress(200.0, None),  # counts as 100
            BenefitProgress(-20.0, None),  # counts as 0
            BenefitProgress(80.0, None),
            BenefitProgress(10.0, Decimal(1_000), dis_benefit=True),
            BenefitProgress(None, Decimal(5_000)),
        ]
    )
    assert (rolled.pct, rolled.value_weighted, rolled.counted) == (60.0, False, 3)
    assert roll_up([]).pct is None


def _profile(**overrides: object) -> BenefitProfile:
    values: dict[str, object] = {
        "measure": BenefitMeasure.QUANTITATIVE,
        "owner_set": True,
        "baseline_value": 10.0,
        "target_value": 20.0,
        "target_date_set": True,
        "measurements": 1,
    }
    return BenefitProfile(**(values | overrides))  # type: ignore[arg-type]


def test_benefit_lifecycle_moves_forward_and_refuses_jumps_and_reopening() -> None:
    S = BenefitState
    path = [S.IDENTIFIED, S.VALIDATED, S.PLANNED, S.REALISING, S.REALISED]
    for current, new in itertools.pairwise(path):
        assert transition_problems(current, new, _profile()) == []
    assert transition_problems(S.IDENTIFIED, S.REALISING, _profile())[0][0] == "state"
    assert transition_problems(S.REALISED, S.REALISING, _profile())[0][1].startswith(
        "cannot move from realised"
    )
    assert transition_problems(S.PLANNED, S.WITHDRAWN, _profile()) == []
    assert transition_problems(S.REALISING, S.NOT_REALISED, _profile()) == []
    assert transition_problems(S.WITHDRAWN, S.IDENTIFIED, _profile()) != []


def test_benefit_lifecycle_demands_an_owner_a_measurable_plan_and_evidence() -> None:
    S = BenefitState
    no_owner = transition_problems(S.IDENTIFIED, S.VALIDATED, _profile(owner_set=False))
    assert [f for f, _ in no_owner] == ["owner_id"]
    unplanned = transition_problems(
        S.VALIDATED, S.PLANNED, _profile(baseline_value=None, target_date_set=False)
    )
    assert [f for f, _ in unplanned] == ["baseline_value", "target_date"]
    qualitative = _profile(measure=BenefitMeasure.QUALITATIVE, baseline_value=None)
    assert transition_problems(S.VALIDATED, S.PLANNED, qualitative) == []
    unmeasured = transition_problems(S.REALISING, S.REALISED, _profile(measurements=0))
    assert "evidence" in unmeasured[0][1]
    assert accepts_measurements(S.REALISING) and not accepts_measurements(S.WITHDRAWN)


# --- gates -------------------------------------------------------------------------------------


def test_go_needs_every_mandatory_criterion_met() -> None:
    criteria = [
        CriterionCheck(True, CriterionStatus.MET),
        CriterionCheck(False, CriterionStatus.NOT_MET),
    ]
    assert decision_problems(GateDecision.GO, "", criteria) == []
    open_mandatory = [*criteria, CriterionCheck(True, CriterionStatus.NOT_ASSESSED)]
    assert decision_problems(GateDecision.GO, "", open_mandatory)[0][0] == "decision"
    assert decision_problems(GateDecision.HOLD, "", open_mandatory) == []


def test_conditional_go_states_conditions_and_can_only_become_go() -> None:
    open_ = [CriterionCheck(True, CriterionStatus.NOT_MET)]
    assert decision_problems(GateDecision.CONDITIONAL_GO, " ", open_) == [
        ("conditions", "a conditional go states its conditions")
    ]
    assert decision_problems(GateDecision.CONDITIONAL_GO, "fix data migration", open_) == []
    back = decision_problems(GateDecision.STOP, "", [], current=GateDecision.CONDITIONAL_GO)
    assert back[0][1] == "a conditional go can only become a go"


def test_a_gate_is_decided_again_only_after_hold_recycle_or_conditional_go() -> None:
    assert may_decide(GateState.PLANNED, None)
    assert may_decide(GateState.IN_REVIEW, None)
    assert may_decide(GateState.DECIDED, GateDecision.HOLD)
    assert may_decide(GateState.DECIDED, GateDecision.RECYCLE)
    assert may_decide(GateState.DECIDED, GateDecision.CONDITIONAL_GO)
    assert not may_decide(GateState.DECIDED, GateDecision.GO)
    assert not may_decide(GateState.DECIDED, GateDecision.STOP)


def test_a_tranche_starts_only_through_open_entry_gates() -> None:
    assert tranche_may_start([])
    assert tranche_may_start([GateDecision.GO, GateDecision.CONDITIONAL_GO])
    assert not tranche_may_start([GateDecision.GO, None])
    assert not tranche_may_start([GateDecision.HOLD])


# --- RAG suggestion, roll-up and publication ----------------------------------------------------


def test_threshold_rags() -> None:
    assert [ceiling_rag(v, 2, 6) for v in (0, 2, 2.5, 6, 6.1, None)] == [
        Rag.GREEN,
        Rag.GREEN,
        Rag.AMBER,
        Rag.AMBER,
        Rag.RED,
        None,
    ]
    assert [floor_rag(v, 90, 70) for v in (100, 90, 89.9, 70, 69, None)] == [
        Rag.GREEN,
        Rag.GREEN,
        Rag.AMBER,
        Rag.AMBER,
        Rag.RED,
        None,
    ]
    assert worst([Rag.GREEN, None, Rag.AMBER]) is Rag.AMBER
    assert worst([None]) is None
    assert cost_variance_pct(Decimal(100), Decimal(108)) == 8.0
    assert cost_variance_pct(None, Decimal(1)) is None
    assert cost_variance_pct(Decimal("0.30"), Decimal("0.33")) == 10.0


def test_suggestion_takes_each_dimension_from_its_data_and_overall_is_the_worst() -> None:
    evidence = ReportEvidence(
        schedule_slip_weeks=3,
        cost_variance_pct=2,
        benefits_forecast_pct=95,
        open_risk_rags=(Rag.GREEN, Rag.AMBER),
    )
    suggested = suggest(evidence, RagRules())
    assert suggested[D.SCHEDULE] is Rag.AMBER
    assert suggested[D.COST] is Rag.GREEN
    assert suggested[D.BENEFITS] is Rag.GREEN
    assert suggested[D.RISK] is Rag.AMBER
    assert suggested[D.SCOPE] is None
    assert suggested[D.OVERALL] is Rag.AMBER

    red_risk = suggest(ReportEvidence(open_risk_rags=(Rag.RED,)), RagRules())
    assert red_risk[D.RISK] is Rag.RED and red_risk[D.OVERALL] is Rag.RED
    assert suggest(ReportEvidence(), RagRules())[D.OVERALL] is None


def test_suggestion_rolls_up_project_reports_and_follows_the_workspace_rules() -> None:
    evidence = ReportEvidence(
        schedule_slip_weeks=1,
        project_rags={D.SCOPE: (Rag.GREEN, Rag.RED), D.SCHEDULE: (Rag.AMBER,)},
    )
    suggested = suggest(evidence, RagRules())
    assert suggested[D.SCOPE] is Rag.RED
    assert suggested[D.SCHEDULE] is Rag.AMBER
    assert suggested[D.OVERALL] is Rag.RED
    lenient = RagRules(schedule_slip_green_max_weeks=4, schedule_slip_amber_max_weeks=8)
    assert suggest(ReportEvidence(schedule_slip_weeks=3), lenient)[D.SCHEDULE] is Rag.GREEN


def test_publishing_needs_overall_a_reason_to_override_and_a_path_to_green() -> None:
    rules = RagRules()
    assert publication_problems({}, None, "", "", rules) == [
        ("overall_rag", "set the overall RAG before publishing")
    ]
    green = {D.OVERALL: Rag.GREEN, D.SCHEDULE: Rag.GREEN}
    assert publication_problems(green, Rag.GREEN, "", "", rules) == []
    overridden = publication_problems(green, Rag.AMBER, "", "", rules)
    assert [f for f, _ in overridden] == ["override_reason"]
    assert publication_problems(green, Rag.AMBER, "Supplier fixed it", "", rules) == []
    amber = {D.OVERALL: Rag.AMBER, D.COST: Rag.AMBER}
    problems = publication_problems(amber, Rag.AMBER, "", "", rules)
    assert problems == [("path_to_green", "overall, cost not green: give the path to green")]
    assert publication_problems(amber, Rag.AMBER, "", "Re-plan by May", rules) == []
    relaxed = RagRules(path_to_green_for_amber=False, override_requires_reason=False)
    assert publication_problems({D.OVERALL: Rag.AMBER}, Rag.GREEN, "", "", relaxed) == []


def test_overall_better_than_a_dimension_the_report_gives_needs_a_reason() -> None:
    # Overall is the worst dimension unless overridden with a reason, even where the data's
    # suggestion agrees with the overall the report gives.
    rules = RagRules()
    flattering = {D.OVERALL: Rag.GREEN, D.SCHEDULE: Rag.RED, D.COST: Rag.AMBER}
    problems = publication_problems(flattering, Rag.GREEN, "", "Second supplier", rules)
    assert problems == [
        ("override_reason", "overall is green but schedule is red and cost is amber: say why")
    ]
    assert publication_problems(flattering, Rag.GREEN, "Recovered since", "Second", rules) == []
    assert publication_problems({**flattering, D.OVERALL: Rag.RED}, Rag.RED, "", "x", rules) == []
