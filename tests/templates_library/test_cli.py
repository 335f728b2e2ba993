"""`pmo templates validate` prints problems as file:line and sets the exit code."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result

from templates_library.cli import templates_group
from tests.templates_library.conftest import PackWriter, line_matching
from tests.tiny_pack import PackData


def test_validate_shipped_packs_exits_zero() -> None:
    result = CliRunner().invoke(templates_group, ["validate"])

    assert result.exit_code == 0, result.output
    assert result.output.startswith("ok: 0 problem(s)")


def test_validate_says_it_does_not_check_against_the_published_versions(
    write_pack: PackWriter,
) -> None:
    # 1.1.0 alone in its folder, dropping a choice sync would refuse against a published 1.0.0.
    def dropping_weekly(v: PackData) -> None:
        v["version"] = "1.1.0"
        v["parameters"][2]["choices"] = ["monthly", "quarterly"]

    path = write_pack(dropping_weekly, file_name="1.1.0.yaml")

    result = CliRunner().invoke(templates_group, ["validate", str(path.parent)])

    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == (
        "not checked: the versions already published (pmo templates sync checks a version "
        "against them too, and may refuse it)"
    )


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


def _validate(path: Path) -> Result:
    return CliRunner().invoke(templates_group, ["validate", str(path)])


def test_an_unquoted_colon_in_text_gets_a_hint_to_quote_it(write_pack: PackWriter) -> None:
    path = write_pack()
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("- First release.", "- Scope: first release"), encoding="utf-8")

    result = _validate(path)

    assert result.exit_code == 1
    line = line_matching(path, r"Scope: first release")
    assert (
        f"{path}:{line}: changes[0]: expected text, got a mapping: "
        'a `: ` in unquoted text starts one, so quote the text ("…")'
    ) in result.output
    assert "Expected `str`" not in result.output


def test_a_version_written_as_a_number_gets_the_file_name_check(write_pack: PackWriter) -> None:
    path = write_pack(lambda data: data.update(version=1.2), file_name="1.2.yaml")
    later = write_pack(lambda data: data.update(version=1.10), file_name="1.10.0.yaml")
    text = later.read_text(encoding="utf-8")
    later.write_text(text.replace("version: 1.1\n", "version: 1.10\n"), encoding="utf-8")

    result = _validate(path.parent)

    assert result.exit_code == 1
    assert f"{path}:1: version: file name `1.2` is not a semantic version (e.g. 1.0.0)" in (
        result.output
    )
    assert f"{later}:1: version: version `1.10` differs from file name `1.10.0`" in result.output
    assert "float" not in result.output


def test_a_yml_version_file_is_named_not_ignored(write_pack: PackWriter) -> None:
    path = write_pack(lambda data: data.update(version="1.2.0"), file_name="1.2.0.yml")

    result = _validate(path.parent)

    assert result.exit_code == 1
    assert (
        f"{path}:1: (document): version files end in .yaml: rename it to 1.2.0.yaml"
    ) in result.output

    alone = _validate(path)

    assert alone.exit_code == 1
    assert alone.output.splitlines()[0] == (
        f"{path}:1: (document): version files end in .yaml: rename it to 1.2.0.yaml"
    )
