"""Status reports that follow one of the workspace's report formats (seeded by a template pack):
the RAG dimensions the format asks for, the top-N counts of the snapshot, its sections."""

from __future__ import annotations

from typing import Any

from services.db.engine import Database
from templates_library.items import stable_id
from templates_library.seeding import seed
from tests.conftest import MakeWorkspace, PublishPack, Workspace
from tests.tiny_pack import PARAMS, PackData
from tests.workspace_api import Client, change, make, programme, url

PERIOD = {"period_start": "2026-01-01", "period_end": "2026-01-31"}
# The risks of two_of_each make the data suggest red: a green overall says why.
WHY = {"override_reason": "Mitigated since."}


def one_of_each(data: PackData) -> None:
    """The tiny pack's highlight report (overall and schedule RAGs, one section), showing one
    top risk, one issue and one decision."""
    data["status_reports"][0].update(top_risks=1, top_issues=1, top_decisions=1)


def format_removed(data: PackData) -> None:
    """1.1.0: the pack no longer has its highlight report format."""
    one_of_each(data)
    data["version"] = "1.1.0"
    data["changes"] = ["The highlight report format is withdrawn."]
    data["status_reports"] = []


async def seeded(
    database: Database, make_workspace: MakeWorkspace, publish_pack: PublishPack, *versions: Any
) -> tuple[Workspace, str, str]:
    """A workspace seeded with the pack, and the id of its highlight report format."""
    ws = await make_workspace()
    pack = await publish_pack(*(versions or (one_of_each,)))
    await seed(database, ws.tenant_id, pack, "1.0.0", PARAMS)
    return ws, pack, str(stable_id(ws.tenant_id, pack, "status_report", "highlight"))


async def publish(client: Client, ws: Workspace, row: dict[str, Any]) -> Any:
    return await client.post(
        url(ws, f"status-reports/{row['id']}/publish"),
        headers={**ws.headers, "If-Match": f'"{row["version"]}"'},
    )


async def two_of_each(client: Client, ws: Workspace, programme_id: str) -> None:
    """Two open threats, two open issues and two decisions in January."""
    for n in (1, 2):
        await make(
            client,
            ws,
            "risks",
            {
                "programme_id": programme_id,
                "title": f"Risk {n}",
                "inherent_probability": n + 2,
                "inherent_impact": 4,
            },
        )
        await make(
            client,
            ws,
            "issues",
            {"programme_id": programme_id, "title": f"Issue {n}", "severity": n},
        )
        await make(
            client,
            ws,
            "decisions",
            {
                "programme_id": programme_id,
                "title": f"Decision {n}",
                "decided_on": f"2026-01-1{n}",
                "status": "approved",
                "decided_by_id": str(ws.user_id),
            },
        )


async def test_a_report_following_a_format_needs_its_rags_and_keeps_its_counts(
    client: Client, make_workspace: MakeWorkspace, database: Database, publish_pack: PublishPack
) -> None:
    ws, _, format_id = await seeded(database, make_workspace, publish_pack)
    prog = await programme(client, ws)
    await two_of_each(client, ws, prog["id"])
    draft = await make(
        client,
        ws,
        "status-reports",
        {
            "programme_id": prog["id"],
            **PERIOD,
            **WHY,
            "format_id": format_id,
            "overall_rag": "green",
        },
    )
    assert draft["format_id"] == format_id
    assert draft["sections"] == [{"position": 0, "title": "Summary", "guidance": "Two lines."}]
    listed = await client.get(url(ws, "status-reports"), headers=ws.headers)
    assert listed.json()["items"][0]["sections"] == draft["sections"]

    # The format reports schedule: publishing without it is refused, and nothing is written.
    refused = await publish(client, ws, draft)
    assert refused.status_code == 422, refused.text
    assert [e["field"] for e in refused.json()["errors"]] == ["schedule_rag"]
    unchanged = await client.get(url(ws, f"status-reports/{draft['id']}"), headers=ws.headers)
    assert unchanged.json() == draft

    # Cost is not one of the format's dimensions: it may stay empty.
    ready = await change(client, ws, "status-reports", draft, {"schedule_rag": "green"})
    published = await publish(client, ws, ready.json())
    assert published.status_code == 200, published.text
    snapshot = published.json()["snapshot"]
    assert [r["title"] for r in snapshot["top_risks"]] == ["Risk 2"]
    assert [i["title"] for i in snapshot["issues"]] == ["Issue 1"]
    assert [d["title"] for d in snapshot["decisions"]] == ["Decision 1"]
    assert snapshot["format"]["rag_dimensions"] == ["overall", "schedule"]
    assert snapshot["format"]["sections"] == draft["sections"]
    pack = await client.get(
        url(ws, f"programmes/{prog['id']}/board-pack"), params=PERIOD, headers=ws.headers
    )
    assert pack.json()["reports"][0]["sections"] == draft["sections"]


async def test_without_a_format_a_report_is_as_before(
    client: Client, make_workspace: MakeWorkspace, database: Database, publish_pack: PublishPack
) -> None:
    ws, _, _ = await seeded(database, make_workspace, publish_pack)
    prog = await programme(client, ws)
    await two_of_each(client, ws, prog["id"])
    draft = await make(
        client,
        ws,
        "status-reports",
        {"programme_id": prog["id"], **PERIOD, **WHY, "overall_rag": "green"},
    )
    assert (draft["format_id"], draft["sections"]) == (None, [])

    published = await publish(client, ws, draft)

    assert published.status_code == 200, published.text
    snapshot = published.json()["snapshot"]
    assert "format" not in snapshot
    assert [len(snapshot[k]) for k in ("top_risks", "issues", "decisions")] == [2, 2, 2]


