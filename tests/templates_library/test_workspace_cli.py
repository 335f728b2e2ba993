"""`pmo templates upgrade` and `pmo templates save` against real seeded workspaces."""

from __future__ import annotations

import asyncio
import copy
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import update

from services.config import Settings
from services.db.engine import Database
from services.workspace.raid.models import Risk
from templates_library.cli import templates_group
from templates_library.items import stable_id
from templates_library.loader import load_version_file
from templates_library.seeding import seed
from templates_library.validation import validate_version
from tests.conftest import (
    MakeWorkspace,
    PgServer,
    PublishPack,
    Workspace,
    failing_pin_moves,
    in_workspace,
)
from tests.tiny_pack import MANIFEST, PARAMS, VERSION, second_version, write_yaml


def run(settings: Settings, *args: str, cells: bool = True) -> Result:
    """The CLI as an operator runs it: on the test platform, every cell configured (unless
    ``cells=False``: the default cell only)."""
    assert settings.database_url is not None
    env = {"PMO_DATABASE_URL": settings.database_url, "PMO_LOG_LEVEL": "WARNING"}
    if cells:
        env["PMO_CELLS"] = ";".join(f"{name}={url}" for name, url in settings.cells.items())
    return CliRunner(env=env).invoke(templates_group, list(args))


@dataclass
class OnPack:
    pack: str
    untouched: Workspace
    edited: Workspace
    pinned_to_latest: Workspace


@pytest.fixture
async def on_pack(
    database: Database, make_workspace: MakeWorkspace, publish_pack: PublishPack
) -> OnPack:
    """Three workspaces on a fresh pack: one untouched, one whose client reworded a risk the
    new version changes, one already on the new version."""
    pack = await publish_pack(None, second_version)
    found = OnPack(pack, await make_workspace(), await make_workspace(), await make_workspace())
    for ws in (found.untouched, found.edited):
        await seed(database, ws.tenant_id, pack, "1.0.0", PARAMS)
    await seed(database, found.pinned_to_latest.tenant_id, pack, "1.1.0", PARAMS)
    async with in_workspace(database, found.edited.tenant_id) as session:
        await session.execute(
            update(Risk).where(Risk.source_item == "risk:threat").values(title="Ours now")
        )
    return found


def test_upgrading_one_workspace_shows_the_plan_and_applies_only_when_asked(
    settings: Settings, on_pack: OnPack
) -> None:
    slug, pack = on_pack.edited.slug, on_pack.pack

    dry = run(settings, "upgrade", "--tenant", slug, "--to", f"{pack}@1.1.0")
    applied = run(settings, "upgrade", "--tenant", slug, "--to", f"{pack}@1.1.0", "--apply")
    after = run(settings, "upgrade", "--tenant", slug, "--to", pack)

    assert dry.exit_code == 0, dry.output
    assert dry.output.startswith(f"{slug}: {pack} 1.0.0 → 1.1.0, plan (dry run; --apply")
    assert "conflict   1" in dry.output and "update     3" in dry.output
    assert "  ! risk threat: changed by the client and by the target version" in dry.output
    assert '"Supplier late"  "Ours now"' in dry.output  # base and theirs side by side
    assert applied.exit_code == 0, applied.output
    assert f"{slug}: {pack} 1.0.0 → 1.1.0, applied" in applied.output
    assert after.output.startswith(f"{slug}: {pack} 1.1.0 → 1.1.0")
    assert "unchanged  " in after.output and "conflict   0" in after.output


