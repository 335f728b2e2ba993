"""Bodies a route can do without (publishing, starting a correction) are optional in the OpenAPI
schema, without a made-up default; JSON ``null`` is no body for them, but a 422."""

from __future__ import annotations

from typing import Any

from tests.conftest import MakeWorkspace, Workspace
from tests.workspace_api import Client, make, programme, url

JSON = {"Content-Type": "application/json"}
REPORT = "/api/v1/w/{slug}/status-reports/{report_id}"


async def published_report(client: Client, ws: Workspace) -> dict[str, Any]:
    prog = await programme(client, ws)
    draft = await make(
        client,
        ws,
        "status-reports",
        {
            "programme_id": prog["id"],
            "period_start": "2026-01-01",
            "period_end": "2026-01-31",
            "overall_rag": "green",
        },
    )
    published = await client.post(
        url(ws, f"status-reports/{draft['id']}/publish"),
        headers={**ws.headers, "If-Match": f'"{draft["version"]}"'},
    )
    assert published.status_code == 200, published.text
    report: dict[str, Any] = published.json()
    return report


async def test_optional_bodies_are_documented_optional_and_refuse_null(client: Client) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    components = schema["components"]["schemas"]
    for action in ("publish", "corrections"):
        body = schema["paths"][f"{REPORT}/{action}"]["post"]["requestBody"]
        assert body["required"] is False, action
        ref = body["content"]["application/json"]["schema"]["$ref"]  # an object, not null
        component = components[ref.rsplit("/", 1)[1]]
        assert "default" not in component, action
    corrected = components["StatusReportCorrection"]["properties"]["period_end"]
    assert "A correction keeps its report's period" in corrected["description"]


async def test_a_correction_sent_null_is_refused_and_none_is_started(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    report = await published_report(client, ws)
    corrections = url(ws, f"status-reports/{report['id']}/corrections")
    refused = await client.post(corrections, content=b"null", headers={**ws.headers, **JSON})
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"] == [
        {"field": "", "message": "expected a JSON object, got null", "source": "body"}
    ]
    listed = await client.get(url(ws, "status-reports"), headers=ws.headers)
    assert listed.json()["total"] == 1
    # No body at all starts one, as it stands.
    started = await client.post(corrections, headers=ws.headers)
    assert started.status_code == 201, started.text
    assert (started.json()["revision"], started.json()["summary"]) == (2, report["summary"])
