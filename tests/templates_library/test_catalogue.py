"""`pmo templates sync / list / show / diff` against a real catalogue in PostgreSQL."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner, Result
from psycopg import errors

from services.catalogue.service import version_key
from services.config import Settings
from services.db.bootstrap import libpq_url
from services.db.engine import Database
from templates_library import catalogue as bridge
from templates_library.cli import parse_reference, templates_group
from templates_library.export import as_document
from templates_library.loader import (
    PACKS_DIR,
    load_library,
    load_pack,
    load_version_file,
    semver_order,
)
from tests.templates_library.conftest import MANIFEST, PackData, PackWriter

pytestmark = pytest.mark.usefixtures("database")


def _env(settings: Settings) -> dict[str, str]:
    assert settings.database_url is not None
    return {"PMO_DATABASE_URL": settings.database_url, "PMO_LOG_LEVEL": "WARNING"}


def run(settings: Settings, *args: str) -> Result:
    return CliRunner(env=_env(settings)).invoke(templates_group, list(args))


@pytest.fixture
def pack_key() -> str:
    return f"tiny-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def write(write_pack: PackWriter, pack_key: str) -> PackWriter:
    """The tiny pack under a key of its own (the catalogue is shared by the whole session)."""

    def write_version(change: object = None, **kwargs: object) -> Path:
        return write_pack(change, folder=pack_key, manifest={**MANIFEST, "key": pack_key}, **kwargs)

    return write_version


def _published(settings: Settings, key: str) -> list[tuple[str, str]]:
    assert settings.database_url is not None
    with psycopg.connect(libpq_url(settings.database_url)) as conn:
        rows = conn.execute(
            "SELECT v.version, v.content_hash FROM control.template_versions v "
            "JOIN control.template_packs p ON p.id = v.pack_id WHERE p.key = %s ORDER BY 1",
            (key,),
        ).fetchall()
    return [(str(version), str(digest)) for version, digest in rows]


def _bump(data: PackData, version: str = "1.1.0") -> None:
    data["version"] = version
    data["boards"][0]["cadence"] = "fortnightly"


# --- sync ----------------------------------------------------------------------------------------


def test_sync_publishes_new_versions_once(
    settings: Settings, write: PackWriter, pack_key: str
) -> None:
    path = write()

    first = run(settings, "sync", "--path", str(path.parent.parent))
    again = run(settings, "sync", "--path", str(path.parent.parent))

    assert first.exit_code == 0, first.output
    assert f"published  {pack_key} 1.0.0  ({pack_key}/1.0.0.yaml, sha256 " in first.output
    assert "1 version(s) published, 0 unchanged, 0 problem(s)" in first.output
    assert again.exit_code == 0, again.output
    assert f"unchanged  {pack_key} 1.0.0" in again.output
    ((version, digest),) = _published(settings, pack_key)
    assert version == "1.0.0"
    loaded = load_version_file(path)
    assert loaded.version is not None
    assert digest == bridge.content_hash(loaded.version)


def test_reformatting_a_published_file_is_not_a_change(
    settings: Settings, write: PackWriter, pack_key: str
) -> None:
    path = write()
    assert run(settings, "sync", "--path", str(path.parent.parent)).exit_code == 0
    # Same content: comments, flow style, quoting, and a default spelled out.
    text = path.read_text(encoding="utf-8").replace("cadence: monthly", "cadence: 'monthly'  # ToR")
    path.write_text(
        "# Reviewed by the PMO lead.\n"
        + text.replace("duration_days: 100", "duration_days: 100\n  level: programme")
    )

    result = run(settings, "sync", "--path", str(path.parent.parent))

    assert result.exit_code == 0, result.output
    assert f"unchanged  {pack_key} 1.0.0" in result.output


def test_changing_a_published_version_is_refused_and_nothing_is_synced(
    settings: Settings, write: PackWriter, write_pack: PackWriter, pack_key: str
) -> None:
    path = write()
    assert run(settings, "sync", "--path", str(path.parent.parent)).exit_code == 0
    before = _published(settings, pack_key)
    # In the same sync: a new version of this pack, a new pack, and an edit to a released file.
    write(_bump, file_name="1.1.0.yaml")
    other = f"other-{uuid.uuid4().hex[:8]}"
    write_pack(folder=other, manifest={**MANIFEST, "key": other})
    path.write_text(path.read_text(encoding="utf-8").replace("Directs the programme.", "Runs it."))

    result = run(settings, "sync", "--path", str(path.parent.parent))

    assert result.exit_code == 1
    assert "nothing was synced" in result.output
    assert f"{pack_key} 1.0.0 was published from {pack_key}/1.0.0.yaml" in result.output
    assert f"but {pack_key}/1.0.0.yaml now differs" in result.output
    assert result.output.count("publish the change as a new version") == 1, result.output
    assert result.output.count("now differs") == 1, result.output
    assert _published(settings, pack_key) == before
    assert _published(settings, other) == []


def test_invalid_versions_are_left_out_and_reported(
    settings: Settings, write: PackWriter, pack_key: str
) -> None:
    path = write()

    def broken(data: PackData) -> None:
        _bump(data)
        data["gates"][0]["board"] = "steering"

    write(broken, file_name="1.1.0.yaml")

    result = run(settings, "sync", "--path", str(path.parent.parent))

    assert result.exit_code == 1
    assert "1.1.0.yaml" in result.output and "no board with key `steering`" in result.output
    assert [version for version, _ in _published(settings, pack_key)] == ["1.0.0"]


def _drops_a_choice(data: PackData) -> None:
    """1.1.0, dropping a choice of a parameter that workspaces on 1.0.0 may have chosen."""
    _bump(data)
    data["parameters"][2]["choices"] = ["monthly", "quarterly"]


@pytest.mark.parametrize("earlier", ["in the folder", "published, its file gone"])
def test_a_version_workspaces_on_an_earlier_one_could_not_move_to_is_not_published(
    settings: Settings, write: PackWriter, pack_key: str, earlier: str
) -> None:
    path = write()
    if earlier != "in the folder":
        assert run(settings, "sync", "--path", str(path.parent.parent)).exit_code == 0
        path.unlink()  # released: its file may leave the folder, the version stays published
    write(_drops_a_choice, file_name="1.1.0.yaml")

    result = run(settings, "sync", "--path", str(path.parent.parent))

    assert result.exit_code == 1, result.output
    assert (
        "1.1.0.yaml" in result.output
        and "`reporting_cadence` drops `weekly`, a choice in 1.0.0" in result.output
    )
    assert [version for version, _ in _published(settings, pack_key)] == ["1.0.0"]


def test_a_stray_yml_file_is_named_and_the_versions_beside_it_are_published(
    settings: Settings, write: PackWriter, pack_key: str
) -> None:
    path = write()
    write(_bump, file_name="1.1.0.yml")

    result = run(settings, "sync", "--path", str(path.parent.parent))

    assert result.exit_code == 1, result.output
    assert "version files end in .yaml: rename it to 1.1.0.yaml" in result.output
    assert [version for version, _ in _published(settings, pack_key)] == ["1.0.0"]


def test_the_application_role_cannot_rewrite_a_published_version(
    settings: Settings, write: PackWriter, pack_key: str
) -> None:
    path = write()
    assert run(settings, "sync", "--path", str(path.parent.parent)).exit_code == 0
    assert settings.database_url is not None
    with psycopg.connect(libpq_url(settings.database_url)) as conn:
        for statement in (
            "UPDATE control.template_versions SET content = '{}'::jsonb",
            "DELETE FROM control.template_versions",
        ):
            with pytest.raises(errors.InsufficientPrivilege):
                conn.execute(statement)
            conn.rollback()


def test_shipped_packs_sync_and_stay_unchanged(settings: Settings) -> None:
    first = run(settings, "sync")
    again = run(settings, "sync")

    assert first.exit_code == 0, first.output
    assert again.exit_code == 0, again.output
    shipped = sum(len(pack.versions) for pack in load_library())
    assert f"0 version(s) published, {shipped} unchanged, 0 problem(s)" in again.output


# --- list, show, diff ----------------------------------------------------------------------------


def test_list_show_and_diff(settings: Settings, write: PackWriter, pack_key: str) -> None:
    path = write()
    write(_bump, file_name="1.1.0.yaml")
    assert run(settings, "sync", "--path", str(path.parent.parent)).exit_code == 0

    listed = run(settings, "list")
    shown = run(settings, "show", pack_key)
    older = run(settings, "show", f"{pack_key}@1.0.0", "--items")
    diff = run(settings, "diff", f"{pack_key}@1.0.0", f"{pack_key}@1.1.0")

    assert listed.exit_code == 0, listed.output
    row = next(line for line in listed.output.splitlines() if line.startswith(pack_key))
    assert row.split()[:4] == [pack_key, "1.1.0", "1.0.0,", "1.1.0"]
    assert shown.exit_code == 0, shown.output
    assert shown.output.startswith(f"{pack_key} 1.1.0 (latest): Tiny pack")
    assert "start_date" in shown.output and "(required)" in shown.output
    assert older.output.startswith(f"{pack_key} 1.0.0: Tiny pack")
    assert "  gate_criterion gate/criterion-5" in older.output
    assert diff.exit_code == 0, diff.output
    assert diff.output.splitlines()[0] == (
        f"{pack_key} 1.0.0 → {pack_key} 1.1.0: 0 added, 0 removed, 1 changed, 50 unchanged"
    )
    assert "  ~ board board" in diff.output
    assert '      cadence: "monthly" → "fortnightly"' in diff.output


def test_shipped_diff_names_added_removed_and_changed_items(settings: Settings) -> None:
    assert run(settings, "sync").exit_code == 0

    result = run(settings, "diff", "project-pmo-light@1.0.0", "project-pmo-light@1.1.0")

    assert result.exit_code == 0, result.output
    assert "1 added, 1 removed, 3 changed" in result.output.splitlines()[0]
    assert (
        '  + risk personal-data: "Personal data handled without a privacy assessment"'
        in result.output
    )
    assert '  - issue environment-delay: "Test environment not yet provisioned"' in result.output
    assert "  ~ gate_criterion end-of-initiation/plan-baselined" in result.output


def test_diff_compares_versions_of_one_pack_only(settings: Settings) -> None:
    result = run(settings, "diff", "project-pmo-light@1.0.0", "msp-governance@1.1.0")

    assert result.exit_code == 2, result.output
    assert result.output == (
        "error: diff compares two versions of one pack, not project-pmo-light and msp-governance\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["show", "no-such-pack"], "No template pack 'no-such-pack'."),
        (
            ["show", "project-pmo-light@9.9.9"],
            "has no version '9.9.9' (it has 1.0.0, 1.1.0, 1.2.0)",
        ),
        (["diff", "project-pmo-light@1.0.0", "project-pmo-light@2.0.0"], "no version '2.0.0'"),
    ],
)
def test_unknown_packs_and_versions_are_one_line_errors(
    settings: Settings, args: list[str], message: str
) -> None:
    assert run(settings, "sync").exit_code == 0

    result = run(settings, *args)

    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output


def test_references_parse_as_key_and_optional_version() -> None:
    assert parse_reference("msp-governance") == ("msp-governance", None)
    assert parse_reference("msp-governance@1.1.0") == ("msp-governance", "1.1.0")


# --- pure pieces ---------------------------------------------------------------------------------


def test_catalogue_version_order_agrees_with_the_loader() -> None:
    versions = ["1.10.0", "1.2.0", "1.2.0-rc.1", "1.2.0-rc.10", "1.2.0-beta", "0.9.1", "2.0.0", "x"]

    assert sorted(versions, key=version_key) == sorted(versions, key=semver_order)
    assert sorted(versions, key=version_key)[-3:] == ["1.2.0", "1.10.0", "2.0.0"]


def test_content_hash_ignores_form_but_not_content() -> None:
    pack = load_pack(PACKS_DIR / "project-pmo-light")
    first, second = (loaded.version for loaded in pack.versions[:2])
    assert first is not None and second is not None

    assert bridge.content_hash(first) != bridge.content_hash(second)
    assert len(bridge.content_hash(first)) == 64
    canonical = json.loads(bridge.canonical_content(first))
    assert list(canonical) == sorted(canonical)
    assert canonical == as_document(first)  # defaults left out


async def test_published_content_reads_back_as_the_same_version(
    database: Database, write: PackWriter, pack_key: str
) -> None:
    path = write()
    packs = [load_pack(path.parent)]
    async with database.transaction() as session:
        report = await bridge.sync(session, packs, path.parent.parent)
    assert [r.outcome.value for r in report.results] == ["published"]

    async with database.transaction() as session:
        _, row, version = await bridge.published_version(session, pack_key)

    assert version == packs[0].versions[0].version
    assert row.content_hash == bridge.content_hash(version)