def test_upgrading_every_workspace_on_a_pack_prints_a_summary(
    settings: Settings, on_pack: OnPack
) -> None:
    pack = on_pack.pack

    dry = run(settings, "upgrade", "--all", "--to", f"{pack}@1.1.0")
    applied = run(settings, "upgrade", "--all", "--to", f"{pack}@1.1.0", "--apply")
    again = run(settings, "upgrade", "--all", "--to", f"{pack}@1.1.0", "--apply")

    assert dry.exit_code == 0, dry.output
    lines = dry.output.splitlines()
    assert lines[0].split() == [
        "tenant",
        "versions",
        "unchanged",
        "update",
        "add",
        "remove",
        "conflict",
        "kept",
        "result",
    ]
    rows = {line.split()[0]: line.split() for line in lines[2:4]}
    assert set(rows) == {on_pack.untouched.slug, on_pack.edited.slug}  # not the one on 1.1.0
    # tenant, "1.0.0 → 1.1.0", unchanged, then update, add, remove, conflict, kept, result
    assert rows[on_pack.untouched.slug][1:4] == ["1.0.0", "→", "1.1.0"]
    assert rows[on_pack.untouched.slug][5:] == ["4", "1", "2", "0", "0", "planned"]
    assert rows[on_pack.edited.slug][5:] == ["3", "1", "2", "1", "0", "planned"]
    assert f"  {on_pack.edited.slug}: risk threat" in dry.output
    assert "planned for 2 workspace(s), 0 failed, 1 conflict(s); --apply to apply" in dry.output
    assert applied.exit_code == 0, applied.output
    assert "applied to 2 workspace(s), 0 failed, 1 conflict(s)" in applied.output
    assert again.output.strip() == f"no live workspace on {pack} needs upgrading"


def test_upgrade_names_its_workspace_one_way(settings: Settings) -> None:
    both = run(settings, "upgrade", "--all", "--tenant", "x", "--to", "pack")
    neither = run(settings, "upgrade", "--to", "pack")
    unknown = run(settings, "upgrade", "--tenant", "no-such-workspace", "--to", "pack")

    assert both.exit_code == neither.exit_code == 2
    assert "give either --tenant SLUG or --all" in both.output
    assert unknown.exit_code == 1 and "No workspace 'no-such-workspace'" in unknown.output


def test_save_writes_a_pack_version_that_validates(
    settings: Settings, on_pack: OnPack, tmp_path: Path
) -> None:
    ws = on_pack.edited
    programme = stable_id(ws.tenant_id, on_pack.pack, "programme", "programme")
    target = ["--tenant", ws.slug, "--programme", str(programme), "--out", str(tmp_path)]

    saved = run(settings, "save", *target, "--as", "our-practice@3.0.0", "--change", "Ours.")
    twice = run(settings, "save", *target, "--as", "our-practice@3.0.0")

    assert saved.exit_code == 0, saved.output
    path = tmp_path / "our-practice" / "3.0.0.yaml"
    assert f"saved our-practice 3.0.0 to {path}" in saved.output
    assert "seed it with: programme_name=Harbour, start_date=2026-03-02" in saved.output
    loaded = load_version_file(path)
    assert validate_version(loaded) == []
    assert loaded.version is not None and loaded.version.changes == ["Ours."]
    assert any(risk.title == "Ours now" for risk in loaded.version.risks)
    assert (tmp_path / "our-practice" / "pack.yaml").exists()
    assert twice.exit_code == 1 and "exists; save as a new version" in twice.output


def test_a_workspace_that_fails_is_reported_and_the_others_are_upgraded(
    settings: Settings, on_pack: OnPack, pg_server: PgServer
) -> None:
    pack, failing = on_pack.pack, on_pack.edited

    with failing_pin_moves(pg_server, settings, failing.tenant_id):
        result = run(settings, "upgrade", "--all", "--to", f"{pack}@1.1.0", "--apply")
    after = run(settings, "upgrade", "--all", "--to", f"{pack}@1.1.0")

    assert result.exit_code == 1, result.output
    row = next(line for line in result.output.splitlines() if line.startswith(failing.slug))
    assert row.endswith("failed: injected failure")
    assert "applied to 1 workspace(s), 1 failed" in result.output
    # Only the failed one is left, whole, on 1.0.0.
    assert [line.split()[0] for line in after.output.splitlines()[2:3]] == [failing.slug]


