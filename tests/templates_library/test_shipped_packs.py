"""The packs we ship are valid, substantive, and versioned so upgrades mean something."""

from __future__ import annotations

import pytest

from templates_library.items import seed_items
from templates_library.loader import PACKS_DIR, LoadedPack, load_library, load_pack
from templates_library.schema import PackVersion
from templates_library.validation import validate_pack

REQUIRED_PACKS = {
    "msp-governance",
    "benefits-management",
    "transformation-tranches",
    "agile-pmo-safe",
    "p3o-portfolio-hub",
    "project-pmo-light",
    "stage-gate-investment",
}
SHIPPED = sorted(folder.name for folder in PACKS_DIR.iterdir() if folder.is_dir())


def _versions(pack: LoadedPack) -> list[PackVersion]:
    return [loaded.version for loaded in pack.versions if loaded.version is not None]


@pytest.mark.parametrize("key", SHIPPED)
def test_shipped_pack_has_no_problems(key: str) -> None:
    problems = validate_pack(load_pack(PACKS_DIR / key))

    assert problems == [], "\n".join(str(problem) for problem in problems)


def test_catalogue_ships_the_required_packs_and_at_least_eight() -> None:
    assert set(SHIPPED) >= REQUIRED_PACKS
    assert len(SHIPPED) >= 8
    assert {"regulatory-programme", "ma-integration", "recovery-health-check"} & set(SHIPPED)


@pytest.mark.parametrize("key", SHIPPED)
def test_shipped_pack_is_substantive(key: str) -> None:
    for version in _versions(load_pack(PACKS_DIR / key)):
        assert len(seed_items(version)) >= 70
        assert version.boards and version.risks and version.status_reports


def test_largest_pack_seeds_two_to_three_hundred_items() -> None:
    largest = max(len(seed_items(v)) for pack in load_library() for v in _versions(pack))

    assert 200 <= largest <= 300


def test_stage_gate_pack_has_five_gates_from_idea_to_benefits() -> None:
    (version,) = _versions(load_pack(PACKS_DIR / "stage-gate-investment"))

    assert [gate.key for gate in version.gates] == [
        "gate-1-idea",
        "gate-2-feasibility",
        "gate-3-business-case",
        "gate-4-delivery",
        "gate-5-benefits",
    ]


def test_agile_pack_uses_roam_for_threats() -> None:
    (version,) = _versions(load_pack(PACKS_DIR / "agile-pmo-safe"))

    assert version.scales.risk_responses == "roam"
    threat_responses = {risk.response for risk in version.risks if risk.kind == "threat"}
    assert threat_responses <= {"resolved", "owned", "accepted", "mitigated"}


@pytest.mark.parametrize("key", ["msp-governance", "project-pmo-light"])
def test_later_version_changes_some_items_and_keeps_most(key: str) -> None:
    first, later = _versions(load_pack(PACKS_DIR / key))[:2]
    before = {(item.kind, item.key): item.part for item in seed_items(first)}
    after = {(item.kind, item.key): item.part for item in seed_items(later)}

    added = after.keys() - before.keys()
    removed = before.keys() - after.keys()
    changed = {k for k in before.keys() & after.keys() if before[k] != after[k]}
    unchanged = {k for k in before.keys() & after.keys() if before[k] == after[k]}

    assert added and removed and changed
    assert len(unchanged) > 0.9 * len(before)
    assert any(kind == "board" for kind, _ in changed)
    assert any(kind == "gate_criterion" for kind, _ in changed)
