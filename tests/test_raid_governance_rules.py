"""RAID and governance rules as pure functions: responses, trend, the decision log's lifecycle."""

from __future__ import annotations

from services.workspace.configuration.models import RiskResponseModel
from services.workspace.raid.models import RiskKind, RiskResponse, RiskTrend
from services.workspace.raid.rules import (
    OPPORTUNITY_RESPONSES,
    ROAM_RESPONSES,
    THREAT_RESPONSES,
    responses_for,
    risk_trend,
)

# --- risk responses -----------------------------------------------------------------------------


def test_roam_answers_threats_and_opportunities_keep_their_own_responses() -> None:
    assert responses_for(RiskKind.THREAT, RiskResponseModel.ROAM) == ROAM_RESPONSES
    assert responses_for(RiskKind.OPPORTUNITY, RiskResponseModel.ROAM) == OPPORTUNITY_RESPONSES
    assert responses_for(RiskKind.THREAT, RiskResponseModel.STANDARD) == THREAT_RESPONSES
    assert RiskResponse.EXPLOIT in responses_for(RiskKind.OPPORTUNITY, RiskResponseModel.ROAM)
    assert RiskResponse.OWNED not in responses_for(RiskKind.OPPORTUNITY, RiskResponseModel.ROAM)


# --- risk trend ---------------------------------------------------------------------------------


def test_an_opportunity_improves_as_its_score_rises_and_a_threat_as_it_falls() -> None:
    assert risk_trend(6, 12, RiskKind.OPPORTUNITY) is RiskTrend.IMPROVING
    assert risk_trend(12, 6, RiskKind.OPPORTUNITY) is RiskTrend.WORSENING
    assert risk_trend(6, 6, RiskKind.OPPORTUNITY) is RiskTrend.STABLE
    assert risk_trend(12, 6, RiskKind.THREAT) is RiskTrend.IMPROVING
    assert risk_trend(6, 12, RiskKind.THREAT) is RiskTrend.WORSENING
