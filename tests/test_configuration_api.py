"""Register configuration, custom fields (validated, filterable, exported), exports, and the
seeder's way in: explicit ids and pack provenance through the services."""

from __future__ import annotations

import csv
import io
import uuid

from openpyxl import load_workbook

from services.db.engine import Database
from services.db.tenant_scope import TenantScope
from services.identity.models import Role
from services.workspace.configuration.models import (
    RegisterSettings,
    RiskBand,
    ScaleKind,
    ScaleLevel,
)
from services.workspace.models import Rag
from services.workspace.raid.schemas import RiskCreate
from services.workspace.raid.service import RiskService
from services.workspace.registers import Provenance
from tests.conftest import MakeWorkspace
from tests.workspace_api import Client, change, make, programme, url


async def test_the_built_in_configuration_is_the_5x5_default(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace(Role.VIEWER)
    found = (await client.get(url(ws, "register-configuration"), headers=ws.headers)).json()
    assert [lv["label"] for lv in found["probability"]][0] == "Rare"
    assert [(b["key"], b["min_score"], b["max_score"], b["rag"]) for b in found["bands"]] == [
        ("green", 1, 4, "green"),
        ("amber", 5, 9, "amber"),
        ("red", 10, 15, "red"),
        ("red-critical", 16, 25, "red"),
    ]
    assert found["rag_rules"]["schedule_slip_green_max_weeks"] == 2
    assert found["risk_response_model"] == "standard"


async def test_custom_fields_are_admin_defined_validated_filterable_and_exported(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    member = await make_workspace(Role.MEMBER)
    refused = await client.post(
        url(member, "custom-fields"),
        json={"register": "risks", "key": "tranche", "label": "Tranche", "type": "text"},
        headers=member.headers,
    )
    assert refused.status_code == 403

    fields = [
        {
            "register": "risks",
            "key": "escalation",
            "label": "Escalation level",
            "type": "choice",
            "choices": ["project", "programme", "sponsoring group"],
            "required": True,
            "position": 1,
        },
        {
            "register": "risks",
            "key": "exposure",
            "label": "Exposure (£)",
            "type": "number",
            "position": 2,
        },
        {
            "register": "risks",
            "key": "escalated-on",
            "label": "Escalated on",
            "type": "date",
            "position": 3,
        },
    ]
    for body in fields:
        await make(client, ws, "custom-fields", body)
    no_choices = await client.post(
        url(ws, "custom-fields"),
        json={"register": "risks", "key": "x", "label": "X", "type": "choice"},
        headers=ws.headers,
    )
    assert no_choices.status_code == 422
    twice = await client.post(url(ws, "custom-fields"), json=fields[1], headers=ws.headers)
    assert twice.status_code == 409

    prog = await programme(client, ws)
    base = {
        "programme_id": prog["id"],
        "title": "R",
        "inherent_probability": 2,
        "inherent_impact": 3,
    }
    bad = [
        ({**base, "custom_fields": {}}, "custom_fields.escalation"),  # required
        ({**base, "custom_fields": {"escalation": "board"}}, "custom_fields.escalation"),
        (
            {**base, "custom_fields": {"escalation": "project", "exposure": "lots"}},
            "custom_fields.exposure",
        ),
        (
            {**base, "custom_fields": {"escalation": "project", "escalated-on": "May"}},
            "custom_fields.escalated-on",
        ),
        (
            {**base, "custom_fields": {"escalation": "project", "colour": "red"}},
            "custom_fields.colour",
        ),
        # Values of no field's type are named by their field too, not `custom_fields[...]`.
        ({**base, "custom_fields": {"escalation": True}}, "custom_fields.escalation"),
        ({**base, "custom_fields": {"escalation": ["project"]}}, "custom_fields.escalation"),
        (
            {**base, "custom_fields": {"escalation": "project", "exposure": True}},
            "custom_fields.exposure",
        ),
        (
            {**base, "custom_fields": {"escalation": "project", "exposure": 1e16}},
            "custom_fields.exposure",
        ),
        (
            {**base, "custom_fields": {"escalation": "project", "escalated-on": "x" * 2001}},
            "custom_fields.escalated-on",
        ),
    ]
    for body, field in bad:
        response = await client.post(url(ws, "risks"), json=body, headers=ws.headers)
        assert response.status_code == 422, (body, response.text)
        assert field in [e["field"] for e in response.json()["errors"]], response.json()

    big = await make(
        client,
        ws,
        "risks",
        {
            **base,
            "title": '=HYPERLINK("x")',
            "custom_fields": {
                "escalation": "sponsoring group",
                "exposure": 250000,
                "escalated-on": "2027-02-01",
            },
        },
    )
    small = await make(
        client,
        ws,
        "risks",
        {**base, "title": "Small", "custom_fields": {"escalation": "project", "exposure": 1000}},
    )
    assert big["custom_fields"]["exposure"] == 250000
    cleared = await change(client, ws, "risks", small, {"custom_fields": {"exposure": None}})
    assert cleared.json()["custom_fields"] == {"escalation": "project"}
    keep_required = await change(
        client, ws, "risks", cleared.json(), {"custom_fields": {"escalation": None}}
    )
    assert keep_required.status_code == 422

    def titles(response: object) -> list[str]:
        return [r["title"] for r in response.json()["items"]]  # type: ignore[attr-defined]

    by_choice = await client.get(
        url(ws, "risks"), params={"custom": "escalation=sponsoring group"}, headers=ws.headers
    )
    assert titles(by_choice) == ['=HYPERLINK("x")']
    by_number = await client.get(
        url(ws, "risks"), params={"custom": "exposure>=5000"}, headers=ws.headers
    )
    assert titles(by_number) == ['=HYPERLINK("x")']
    by_date = await client.get(
        url(ws, "risks"), params={"custom": "escalated-on<=2027-03-01"}, headers=ws.headers
    )
    assert by_date.json()["total"] == 1
    unknown = await client.get(url(ws, "risks"), params={"custom": "nope=1"}, headers=ws.headers)
    assert unknown.status_code == 422

    exported = await client.get(
        url(ws, "risks/export.csv"),
        params={"custom": "escalation=sponsoring group"},
        headers=ws.headers,
    )
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    header, values = rows[0], rows[1:]
    assert len(values) == 1
    assert header[-3:] == ["Escalation level", "Exposure (£)", "Escalated on"]
    assert values[0][header.index("title")] == '\'=HYPERLINK("x")'  # never a formula
    assert values[0][-3:] == ["sponsoring group", "250000", "2027-02-01"]

    workbook = await client.get(url(ws, "risks/export.xlsx"), headers=ws.headers)
    assert workbook.status_code == 200
    sheet = load_workbook(io.BytesIO(workbook.content)).active
    assert sheet is not None
    table = [[c.value for c in row] for row in sheet.iter_rows()]
    assert len(table) == 3 and table[0][-1] == "Escalated on"
    titles_in_sheet = {row[table[0].index("title")] for row in table[1:]}
    assert titles_in_sheet == {'=HYPERLINK("x")', "Small"}
    cell = next(c for c in sheet["A"][1:])
    assert cell.data_type == "s"


async def test_a_custom_field_extends_a_register_that_exists(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    typo = {"register": "riskz", "key": "owner-team", "label": "Owner team", "type": "text"}
    refused = await client.post(url(ws, "custom-fields"), json=typo, headers=ws.headers)
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json()["errors"]] == ["register"]
    listed = await client.get(url(ws, "custom-fields"), headers=ws.headers)
    assert listed.json()["total"] == 0
    await make(client, ws, "custom-fields", {**typo, "register": "stakeholders"})


async def test_a_choice_field_lists_each_choice_once_and_none_blank(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    body = {"register": "risks", "key": "rating", "label": "Rating", "type": "choice"}
    for choices, message in (
        (["low", "high", "low"], "choice 'low' is listed twice"),
        (["low", "  "], "choice '  ' is blank"),
        (["low ", "low"], "choice 'low ' has spaces around it"),
    ):
        refused = await client.post(
            url(ws, "custom-fields"), json={**body, "choices": choices}, headers=ws.headers
        )
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"] == [
            {"field": "choices", "message": message, "source": "body"}
        ]
    field = await make(client, ws, "custom-fields", {**body, "choices": ["low", "high"]})
    twice = await change(client, ws, "custom-fields", field, {"choices": ["low", "low"]})
    assert twice.status_code == 422, twice.text
    listed = await client.get(url(ws, "custom-fields"), headers=ws.headers)
    assert [f["choices"] for f in listed.json()["items"]] == [["low", "high"]]


async def test_a_custom_fields_label_never_becomes_a_formula_in_an_export(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    label = '=HYPERLINK("http://evil.example","x")'
    body = {"register": "risks", "key": "sneaky", "label": label, "type": "text"}
    await make(client, ws, "custom-fields", body)

    exported = await client.get(url(ws, "risks/export.csv"), headers=ws.headers)
    header = next(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert header[-1] == "'" + label

    workbook = await client.get(url(ws, "risks/export.xlsx"), headers=ws.headers)
    sheet = load_workbook(io.BytesIO(workbook.content)).active
    assert sheet is not None
    heading = list(sheet.iter_rows(max_row=1))[0][-1]
    assert (heading.value, heading.data_type) == (label, "s")


async def test_every_register_exports_csv_and_xlsx(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    for path in (
        "tranches",
        "projects",
        "milestones",
        "benefits",
        "risks",
        "issues",
        "assumptions",
        "dependencies",
        "boards",
        "meetings",
        "actions",
        "decisions",
        "change-requests",
        "stage-gates",
        "status-reports",
        "custom-fields",
    ):
        for kind in ("csv", "xlsx"):
            response = await client.get(url(ws, f"{path}/export.{kind}"), headers=ws.headers)
            assert response.status_code == 200, (path, kind, response.text)
            assert f'filename="{path}.{kind}"' in response.headers["content-disposition"]


async def test_the_seeder_gives_ids_and_provenance_and_the_workspace_scales_apply(
    client: Client, make_workspace: MakeWorkspace, database: Database
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    seeded_id = uuid.uuid5(uuid.NAMESPACE_URL, f"{ws.tenant_id}/msp-governance/risk-1")
    async with database.transaction(ws.cell, TenantScope.single(ws.tenant_id)) as session:
        # A pack with a 4-level impact scale and stricter bands.
        for value, label in enumerate(("Low", "Medium", "High", "Severe"), start=1):
            session.add(
                ScaleLevel(
                    scale=ScaleKind.IMPACT, key=str(value), value=value, label=label, position=value
                )
            )
        for key, low, high, rag in (
            ("low", 1, 3, Rag.GREEN),
            ("medium", 4, 7, Rag.AMBER),
            ("high", 8, 20, Rag.RED),
        ):
            session.add(
                RiskBand(key=key, label=key.title(), min_score=low, max_score=high, rag=rag)
            )
        session.add(
            RegisterSettings(
                schedule_slip_green_max_weeks=1,
                schedule_slip_amber_max_weeks=3,
                cost_variance_green_max_pct=5,
                cost_variance_amber_max_pct=10,
                benefits_forecast_green_min_pct=90,
                benefits_forecast_amber_min_pct=70,
                override_requires_reason=True,
                path_to_green_for_amber=True,
                path_to_green_for_red=True,
                risk_response_model="roam",
            )
        )
        await session.flush()
        risk = await RiskService(session, None).create(
            RiskCreate(
                programme_id=uuid.UUID(prog["id"]),
                title="Seeded",
                inherent_probability=2,
                inherent_impact=4,
                response="owned",
            ),
            id=seeded_id,
            provenance=Provenance("msp-governance", "1.1.0", "risk-1"),
        )
        assert (risk.id, risk.source_pack, risk.source_item) == (
            seeded_id,
            "msp-governance",
            "risk-1",
        )

    read = (await client.get(url(ws, f"risks/{seeded_id}"), headers=ws.headers)).json()
    assert (read["residual_score"], read["residual_band"], read["residual_rag"]) == (
        8,
        "high",
        "red",
    )
    too_high = await client.post(
        url(ws, "risks"),
        json={
            "programme_id": prog["id"],
            "title": "R",
            "inherent_probability": 1,
            "inherent_impact": 5,
        },
        headers=ws.headers,
    )
    assert too_high.status_code == 422  # the workspace's impact scale stops at 4
    standard = await client.post(
        url(ws, "risks"),
        json={
            "programme_id": prog["id"],
            "title": "R",
            "inherent_probability": 1,
            "inherent_impact": 1,
            "response": "avoid",
        },
        headers=ws.headers,
    )
    assert standard.status_code == 422  # a ROAM workspace
    config = (await client.get(url(ws, "register-configuration"), headers=ws.headers)).json()
    assert [lv["label"] for lv in config["impact"]] == ["Low", "Medium", "High", "Severe"]
    assert config["rag_rules"]["schedule_slip_green_max_weeks"] == 1


async def test_a_choice_or_field_that_rows_still_hold_is_not_removed(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    field = await make(
        client,
        ws,
        "custom-fields",
        {
            "register": "risks",
            "key": "area",
            "label": "Area",
            "type": "choice",
            "choices": ["north", "south", "east"],
        },
    )
    prog = await programme(client, ws)
    risks = [
        await make(
            client,
            ws,
            "risks",
            {
                "programme_id": prog["id"],
                "title": title,
                "inherent_probability": 2,
                "inherent_impact": 2,
                "custom_fields": {"area": area},
            },
        )
        for title, area in (("One", "south"), ("Two", "south"), ("Three", "north"))
    ]

    refused = await change(client, ws, "custom-fields", field, {"choices": ["east"]})

    assert refused.status_code == 409
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["detail"] == (
        "3 risks still use the choices of 'area' being removed: 'north' (1), 'south' (2). "
        "Change them first."
    )
    assert [e["field"] for e in refused.json()["errors"]] == ["choices"]
    by_south = await client.get(
        url(ws, "risks"), params={"custom": "area=south"}, headers=ws.headers
    )
    assert by_south.status_code == 200 and by_south.json()["total"] == 2
    # A choice no row holds goes; one the rows have left goes too.
    unused = await change(client, ws, "custom-fields", field, {"choices": ["north", "south"]})
    assert unused.status_code == 200, unused.text
    for risk in risks[:2]:
        moved = await change(client, ws, "risks", risk, {"custom_fields": {"area": "north"}})
        assert moved.status_code == 200, moved.text
    left = await change(client, ws, "custom-fields", unused.json(), {"choices": ["north"]})
    assert left.status_code == 200, left.text
    assert left.json()["choices"] == ["north"]
    # Nor does the field go while rows hold a value in it.
    field_url = url(ws, f"custom-fields/{field['id']}")
    kept = await client.delete(field_url, headers=ws.headers)
    assert kept.status_code == 409
    assert kept.json()["detail"] == "3 risks still hold a value in 'area'. Clear it first."
    for risk in risks:
        current = (await client.get(url(ws, f"risks/{risk['id']}"), headers=ws.headers)).json()
        cleared = await change(client, ws, "risks", current, {"custom_fields": {"area": None}})
        assert cleared.status_code == 200, cleared.text
    assert (await client.delete(field_url, headers=ws.headers)).status_code == 204
