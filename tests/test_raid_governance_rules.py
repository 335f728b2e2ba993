"""RAID and governance rules as pure functions: responses, trend, the decision log's lifecycle."""

from __future__ import annotations

from services.workspace.configuration.models import RiskResponseModel
from services.workspace.raid.models import RiskKind, RiskResponse
from services.workspace.raid.rules import (
    OPPORTUNITY_RESPONSES,
    ROAM_RESPONSES,
    THREAT_RESPONSES,
    responses_for,
)

# --- risk responses -----------------------------------------------------------------------------


def test_roam_answers_threats_and_opportunities_keep_their_own_responses() -> None:
    assert responses_for(RiskKind.THREAT, RiskResponseModel.ROAM) == ROAM_RESPONSES
    assert responses_for(RiskKind.OPPORTUNITY, RiskResponseModel.ROAM) == OPPORTUNITY_RESPONSES
    assert responses_for(RiskKind.THREAT, RiskResponseModel.STANDARD) == THREAT_RESPONSES
    assert RiskResponse.EXPLOIT in responses_for(RiskKind.OPPORTUNITY, RiskResponseModel.ROAM)
    assert RiskResponse.OWNED not in responses_for(RiskKind.OPPORTUNITY, RiskResponseModel.ROAM)