async def test_a_cell_this_process_cannot_read_is_reported_and_the_others_are_upgraded(
    settings: Settings, on_pack: OnPack, database: Database, make_workspace: MakeWorkspace
) -> None:
    pack = on_pack.pack
    abroad = await make_workspace(cell="eu")
    await seed(database, abroad.tenant_id, pack, "1.0.0", PARAMS)

    result = await asyncio.to_thread(
        run, settings, "upgrade", "--all", "--to", f"{pack}@1.1.0", "--apply", cells=False
    )

    assert result.exit_code == 1, result.output
    rows = {line.split()[0]: line for line in result.output.splitlines() if line.strip()}
    assert rows[abroad.slug].endswith(
        "failed: not checked: cell 'eu' could not be read "
        "(this process has no URL for it (PMO_CELLS))"
    )
    for ws in (on_pack.untouched, on_pack.edited):
        assert rows[ws.slug].endswith("applied"), result.output
    after = await asyncio.to_thread(run, settings, "upgrade", "--all", "--to", f"{pack}@1.1.0")
    # With every cell configured, it is the one still to do.
    assert after.output.splitlines()[2].split()[0] == abroad.slug, after.output
    assert "planned for 1 workspace(s), 0 failed" in after.output


def _save_args(on_pack: OnPack, out: Path) -> list[str]:
    ws = on_pack.edited
    programme = stable_id(ws.tenant_id, on_pack.pack, "programme", "programme")
    return ["save", "--tenant", ws.slug, "--programme", str(programme), "--out", str(out)]


def _files_under(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*") if path.is_file())


@pytest.mark.parametrize(
    ("reference", "reasons"),
    [
        ("Bad Key@1.0", ["pack key `Bad Key` is not a key", "version `1.0` is not a semantic"]),
        ("UPPER@1.0.0", ["pack key `UPPER` is not a key"]),
        ("../escape@1.0.0", ["pack key `../escape` is not a key"]),
        ("our-practice@v2", ["version `v2` is not a semantic version"]),
    ],
)
def test_save_refuses_a_key_or_version_a_pack_cannot_have_and_writes_nothing(
    settings: Settings, on_pack: OnPack, tmp_path: Path, reference: str, reasons: list[str]
) -> None:
    out = tmp_path / "out"

    result = run(settings, *_save_args(on_pack, out), "--as", reference)

    assert result.exit_code == 2, result.output
    for reason in reasons:
        assert reason in result.output
    assert "saved" not in result.output
    assert not out.exists()
    assert not (tmp_path / "escape").exists()


def test_save_into_a_pack_whose_pack_yaml_names_another_pack_writes_nothing(
    settings: Settings, on_pack: OnPack, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    write_yaml(out / "our-practice" / "pack.yaml", {**MANIFEST, "key": "someone-else"})

    result = run(settings, *_save_args(on_pack, out), "--as", "our-practice@3.0.0")

    assert result.exit_code == 1, result.output
    assert "pack key `someone-else` differs from folder name `our-practice`" in result.output
    assert "saved" not in result.output
    assert _files_under(out) == [out / "our-practice" / "pack.yaml"]


def test_save_checks_the_new_version_against_the_versions_already_in_the_pack(
    settings: Settings, on_pack: OnPack, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    folder = out / "our-practice"
    earlier = copy.deepcopy(VERSION)
    earlier["parameters"][2]["choices"].append("quarterly")
    write_yaml(folder / "pack.yaml", {**MANIFEST, "key": "our-practice"})
    write_yaml(folder / "1.0.0.yaml", earlier)

    result = run(settings, *_save_args(on_pack, out), "--as", "our-practice@3.0.0")

    assert result.exit_code == 1, result.output
    assert "3.0.0.yaml" in result.output
    assert "parameter `reporting_cadence` drops `quarterly`, a choice in 1.0.0" in result.output
    assert _files_under(out) == [folder / "1.0.0.yaml", folder / "pack.yaml"]
