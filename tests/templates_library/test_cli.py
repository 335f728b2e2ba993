"""`pmo templates validate` prints problems as file:line and sets the exit code."""

from __future__ import annotations

from click.testing import CliRunner

from templates_library.cli import templates_group
from tests.templates_library.conftest import PackWriter, line_matching


def test_validate_shipped_packs_exits_zero() -> None:
    result = CliRunner().invoke(templates_group, ["validate"])

    assert result.exit_code == 0, result.output
    assert result.output.startswith("ok: 0 problem(s)")


def test_validate_broken_pack_prints_file_and_line_and_exits_one(write_pack: PackWriter) -> None:
    path = write_pack(lambda data: data["gates"][0].update(board="steering"))

    result = CliRunner().invoke(templates_group, ["validate", str(path.parent)])

    assert result.exit_code == 1
    line = line_matching(path, r"board: steering")
    assert f"{path}:{line}: gates[0].board: no board with key `steering`" in result.output
    assert "FAILED: 1 problem(s)" in result.output


def test_validate_one_version_file(write_pack: PackWriter) -> None:
    path = write_pack()

    result = CliRunner().invoke(templates_group, ["validate", str(path)])

    assert result.exit_code == 0, result.output
    assert "1.0.0.yaml" in result.output


def test_validate_a_folder_of_packs(write_pack: PackWriter) -> None:
    path = write_pack()

    result = CliRunner().invoke(templates_group, ["validate", str(path.parent.parent)])

    assert result.exit_code == 0, result.output
    assert "1 pack(s), 1 version(s)" in result.output
