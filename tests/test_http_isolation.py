"""Over HTTP, one workspace's caller never reaches another's data: every id swapped → 404."""

from __future__ import annotations

import re
import uuid

from litestar import Litestar
from litestar.testing import AsyncTestClient

from services.db.engine import Database
from services.identity import service as identity
from services.identity.models import Role
from templates_library.items import seed_items, stable_id
from templates_library.seeding import seed
from tests.conftest import MakeWorkspace, PublishPack, Workspace
from tests.tiny_pack import tiny_version

Client = AsyncTestClient[Litestar]


async def test_tenant_a_token_gets_404_for_every_tenant_b_resource(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    a, b = await make_workspace(), await make_workspace()
    b_programme = (
        await client.post(b.programmes, json={"name": "B only"}, headers=b.headers)
    ).json()
    b_id = b_programme["id"]

    # A's token against A's workspace path, with B's programme id.
    attempts = [
        ("GET", f"{a.programmes}/{b_id}", None),
        ("PATCH", f"{a.programmes}/{b_id}", {"name": "stolen"}),
        ("DELETE", f"{a.programmes}/{b_id}", None),
        # A's token against B's workspace path.
        ("GET", b.programmes, None),
        ("POST", b.programmes, {"name": "planted"}),
        ("GET", f"{b.programmes}/{b_id}", None),
        ("PATCH", f"{b.programmes}/{b_id}", {"name": "stolen"}),
        ("DELETE", f"{b.programmes}/{b_id}", None),
    ]
    for method, url, body in attempts:
        response = await client.request(
            method, url, json=body, headers={**a.headers, "If-Match": '"1"'}
        )
        assert response.status_code == 404, (method, url, response.text)
        assert response.json()["code"] == "not-found"
        assert "B only" not in response.text

    untouched = await client.get(f"{b.programmes}/{b_id}", headers=b.headers)
    assert untouched.json() == b_programme
    b_list = await client.get(b.programmes, headers=b.headers)
    assert b_list.json()["total"] == 1


async def test_lists_never_include_another_tenants_rows(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    a, b = await make_workspace(), await make_workspace()
    for i in range(3):
        await client.post(b.programmes, json={"name": f"B {i}"}, headers=b.headers)
    await client.post(a.programmes, json={"name": "A 0"}, headers=a.headers)
    listed = await client.get(a.programmes, params={"limit": 200}, headers=a.headers)
    assert [p["name"] for p in listed.json()["items"]] == ["A 0"]
    assert listed.json()["total"] == 1


async def test_a_token_bound_to_one_workspace_cannot_open_another_of_its_users(
    client: Client, make_workspace: MakeWorkspace, database: Database
) -> None:
    a = await make_workspace(token_tenant_bound=True)
    b = await make_workspace()
    async with database.transaction() as session:
        # The same person is also a member of B, but this token was issued for A only.
        await identity.grant_membership(session, a.user_id, b.tenant_id, Role.OWNER)
    assert (await client.get(a.programmes, headers=a.headers)).status_code == 200
    assert (await client.get(b.programmes, headers=a.headers)).status_code == 404


async def test_revoked_and_expired_tokens_stop_working(
    client: Client, make_workspace: MakeWorkspace, database: Database
) -> None:
    from datetime import timedelta

    from services.db.base import utcnow

    ws = await make_workspace()
    assert (await client.get(ws.programmes, headers=ws.headers)).status_code == 200
    async with database.transaction() as session:
        await identity.revoke_token(session, ws.token_id)
    assert (await client.get(ws.programmes, headers=ws.headers)).status_code == 401

    short = await make_workspace(expires_in=timedelta(seconds=30))
    assert (await client.get(short.programmes, headers=short.headers)).status_code == 200
    async with database.session() as session:
        later = utcnow() + timedelta(minutes=1)
        assert await identity.authenticate(session, short.token, now=later) is None


async def _tenant_world(client: Client, ws: Workspace) -> dict[str, str]:
    """One of every workspace resource in ``ws``; returns register path → id."""

    async def make(path: str, body: dict[str, object]) -> str:
        response = await client.post(f"/api/v1/w/{ws.slug}/{path}", json=body, headers=ws.headers)
        assert response.status_code == 201, (path, response.text)
        return str(response.json()["id"])

    ids: dict[str, str] = {}
    ids["programmes"] = prog = await make("programmes", {"name": "B only"})
    ids["tranches"] = await make("tranches", {"programme_id": prog, "name": "B only"})
    ids["projects"] = project = await make("projects", {"programme_id": prog, "name": "B only"})
    ids["milestones"] = await make(
        "milestones", {"programme_id": prog, "title": "B only", "baseline_date": "2027-01-01"}
    )
    ids["benefits"] = await make(
        "benefits", {"programme_id": prog, "title": "B only", "classification": "non_cash"}
    )
    ids["risks"] = await make(
        "risks",
        {"programme_id": prog, "title": "B only", "inherent_probability": 2, "inherent_impact": 2},
    )
    ids["issues"] = await make("issues", {"programme_id": prog, "title": "B only"})
    ids["assumptions"] = await make("assumptions", {"programme_id": prog, "statement": "B only"})
    ids["dependencies"] = await make(
        "dependencies",
        {
            "programme_id": prog,
            "title": "B only",
            "from_project_id": project,
            "to_milestone_id": ids["milestones"],
        },
    )
    ids["boards"] = board = await make(
        "boards",
        {
            "programme_id": prog,
            "name": "B only",
            "members": [{"role_title": "SRO", "user_id": str(ws.user_id)}],
        },
    )
    ids["meetings"] = await make(
        "meetings", {"board_id": board, "title": "B only", "held_on": "2027-01-01"}
    )
    ids["actions"] = await make("actions", {"programme_id": prog, "title": "B only"})
    ids["decisions"] = await make("decisions", {"programme_id": prog, "title": "B only"})
    ids["change-requests"] = await make(
        "change-requests", {"programme_id": prog, "title": "B only"}
    )
    ids["lessons"] = await make(
        "lessons", {"programme_id": prog, "project_id": project, "title": "B only"}
    )
    ids["stage-gates"] = await make(
        "stage-gates",
        {
            "programme_id": prog,
            "title": "B only",
            "board_id": board,
            "criteria": [{"text": "B only"}],
        },
    )
    ids["status-reports"] = await make(
        "status-reports",
        {
            "programme_id": prog,
            "period_start": "2027-01-01",
            "period_end": "2027-01-31",
            "summary": "B only",
        },
    )
    ids["custom-fields"] = await make(
        "custom-fields", {"register": "issues", "key": "b-only", "label": "B only", "type": "text"}
    )
    return ids


# Registers only a template pack fills (read-only over the API): path → (kind, item key).
SEEDED_REGISTERS = {
    "programme-roles": ("role", "sponsor"),
    "raci-entries": ("raci", "plan"),
    "stakeholders": ("stakeholder", "staff"),
    "programme-documents": ("document", "brief"),
    "checklists": ("checklist", "readiness"),
    "report-formats": ("status_report", "highlight"),
    "custom-registers": ("register", "log"),
    "custom-register-entries": ("register_entry", "log/entry"),
}


async def test_every_workspace_row_route_is_in_an_isolation_test(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    """A register added later is tried across workspaces only if it is in ``_tenant_world`` or
    ``SEEDED_REGISTERS``: an item route in neither fails here rather than going untried."""
    app = client.app
    item_route = re.compile(r"/api/v1/w/\{slug:str\}/([a-z-]+)/\{[a-z_]+:uuid\}")
    registers = {m.group(1) for r in app.routes if (m := item_route.fullmatch(r.path))}
    tried = set(await _tenant_world(client, await make_workspace())) | set(SEEDED_REGISTERS)
    assert registers, "no item routes found: has the path pattern changed?"
    assert registers - tried == set(), "add these to _tenant_world or SEEDED_REGISTERS"


async def test_every_seeded_register_of_tenant_b_is_not_found_for_tenant_a(
    client: Client, make_workspace: MakeWorkspace, database: Database, publish_pack: PublishPack
) -> None:
    a, b = await make_workspace(), await make_workspace()
    pack = await publish_pack()
    await seed(database, b.tenant_id, pack, "1.0.0", {"start_date": "2027-01-04"})
    await seed(database, a.tenant_id, pack, "1.0.0", {"start_date": "2027-01-04"})
    b_only = {"headers": {**a.headers, "If-Match": '"1"'}}

    for path, item in SEEDED_REGISTERS.items():
        if item is not None:
            b_row = stable_id(b.tenant_id, pack, *item)
            for slug in (a.slug, b.slug):  # B's ids on A's path; A's token on B's path
                found = await client.get(f"/api/v1/w/{slug}/{path}/{b_row}", **b_only)
                assert found.status_code == 404, (path, slug, found.text)
            mine = await client.get(f"/api/v1/w/{b.slug}/{path}/{b_row}", headers=b.headers)
            assert mine.status_code == 200, path
        listed = await client.get(f"/api/v1/w/{a.slug}/{path}", headers=a.headers)
        ids = {row["id"] for row in listed.json()["items"]}
        assert listed.status_code == 200 and ids, path
        assert all(uuid.UUID(i) not in _ids_of(b.tenant_id, pack) for i in ids), path
    for method, path, body in (
        ("GET", "template-pin", None),
        ("POST", "template-upgrades", {"apply": True}),
    ):
        response = await client.request(
            method, f"/api/v1/w/{b.slug}/{path}", json=body, headers=a.headers
        )
        assert response.status_code == 404, (method, path, response.text)
        assert pack not in response.text


def _ids_of(tenant_id: uuid.UUID, pack: str) -> set[uuid.UUID]:
    version = tiny_version()
    return {stable_id(tenant_id, pack, item.kind, item.key) for item in seed_items(version)}


async def test_every_workspace_resource_of_tenant_b_is_not_found_for_tenant_a(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    a, b = await make_workspace(), await make_workspace()
    ids = await _tenant_world(client, b)
    gate = ids["stage-gates"]
    criterion = (
        await client.get(f"/api/v1/w/{b.slug}/stage-gates/{gate}", headers=b.headers)
    ).json()["criteria"][0]["id"]
    prog, report, benefit = ids["programmes"], ids["status-reports"], ids["benefits"]
    actions = [
        ("GET", f"benefits/{benefit}/measurements", None),
        ("POST", f"benefits/{benefit}/measurements", {"measured_on": "2027-01-01", "value": 1}),
        ("GET", f"stage-gates/{gate}/decisions", None),
        (
            "POST",
            f"stage-gates/{gate}/decisions",
            {"decision": "hold", "decided_by_id": str(a.user_id)},
        ),
        ("POST", f"stage-gates/{gate}/criteria", {"text": "planted"}),
        ("PATCH", f"stage-gates/{gate}/criteria/{criterion}", {"note": "stolen"}),
        ("GET", f"status-reports/{report}/suggestion", None),
        ("POST", f"status-reports/{report}/publish", None),
        ("POST", f"status-reports/{report}/corrections", None),
        ("POST", f"change-requests/{ids['change-requests']}/decision", {"decision": "approved"}),
        ("GET", f"programmes/{prog}/dashboard", None),
        (
            "GET",
            f"programmes/{prog}/board-pack?period_start=2027-01-01&period_end=2027-12-31",
            None,
        ),
    ]
    attempts = [
        (method, f"{path}/{row_id}", body)
        for path, row_id in ids.items()
        for method, body in (("GET", None), ("PATCH", {}), ("DELETE", None))
    ] + actions
    for method, path, body in attempts:
        for slug in (a.slug, b.slug):  # B's ids on A's path; A's token on B's path
            response = await client.request(
                method,
                f"/api/v1/w/{slug}/{path}",
                json=body,
                headers={**a.headers, "If-Match": '"1"'},
            )
            assert response.status_code == 404, (method, slug, path, response.text)
            assert "B only" not in response.text

    # Pointing A's new rows at B's rows finds nothing to point at.
    planted = [
        ("tranches", {"programme_id": prog, "name": "planted"}),
        (
            "risks",
            {"programme_id": prog, "title": "p", "inherent_probability": 1, "inherent_impact": 1},
        ),
        ("meetings", {"board_id": ids["boards"], "title": "p", "held_on": "2027-01-01"}),
        ("lessons", {"programme_id": prog, "title": "p"}),
    ]
    for path, body in planted:
        response = await client.post(f"/api/v1/w/{a.slug}/{path}", json=body, headers=a.headers)
        assert response.status_code == 422, (path, response.text)

    for path in ids:
        listed = await client.get(
            f"/api/v1/w/{a.slug}/{path}", params={"limit": 200}, headers=a.headers
        )
        assert listed.status_code == 200, path
        assert listed.json()["total"] == 0, path
        exported = await client.get(f"/api/v1/w/{a.slug}/{path}/export.csv", headers=a.headers)
        assert "B only" not in exported.text, path
    graph = await client.get(f"/api/v1/w/{a.slug}/dependency-map", headers=a.headers)
    assert graph.json() == {"nodes": [], "edges": []}

    for path, row_id in ids.items():  # all still there for B
        mine = await client.get(f"/api/v1/w/{b.slug}/{path}/{row_id}", headers=b.headers)
        assert mine.status_code == 200, path
