"""The library is pure except its database modules (catalogue, rows, seeding, reading, upgrading,
saving), and nothing in it speaks HTTP."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PURE_MODULES = [
    "templates_library.schema",
    "templates_library.source",
    "templates_library.loader",
    "templates_library.validation",
    "templates_library.items",
    "templates_library.values",
    "templates_library.upgrade",
    "templates_library.diff",
    "templates_library.export",
    "templates_library.cli",  # imports the database layer only when a catalogue command runs
]
CHECK = """
import importlib, sys
for name in sys.argv[1:]:
    importlib.import_module(name)
print(sorted({m.split('.')[0] for m in sys.modules} & {'services', 'litestar', 'sqlalchemy'}))
"""


def test_pure_modules_import_neither_services_nor_http_nor_the_database() -> None:
    result = subprocess.run(
        [sys.executable, "-c", CHECK, *PURE_MODULES],
        capture_output=True,
        text=True,
        check=True,
    )

    assert result.stdout.strip() == "[]", result.stderr


def test_services_never_import_the_library_or_provisioning() -> None:
    """The arrow runs one way: `services` reaches the template library and the workflow only
    through entry points (`pmo.workspace`, `pmo.commands`), also inside functions."""
    root = Path(__file__).resolve().parents[2]
    found = []
    for path in sorted((root / "services").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                if name.split(".")[0] in {"templates_library", "provisioning"}:
                    found.append(f"{path.relative_to(root)}:{node.lineno} imports {name}")
    assert found == []
