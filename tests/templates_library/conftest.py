"""A small, valid pack written to disk, which tests break one way at a time."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.tiny_pack import MANIFEST, VERSION, PackData, write_yaml


def line_matching(path: Path, pattern: str, occurrence: int = 1) -> int:
    """1-based line of the `occurrence`-th line in `path` matching the regex `pattern`."""
    hits = [
        number
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if re.search(pattern, line)
    ]
    assert len(hits) >= occurrence, f"{pattern!r} found {len(hits)} times in {path}"
    return hits[occurrence - 1]


PackWriter = Callable[..., Path]


@pytest.fixture
def write_pack(tmp_path: Path) -> PackWriter:
    """Write the tiny pack (optionally changed) and return the version file's path."""

    def write(
        change: Callable[[PackData], object] | None = None,
        *,
        file_name: str = "1.0.0.yaml",
        folder: str = "tiny-pack",
        manifest: PackData | None = None,
    ) -> Path:
        version = copy.deepcopy(VERSION)
        if change is not None:
            change(version)
        write_yaml(tmp_path / folder / "pack.yaml", manifest or MANIFEST)
        return write_yaml(tmp_path / folder / file_name, version)

    return write
