"""A dependency's RAG reads a commitment whose day has passed undelivered from today: the slack
left is what today leaves before the need-by date, as for a delivering milestone's forecast."""

from __future__ import annotations

from datetime import date, timedelta

from services.workspace.models import Rag
from services.workspace.raid.models import DependencyStatus
from services.workspace.raid.rules import dependency_rag
from tests.conftest import MakeWorkspace
from tests.workspace_api import Client, make, programme, workspace_today

TODAY = date(2027, 3, 1)
AGREED = DependencyStatus.AGREED


def test_a_commitment_passed_undelivered_leaves_the_slack_from_today() -> None:
    # Committed a month ahead of the need, but that day has gone: three days are left.
    assert dependency_rag(AGREED, date(2027, 3, 4), date(2027, 2, 1), TODAY) is Rag.AMBER
    # Still a week or more to go from today: green, as a commitment of today would be.
    assert dependency_rag(AGREED, date(2027, 3, 8), date(2027, 2, 1), TODAY) is Rag.GREEN
    # A commitment still to come is read as it stands.
    assert dependency_rag(AGREED, date(2027, 3, 20), date(2027, 3, 5), TODAY) is Rag.GREEN


async def test_a_dependency_whose_commitment_passed_undelivered_is_amber_near_its_need(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    supplier = await make(client, ws, "projects", {"programme_id": prog["id"], "name": "API"})
    consumer = await make(client, ws, "projects", {"programme_id": prog["id"], "name": "Portal"})
    today = workspace_today()
    dependency = await make(
        client,
        ws,
        "dependencies",
        {
            "programme_id": prog["id"],
            "title": "Token service",
            "from_project_id": supplier["id"],
            "to_project_id": consumer["id"],
            "need_by_date": (today + timedelta(days=3)).isoformat(),
            "committed_date": (today - timedelta(days=20)).isoformat(),
            "status": "agreed",
        },
    )
    assert dependency["rag"] == "amber"
