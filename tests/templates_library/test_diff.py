"""What changed between two versions of a pack: items, and parameters with what they change."""

from __future__ import annotations

from templates_library.diff import diff_versions, render_diff
from tests.tiny_pack import PackData, tiny_version


def _fortnightly_by_default(data: PackData) -> None:
    data["version"] = "1.1.0"
    cadence = data["parameters"][2]
    cadence.update(default="fortnightly", choices=["weekly", "fortnightly", "monthly"])


def test_a_changed_parameter_default_shows_with_the_items_it_changes() -> None:
    diff = diff_versions(tiny_version(), tiny_version(_fortnightly_by_default))

    text = render_diff(diff, title="tiny 1.0.0 → 1.1.0")

    assert text.splitlines()[0] == (
        "tiny 1.0.0 → 1.1.0: 1 parameter(s) changed; 0 added, 0 removed, 1 changed, 50 unchanged"
    )
    assert "parameters (1):" in text
    assert "  ~ reporting_cadence" in text
    assert '      default: "monthly" → "fortnightly"' in text
    assert '      choices: ["weekly","monthly"] → ["weekly","fortnightly","monthly"]' in text
    assert "  ~ status_report highlight" in text
    assert (
        '      cadence: "monthly" → "fortnightly" (through parameter `reporting_cadence`)'
    ) in text


def test_added_and_removed_parameters_are_listed() -> None:
    def swap(data: PackData) -> None:
        data["version"] = "1.1.0"
        del data["parameters"][2]
        data["status_reports"][0]["cadence"] = "monthly"
        data["parameters"].append(
            {"key": "currency", "type": "text", "default": "GBP", "description": "Money."}
        )

    text = render_diff(diff_versions(tiny_version(), tiny_version(swap)), title="t")

    assert '  + currency: text, default "GBP"' in text
    assert '  - reporting_cadence: choice, default "monthly"' in text
    # Written out now, a parameter before: workspaces seeded weekly change.
    assert '      cadence: "{reporting_cadence}" → "monthly"' in text


def test_a_text_change_shows_as_written_with_its_parameters() -> None:
    def renamed(data: PackData) -> None:
        data["version"] = "1.1.0"
        data["programmes"][0]["title"] = "{programme_name} programme"

    text = render_diff(diff_versions(tiny_version(), tiny_version(renamed)), title="t")

    assert '      title: "{programme_name}" → "{programme_name} programme"' in text
    assert "parameters" not in text


def test_same_versions_show_nothing_changed() -> None:
    text = render_diff(diff_versions(tiny_version(), tiny_version()), title="t")

    assert text == "t: 0 added, 0 removed, 0 changed, 51 unchanged"
