"""The library is pure except its database modules (catalogue, rows, seeding, reading, upgrading,
saving), and nothing in it speaks HTTP."""

from __future__ import annotations

import subprocess
import sys

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
