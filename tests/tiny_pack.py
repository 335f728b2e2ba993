"""The tiny template pack: the smallest valid pack that exercises every kind of item, and a
second version of it that changes a little of everything (for upgrades)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import msgspec
import yaml

from templates_library.schema import PackVersion

PackData = dict[str, Any]

MANIFEST: PackData = {
    "key": "tiny-pack",
    "title": "Tiny pack",
    "summary": "The smallest pack that exercises every kind of item.",
    "audience": ["tests"],
    "author": "PMO Cloud tests",
    "licence": "CC-BY-4.0",
}


def _criteria(count: int) -> list[PackData]:
    return [
        {"key": f"criterion-{n}", "text": f"Criterion {n} is met.", "evidence": "Evidence file"}
        for n in range(1, count + 1)
    ]


def _levels(labels: list[str]) -> list[PackData]:
    return [
        {"value": n, "label": label, "description": f"{label} on the scale."}
        for n, label in enumerate(labels, start=1)
    ]


VERSION: PackData = {
    "version": "1.0.0",
    "changes": ["First release."],
    "parameters": [
        {"key": "programme_name", "type": "text", "default": "Tiny", "description": "Name."},
        {"key": "start_date", "type": "date", "description": "Day 0."},
        {
            "key": "reporting_cadence",
            "type": "choice",
            "default": "monthly",
            "choices": ["weekly", "monthly"],
            "description": "Cadence.",
        },
    ],
    "programmes": [
        {
            "key": "programme",
            "title": "{programme_name}",
            "description": "A one-hundred-day programme.",
            "duration_days": 100,
        }
    ],
    "tranches": [
        {
            "key": "first",
            "programme": "programme",
            "title": "First tranche",
            "start_day": 0,
            "end_day": 50,
            "purpose": "Start.",
        },
        {
            "key": "second",
            "programme": "programme",
            "title": "Second tranche",
            "start_day": 51,
            "end_day": 100,
            "purpose": "Finish.",
        },
    ],
    "projects": [
        {
            "key": "build",
            "tranche": "first",
            "title": "Build",
            "description": "Build the thing.",
            "lead": "manager",
        },
        {
            "key": "run",
            "tranche": "second",
            "title": "Run",
            "description": "Run the thing in service.",
            "kind": "workstream",
            "approach": "business_change",
        },
    ],
    "roles": [
        {"key": "sponsor", "title": "Sponsor", "description": "Owns the case."},
        {"key": "manager", "title": "Manager", "description": "Runs the work."},
    ],
    "raci": [
        {
            "key": "plan",
            "activity": "Plan the work",
            "responsible": ["manager"],
            "accountable": "sponsor",
        }
    ],
    "boards": [
        {
            "key": "board",
            "title": "Programme board",
            "purpose": "Directs the programme.",
            "members": [
                {"role": "sponsor", "capacity": "chair"},
                {"role": "manager", "capacity": "member"},
            ],
            "decision_rights": ["Approve plans"],
            "quorum": {"minimum_members": 2, "required_roles": ["sponsor"]},
            "cadence": "monthly",
        }
    ],
    "gates": [
        {
            "key": "gate",
            "title": "End of first tranche",
            "board": "board",
            "after_tranche": "first",
            "purpose": "Decide on the second tranche.",
            "criteria": _criteria(5),
        }
    ],
    "milestones": [
        {"key": "halfway", "title": "Halfway", "day": 50, "tranche": "first", "project": "build"}
    ],
    "scales": {
        "probability": _levels(["Rare", "Unlikely", "Possible", "Likely", "Almost certain"]),
        "impact": _levels(["Minor", "Moderate", "Significant", "Major", "Critical"]),
        "bands": [
            {"key": "green", "label": "Green", "min_score": 1, "max_score": 4, "response": "-"},
            {"key": "amber", "label": "Amber", "min_score": 5, "max_score": 9, "response": "-"},
            {"key": "red", "label": "Red", "min_score": 10, "max_score": 15, "response": "-"},
            {
                "key": "critical",
                "label": "Critical",
                "min_score": 16,
                "max_score": 25,
                "response": "-",
            },
        ],
        "proximity": [{"key": "imminent", "label": "Imminent", "description": "Soon."}],
        "benefit_confidence": [{"key": "high", "label": "High", "description": "Sure."}],
    },
    "rag_rules": {
        "schedule_slip_weeks": {"green_max": 2, "amber_max": 6},
        "cost_variance_pct": {"green_max": 5, "amber_max": 10},
        "benefits_forecast_pct": {"green_min": 90, "amber_min": 70},
    },
    "status_reports": [
        {
            "key": "highlight",
            "title": "Highlight report",
            "cadence": "{reporting_cadence}",
            "audience": "Board",
            "sections": [{"key": "summary", "title": "Summary", "guidance": "Two lines."}],
            "rag_dimensions": ["overall", "schedule"],
        }
    ],
    "custom_fields": [
        {
            "key": "area",
            "register": "log",
            "label": "Area",
            "type": "choice",
            "choices": ["a", "b"],
        },
        {"key": "note", "register": "risks", "label": "Note", "type": "text"},
    ],
    "registers": [
        {
            "key": "log",
            "title": "Handover log",
            "purpose": "What is handed over.",
            "entries": [{"key": "entry", "values": {"area": "a"}}],
        }
    ],
    "risks": [
        {
            "key": "threat",
            "title": "Supplier late",
            "category": "Supplier",
            "cause": "One supplier.",
            "event": "Supplier is late.",
            "effect": "We are late.",
            "probability": 3,
            "impact": 4,
            "proximity": "imminent",
            "response": "reduce",
            "response_plan": "Second source.",
            "owner": "manager",
        },
        {
            "key": "upside",
            "kind": "opportunity",
            "title": "Early savings",
            "category": "Benefits",
            "cause": "Vacancies.",
            "event": "Roles left unfilled.",
            "effect": "Savings start early.",
            "probability": 2,
            "impact": 2,
            "proximity": "imminent",
            "response": "enhance",
            "response_plan": "Freeze hiring.",
            "owner": "sponsor",
        },
    ],
    "assumptions": [
        {
            "key": "funding",
            "statement": "Funding holds.",
            "owner": "sponsor",
            "confidence": "high",
            "validation_method": "Budget letter",
            "validate_by_day": 30,
            "linked_risk": "threat",
        }
    ],
    "benefits": [
        {
            "key": "faster",
            "title": "Faster service",
            "description": "Fewer hand-offs.",
            "classification": "non_cash",
            "measure": "quantitative",
            "indicator": "Median days",
            "unit": "days",
            "baseline": 10,
            "target": 5,
            "measurement_frequency": "monthly",
            "confidence": "high",
            "owner": "sponsor",
            "enabling_projects": ["build"],
            # Money with cents: an upgrade must not see the stored Decimal as a change.
            "value_per_year": 1234.56,
        }
    ],
    "decisions": [
        {
            "key": "approach",
            "title": "Approach",
            "context": "We must choose.",
            "options": ["A", "B"],
            "decision": "A",
            "rationale": "Cheaper.",
            "board": "board",
        }
    ],
    "dependencies": [
        {
            "key": "needs-build",
            "title": "Needs the build",
            "from_project": "run",
            "to_project": "build",
            "kind": "internal",
            "need_by_day": 40,
        }
    ],
    "issues": [
        {
            "key": "late-start",
            "title": "Supplier contract not signed",
            "description": "Build cannot start until it is.",
            "type": "problem",
            "priority": "high",
            "severity": 2,
            "owner": "sponsor",
            "escalate_to": "board",
        }
    ],
    "stakeholders": [
        {
            "key": "staff",
            "group": "Front-line staff",
            "interest_in_change": "How their work changes",
            "power": "low",
            "interest": "high",
            "engagement": "Keep informed: monthly briefings",
            "owner": "manager",
        }
    ],
    "documents": [
        {
            "key": "brief",
            "title": "Programme brief",
            "purpose": "What the programme will deliver and why.",
            "owner": "sponsor",
            "sections": ["Outcomes", "Scope", "Costs"],
            "review": "quarterly",
        }
    ],
    "checklists": [
        {
            "key": "readiness",
            "title": "Readiness",
            "purpose": "Ready?",
            "gate": "gate",
            "entries": [{"key": "trained", "text": "Staff trained", "owner": "manager"}],
        }
    ],
}


def write_yaml(path: Path, data: PackData) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=1000), encoding="utf-8"
    )
    return path


START = date(2026, 3, 2)
PARAMS: dict[str, object] = {"start_date": START.isoformat(), "programme_name": "Harbour"}


def second_version(data: PackData) -> None:
    """1.1.0 of the tiny pack: a board's cadence, a risk and a criterion reworded, a decision's
    rationale, a risk added, the assumption and the opportunity removed."""
    data["version"] = "1.1.0"
    data["changes"] = ["Board meets fortnightly; supplier risk re-scored; skills risk added."]
    data["boards"][0]["cadence"] = "fortnightly"
    data["risks"][0]["title"] = "Supplier late on the critical path"
    data["risks"][0]["probability"] = 4
    data["risks"][1:] = []
    data["risks"].append(
        {
            "key": "skills",
            "title": "Skills gap in the build team",
            "category": "People",
            "cause": "New technology.",
            "event": "The team cannot build at the planned pace.",
            "effect": "Later delivery.",
            "probability": 3,
            "impact": 3,
            "proximity": "imminent",
            "response": "reduce",
            "response_plan": "Pair with the supplier's engineers.",
            "owner": "manager",
        }
    )
    data["gates"][0]["criteria"][0]["text"] = "Criterion 1 is met and signed off."
    data["decisions"][0]["rationale"] = "Cheaper and faster."
    del data["assumptions"]


def tiny_version(change: Callable[[PackData], object] | None = None) -> PackVersion:
    data = copy.deepcopy(VERSION)
    if change is not None:
        change(data)
    return msgspec.convert(data, PackVersion)
