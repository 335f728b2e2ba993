"""Benefits as their users meet them: figures at the edges, and writes racing a measurement."""

from __future__ import annotations

import pytest

from tests.conftest import MakeWorkspace
from tests.workspace_api import Client, make, programme, url


async def test_a_target_a_hairs_breadth_from_its_baseline_is_no_500(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    """A % too large to round to two decimals (1e29 %) is shown as it is; one beyond what a
    number holds is not known (null), as when target and baseline are equal."""
    ws = await make_workspace()
    prog = await programme(client, ws)
    base = {"programme_id": prog["id"], "title": "Faster", "classification": "non_cash"}

    large = await client.post(
        url(ws, "benefits"),
        json={**base, "baseline_value": 0, "target_value": 1e-25, "forecast_value": 1000},
        headers=ws.headers,
    )
    beyond = await client.post(
        url(ws, "benefits"),
        json={**base, "baseline_value": 0, "target_value": 5e-324, "forecast_value": 1e15},
        headers=ws.headers,
    )

    assert large.status_code == 201, large.text
    assert large.json()["forecast_pct"] == pytest.approx(1e30)
    assert beyond.status_code == 201, beyond.text
    assert beyond.json()["forecast_pct"] is None
    dashboard = await client.get(url(ws, f"programmes/{prog['id']}/dashboard"), headers=ws.headers)
    assert dashboard.status_code == 200, dashboard.text


async def test_no_progress_on_a_falling_indicator_is_0_not_minus_0(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    benefit = await make(
        client,
        ws,
        "benefits",
        {
            "programme_id": prog["id"],
            "title": "Fewer days per claim",
            "classification": "non_cash",
            "baseline_value": 40,
            "baseline_date": "2025-01-01",
            "target_value": 10,
            "forecast_value": 40,
        },
    )
    measured = await client.post(
        url(ws, f"benefits/{benefit['id']}/measurements"),
        json={"measured_on": "2025-02-01", "value": 40},
        headers=ws.headers,
    )
    assert measured.status_code == 201, measured.text

    read = await client.get(url(ws, f"benefits/{benefit['id']}"), headers=ws.headers)

    # -0.0 == 0.0 in Python: the JSON text is what a client reads ("-0.0" before).
    assert '"forecast_pct":0.0' in read.text and '"realisation_pct":0.0' in read.text, read.text
    assert "-0.0" not in read.text
