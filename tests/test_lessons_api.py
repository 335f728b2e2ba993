"""The lessons log over HTTP: what a programme learned, filtered, exported and kept with it."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import load_workbook

from services.db.engine import Database
from services.workspace.clock import not_after_today
from templates_library.seeding import seed
from tests.conftest import MakeWorkspace, Workspace
from tests.workspace_api import Client, change, make, programme, url

# Whatever the time, Kiritimati's date is at least the UTC date (it is UTC+14).
BEHIND = "Pacific/Pago_Pago"  # UTC-11
AHEAD = "Pacific/Kiritimati"


async def titles(client: Client, ws: Workspace, **params: Any) -> list[str]:
    response = await client.get(url(ws, "lessons"), params=params, headers=ws.headers)
    assert response.status_code == 200, (params, response.text)
    return [row["title"] for row in response.json()["items"]]


async def csv_of(client: Client, ws: Workspace, **params: Any) -> list[dict[str, str]]:
    response = await client.get(url(ws, "lessons/export.csv"), params=params, headers=ws.headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_what_has_happened_is_dated_today_or_before() -> None:
    today = date(2027, 3, 1)
    assert not_after_today(today, today) is None
    assert not_after_today(date(2026, 12, 31), today) is None
    problem = not_after_today(date(2027, 3, 2), today)
    assert problem == "not after today (2027-03-01, the workspace's calendar)"


async def test_lessons_are_logged_filtered_sorted_changed_and_deleted(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    project = await make(client, ws, "projects", {"programme_id": prog["id"], "name": "CRM"})
    supplier = await make(
        client,
        ws,
        "lessons",
        {
            "programme_id": prog["id"],
            "project_id": project["id"],
            "reference": "LL-1",
            "title": "Supplier onboarding took twice as long",
            "what_happened": "Security vetting was not started until contract signature.",
            "recommendation": "Start vetting in parallel with the commercial process.",
            "category": "supplier",
            "kind": "negative",
            "raised_by_id": str(ws.user_id),
            "raised_on": "2026-03-02",
            "owner_id": str(ws.user_id),
        },
    )
    assert supplier["state"] == "identified"
    assert supplier["version"] == 1 and supplier["custom_fields"] == {}
    assert (supplier["raised_by_id"], supplier["created_by"]) == (str(ws.user_id),) * 2
    await make(
        client,
        ws,
        "lessons",
        {
            "programme_id": prog["id"],
            "title": "Fortnightly show-and-tell kept sponsors engaged",
            "category": "people",
            "kind": "positive",
            "raised_on": "2026-05-10",
        },
    )
    await make(
        client,
        ws,
        "lessons",
        {
            "programme_id": prog["id"],
            "title": "Data migration rehearsals found defects early",
            "kind": "positive",
            "raised_on": "2026-01-15",
            "state": "closed",
        },
    )
    other = await programme(client, ws, "Another programme")
    await make(client, ws, "lessons", {"programme_id": other["id"], "title": "Elsewhere"})

    newest_first = await titles(client, ws, programme_id=prog["id"])
    assert newest_first == [
        "Fortnightly show-and-tell kept sponsors engaged",
        "Supplier onboarding took twice as long",
        "Data migration rehearsals found defects early",
    ]
    assert await titles(client, ws, programme_id=prog["id"], sort="raised_on") == list(
        reversed(newest_first)
    )
    assert await titles(client, ws, programme_id=prog["id"], sort="title") == [
        "Data migration rehearsals found defects early",
        "Fortnightly show-and-tell kept sponsors engaged",
        "Supplier onboarding took twice as long",
    ]
    assert await titles(client, ws, programme_id=prog["id"], kind="positive") == [
        "Fortnightly show-and-tell kept sponsors engaged",
        "Data migration rehearsals found defects early",
    ]
    assert await titles(client, ws, state="closed") == [
        "Data migration rehearsals found defects early"
    ]
    assert await titles(client, ws, category="supplier") == [supplier["title"]]
    assert await titles(client, ws, project_id=project["id"]) == [supplier["title"]]
    assert await titles(client, ws, raised_by_id=str(ws.user_id)) == [supplier["title"]]
    assert await titles(client, ws, owner_id=str(ws.user_id)) == [supplier["title"]]
    assert await titles(
        client, ws, programme_id=prog["id"], raised_after="2026-02-01", raised_before="2026-04-30"
    ) == [supplier["title"]]
    paged = await client.get(
        url(ws, "lessons"), params={"limit": 1, "offset": 1}, headers=ws.headers
    )
    assert paged.json()["total"] == 4 and len(paged.json()["items"]) == 1
    unknown = await client.get(url(ws, "lessons"), params={"kind": "neutral"}, headers=ws.headers)
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "kind"

    # Read with its ETag; changed only with the one it was read at.
    path = url(ws, f"lessons/{supplier['id']}")
    got = await client.get(path, headers=ws.headers)
    assert got.status_code == 200 and got.headers["etag"] == '"1"'
    assert got.json() == supplier
    unconditional = await client.patch(path, json={"state": "actioned"}, headers=ws.headers)
    assert unconditional.status_code == 428
    stale = await client.patch(
        path, json={"state": "actioned"}, headers={**ws.headers, "If-Match": '"7"'}
    )
    assert stale.status_code == 412
    actioned = await change(
        client, ws, "lessons", supplier, {"state": "actioned", "project_id": None}
    )
    assert actioned.status_code == 200, actioned.text
    assert actioned.headers["etag"] == '"2"'
    assert (actioned.json()["state"], actioned.json()["project_id"]) == ("actioned", None)
    assert actioned.json()["raised_on"] == "2026-03-02"  # a write leaves the day as it was

    deleted = await client.delete(path, headers={**ws.headers, "If-Match": '"1"'})
    assert deleted.status_code == 412  # an old ETag deletes nothing
    assert (await client.delete(path, headers=ws.headers)).status_code == 204
    assert (await client.get(path, headers=ws.headers)).status_code == 404


async def test_creating_a_lesson_twice_with_one_idempotency_key_logs_it_once(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    body = {"programme_id": prog["id"], "title": "Book the venue early"}
    headers = {**ws.headers, "Idempotency-Key": str(uuid.uuid4())}
    first = await client.post(url(ws, "lessons"), json=body, headers=headers)
    again = await client.post(url(ws, "lessons"), json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert first.headers["location"].endswith(f"/lessons/{first.json()['id']}")
    assert await titles(client, ws) == ["Book the venue early"]


async def test_raised_on_is_the_workspaces_today_unless_said_and_never_after_it(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    settings = f"/api/v1/w/{ws.slug}/settings"
    etag = (await client.get(settings, headers=ws.headers)).headers["etag"]
    moved = await client.patch(
        settings, json={"timezone": AHEAD}, headers={**ws.headers, "If-Match": etag}
    )
    assert moved.status_code == 200, moved.text
    prog = await programme(client, ws)
    today = datetime.now(ZoneInfo(AHEAD)).date()

    lesson = await make(client, ws, "lessons", {"programme_id": prog["id"], "title": "Today"})
    assert lesson["raised_on"] == str(today)
    # Kiritimati's today is a day that has come there, though not yet in UTC.
    on_today = await make(
        client, ws, "lessons", {"programme_id": prog["id"], "title": "T", "raised_on": str(today)}
    )
    assert on_today["raised_on"] == str(today)

    tomorrow = str(today + timedelta(days=1))
    future = await client.post(
        url(ws, "lessons"),
        json={"programme_id": prog["id"], "title": "Tomorrow", "raised_on": tomorrow},
        headers=ws.headers,
    )
    assert future.status_code == 422, future.text
    assert future.headers["content-type"].startswith("application/problem+json")
    error = future.json()["errors"][0]
    assert error["field"] == "raised_on" and str(today) in error["message"]

    moved_on = await change(client, ws, "lessons", lesson, {"raised_on": tomorrow})
    assert moved_on.status_code == 422
    assert moved_on.json()["errors"][0]["field"] == "raised_on"
    cleared = await change(client, ws, "lessons", lesson, {"raised_on": None})
    assert cleared.status_code == 422  # a lesson always has its day
    assert cleared.json()["errors"][0]["field"] == "raised_on"
    earlier = await change(client, ws, "lessons", lesson, {"raised_on": "2025-06-30"})
    assert earlier.status_code == 200 and earlier.json()["raised_on"] == "2025-06-30"


async def test_bad_lessons_are_refused_naming_the_field(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    other = await programme(client, ws, "Other")
    theirs = await make(client, ws, "projects", {"programme_id": other["id"], "name": "Theirs"})
    base = {"programme_id": prog["id"], "title": "Lesson"}
    cases: list[tuple[dict[str, Any], str, str | None]] = [
        ({"title": "No programme"}, "programme_id", "required"),
        ({"programme_id": prog["id"]}, "title", "required"),
        ({**base, "title": "   "}, "title", None),
        ({**base, "kind": "neutral"}, "kind", None),
        ({**base, "state": "archived"}, "state", None),
        ({**base, "category": "x" * 101}, "category", None),
        ({**base, "lesson": "unknown field"}, "lesson", "not a field here"),
        ({**base, "raised_on": "yesterday"}, "raised_on", None),
        ({**base, "programme_id": str(uuid.uuid4())}, "programme_id", None),
        ({**base, "project_id": str(uuid.uuid4())}, "project_id", None),
        ({**base, "project_id": theirs["id"]}, "project_id", "the project belongs to another"),
        ({**base, "raised_by_id": str(uuid.uuid4())}, "raised_by_id", "not a member"),
        ({**base, "owner_id": str(uuid.uuid4())}, "owner_id", "not a member"),
        ({**base, "owner_role_id": str(uuid.uuid4())}, "owner_role_id", None),
        ({**base, "custom_fields": {"theme": "x"}}, "custom_fields.theme", None),
    ]
    for body, field, message in cases:
        response = await client.post(url(ws, "lessons"), json=body, headers=ws.headers)
        assert response.status_code == 422, (body, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        errors = response.json()["errors"]
        assert [e["field"] for e in errors] == [field], (body, errors)
        if message is not None:
            assert errors[0]["message"].startswith(message), (body, errors)
    assert await titles(client, ws) == []

    lesson = await make(client, ws, "lessons", base)
    moved = await change(client, ws, "lessons", lesson, {"project_id": theirs["id"]})
    assert moved.status_code == 422
    assert moved.json()["errors"][0]["field"] == "project_id"
    renamed = await change(client, ws, "lessons", lesson, {"programme_id": other["id"]})
    assert renamed.status_code == 422  # a lesson stays in its programme
    assert renamed.json()["errors"][0]["field"] == "programme_id"


async def test_a_programme_takes_its_lessons_and_a_project_with_lessons_is_kept(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    project = await make(client, ws, "projects", {"programme_id": prog["id"], "name": "CRM"})
    lesson = await make(
        client,
        ws,
        "lessons",
        {"programme_id": prog["id"], "project_id": project["id"], "title": "Plan cut-over"},
    )

    kept = await client.delete(url(ws, f"projects/{project['id']}"), headers=ws.headers)
    assert kept.status_code == 409, kept.text
    assert "lessons" in kept.json()["detail"]
    moved = await change(client, ws, "lessons", lesson, {"project_id": None})
    assert moved.status_code == 200
    gone = await client.delete(url(ws, f"projects/{project['id']}"), headers=ws.headers)
    assert gone.status_code == 204, gone.text

    project = await make(client, ws, "projects", {"programme_id": prog["id"], "name": "ERP"})
    await make(
        client,
        ws,
        "lessons",
        {"programme_id": prog["id"], "project_id": project["id"], "title": "Train early"},
    )
    deleted = await client.delete(url(ws, f"programmes/{prog['id']}"), headers=ws.headers)
    assert deleted.status_code == 204, deleted.text
    assert await titles(client, ws) == []
    lesson_path = url(ws, f"lessons/{lesson['id']}")
    assert (await client.get(lesson_path, headers=ws.headers)).status_code == 404


async def test_a_packs_custom_fields_on_lessons_are_filled_filtered_and_exported(
    client: Client, make_workspace: MakeWorkspace, database: Database, shipped_catalogue: None
) -> None:
    ws = await make_workspace()
    await seed(database, ws.tenant_id, "msp-governance", None, {"start_date": "2027-01-04"})
    fields = await client.get(
        url(ws, "custom-fields"), params={"register": "lessons"}, headers=ws.headers
    )
    assert [(f["key"], f["label"]) for f in fields.json()["items"]] == [("lesson-theme", "Theme")]
    prog = (await client.get(url(ws, "programmes"), headers=ws.headers)).json()["items"][0]

    for title, theme in (("Vendor lock-in", "supplier"), ("Board churn", "governance")):
        await make(
            client,
            ws,
            "lessons",
            {
                "programme_id": prog["id"],
                "title": title,
                "raised_on": "2026-09-01",
                "custom_fields": {"lesson-theme": theme},
            },
        )
    await make(client, ws, "lessons", {"programme_id": prog["id"], "title": "=HYPERLINK(1)"})
    off_list = await client.post(
        url(ws, "lessons"),
        json={
            "programme_id": prog["id"],
            "title": "T",
            "custom_fields": {"lesson-theme": "weather"},
        },
        headers=ws.headers,
    )
    assert off_list.status_code == 422
    assert off_list.json()["errors"][0]["field"] == "custom_fields.lesson-theme"

    assert await titles(client, ws, custom="lesson-theme=supplier") == ["Vendor lock-in"]
    undefined = await client.get(
        url(ws, "lessons"), params={"custom": "mood=good"}, headers=ws.headers
    )
    assert undefined.status_code == 422

    rows = await csv_of(client, ws, sort="title")
    assert list(rows[0])[-1] == "Theme"  # the custom field, after the list's fields
    assert [(r["title"], r["Theme"]) for r in rows] == [
        ("'=HYPERLINK(1)", ""),  # text never becomes a formula
        ("Board churn", "governance"),
        ("Vendor lock-in", "supplier"),
    ]
    assert {"what_happened", "recommendation", "kind", "raised_on", "state"} <= set(rows[0])
    assert "custom_fields" not in rows[0]
    filtered = await csv_of(client, ws, custom="lesson-theme=governance")
    assert [r["title"] for r in filtered] == ["Board churn"]

    xlsx = await client.get(
        url(ws, "lessons/export.xlsx"), params={"kind": "negative"}, headers=ws.headers
    )
    assert xlsx.status_code == 200, xlsx.text
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None
    values = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert values[0][-1] == "Theme" and len(values) == 4


async def test_another_workspaces_token_finds_no_lessons(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    a, b = await make_workspace(), await make_workspace()
    prog = await programme(client, b)
    lesson = await make(client, b, "lessons", {"programme_id": prog["id"], "title": "B only"})
    for slug in (a.slug, b.slug):  # B's id on A's path; A's token on B's path
        path = f"/api/v1/w/{slug}/lessons/{lesson['id']}"
        for method, body in (("GET", None), ("PATCH", {"title": "stolen"}), ("DELETE", None)):
            response = await client.request(
                method, path, json=body, headers={**a.headers, "If-Match": '"1"'}
            )
            assert response.status_code == 404, (method, slug, response.text)
            assert "B only" not in response.text
    planted = await client.post(
        url(a, "lessons"), json={"programme_id": prog["id"], "title": "p"}, headers=a.headers
    )
    assert planted.status_code == 422
    assert planted.json()["errors"][0]["field"] == "programme_id"
    assert await titles(client, a) == []
    assert "B only" not in (await client.get(url(a, "lessons/export.csv"), headers=a.headers)).text
    assert (await client.get(url(b, f"lessons/{lesson['id']}"), headers=b.headers)).json() == lesson


async def test_a_day_is_checked_when_written_not_when_another_field_changes(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    """Lessons and issues the server dated on a workspace's today: moved to a time zone a day
    behind, that day is after the new today, and an edit of another field still goes through;
    a day sent is checked."""
    ws = await make_workspace()
    settings = f"/api/v1/w/{ws.slug}/settings"

    async def move_to(zone: str) -> None:
        etag = (await client.get(settings, headers=ws.headers)).headers["etag"]
        moved = await client.patch(
            settings, json={"timezone": zone}, headers={**ws.headers, "If-Match": etag}
        )
        assert moved.status_code == 200, moved.text

    await move_to(AHEAD)
    prog = await programme(client, ws)
    rows = {
        register: await make(client, ws, register, {"programme_id": prog["id"], "title": "T"})
        for register in ("lessons", "issues")
    }
    await move_to(BEHIND)  # 25 hours behind: its today is before the rows' day
    today_there = datetime.now(ZoneInfo(BEHIND)).date()

    for register, row in rows.items():
        assert row["raised_on"] > str(today_there)
        edited = await change(client, ws, register, row, {"title": "Retitled"})
        assert edited.status_code == 200, (register, edited.text)
        assert edited.json()["raised_on"] == row["raised_on"]
        sent = await change(client, ws, register, edited.json(), {"raised_on": row["raised_on"]})
        assert sent.status_code == 422, (register, sent.text)
        assert sent.json()["errors"][0]["field"] == "raised_on"