async def test_an_unknown_format_is_refused_naming_the_field(
    client: Client, make_workspace: MakeWorkspace, database: Database, publish_pack: PublishPack
) -> None:
    ws, _, format_id = await seeded(database, make_workspace, publish_pack)
    _, _, elsewhere = await seeded(database, make_workspace, publish_pack)
    prog = await programme(client, ws)

    # Another workspace's format is no format of this one.
    created = await client.post(
        url(ws, "status-reports"),
        json={"programme_id": prog["id"], **PERIOD, "format_id": elsewhere},
        headers=ws.headers,
    )
    assert created.status_code == 422, created.text
    assert [e["field"] for e in created.json()["errors"]] == ["format_id"]

    draft = await make(client, ws, "status-reports", {"programme_id": prog["id"], **PERIOD})
    moved = await change(client, ws, "status-reports", draft, {"format_id": elsewhere})
    assert moved.status_code == 422, moved.text
    assert [e["field"] for e in moved.json()["errors"]] == ["format_id"]
    # A draft may take a format of the workspace's, and leave it again.
    chosen = await change(client, ws, "status-reports", draft, {"format_id": format_id})
    assert chosen.status_code == 200, chosen.text
    assert chosen.json()["sections"][0]["title"] == "Summary"
    left = await change(client, ws, "status-reports", chosen.json(), {"format_id": None})
    assert (left.json()["format_id"], left.json()["sections"]) == (None, [])


async def test_a_correction_keeps_its_reports_format(
    client: Client, make_workspace: MakeWorkspace, database: Database, publish_pack: PublishPack
) -> None:
    ws, _, format_id = await seeded(database, make_workspace, publish_pack)
    prog = await programme(client, ws)
    draft = await make(
        client,
        ws,
        "status-reports",
        {
            "programme_id": prog["id"],
            **PERIOD,
            "format_id": format_id,
            "overall_rag": "green",
            "schedule_rag": "green",
        },
    )
    published = (await publish(client, ws, draft)).json()
    corrections = url(ws, f"status-reports/{published['id']}/corrections")

    dropped = await client.post(corrections, json={"format_id": None}, headers=ws.headers)
    assert dropped.status_code == 422, dropped.text
    assert [e["field"] for e in dropped.json()["errors"]] == ["format_id"]

    # The same format, sent back as the report has it, changes nothing.
    same = await client.post(corrections, json={"format_id": format_id}, headers=ws.headers)
    assert same.status_code == 201, same.text
    fix = same.json()
    assert (fix["format_id"], fix["sections"]) == (format_id, published["sections"])
    cleared = await change(client, ws, "status-reports", fix, {"format_id": None})
    assert cleared.status_code == 422, cleared.text
    # Its format still asks for schedule.
    unset = await change(client, ws, "status-reports", fix, {"schedule_rag": None})
    refused = await publish(client, ws, unset.json())
    assert refused.status_code == 422, refused.text
    assert [e["field"] for e in refused.json()["errors"]] == ["schedule_rag"]


async def test_a_format_a_report_follows_is_not_removed_by_an_upgrade(
    client: Client, make_workspace: MakeWorkspace, database: Database, publish_pack: PublishPack
) -> None:
    ws, _, format_id = await seeded(
        database, make_workspace, publish_pack, one_of_each, format_removed
    )
    prog = await programme(client, ws)
    await make(client, ws, "status-reports", {"programme_id": prog["id"], **PERIOD})
    await make(
        client,
        ws,
        "status-reports",
        {
            **PERIOD,
            "programme_id": prog["id"],
            "period_start": "2026-02-01",
            "period_end": "2026-02-28",
            "format_id": format_id,
        },
    )

    applied = await client.post(
        url(ws, "template-upgrades"), json={"apply": True}, headers=ws.headers
    )

    assert applied.status_code == 200, applied.text
    entries = {(e["kind"], e["key"]): e for e in applied.json()["entries"]}
    held = entries[("status_report", "highlight")]
    assert held["action"] != "remove", held
    assert "status_reports still uses it" in held["reason"], held
    kept = await client.get(url(ws, f"report-formats/{format_id}"), headers=ws.headers)
    assert kept.status_code == 200, kept.text


async def test_a_format_kept_by_an_upgrade_keeps_its_sections(
    client: Client, make_workspace: MakeWorkspace, database: Database, publish_pack: PublishPack
) -> None:
    """The pack withdrew the format whole: it has no newer sections to follow. Kept for the
    reports that follow it, the format stands as it was, sections and all, not emptied of the
    guidance its drafts are written to."""
    ws, _, format_id = await seeded(
        database, make_workspace, publish_pack, one_of_each, format_removed
    )
    prog = await programme(client, ws)
    draft = await make(
        client, ws, "status-reports", {"programme_id": prog["id"], **PERIOD, "format_id": format_id}
    )

    applied = await client.post(
        url(ws, "template-upgrades"), json={"apply": True}, headers=ws.headers
    )

    assert applied.status_code == 200, applied.text
    entries = {(e["kind"], e["key"]): e for e in applied.json()["entries"]}
    assert entries[("report_section", "highlight/summary")]["action"] != "remove"
    kept = await client.get(url(ws, f"report-formats/{format_id}"), headers=ws.headers)
    assert [s["title"] for s in kept.json()["sections"]] == ["Summary"]
    read = await client.get(url(ws, f"status-reports/{draft['id']}"), headers=ws.headers)
    assert read.json()["sections"] == draft["sections"]
