"""Where a value in a pack file came from, and the problems found there."""

from __future__ import annotations

import re
from pathlib import Path

import msgspec

_LAST_SEGMENT = re.compile(r"(\.[^.\[]+|\[\d+\])$")


class Problem(msgspec.Struct, frozen=True, kw_only=True):
    """One thing wrong with a pack, pointing at a file, a line and a dotted location."""

    file: str
    line: int
    location: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.location or '(document)'}: {self.message}"


class SourceMap(msgspec.Struct, frozen=True, kw_only=True):
    """Line numbers (1-based) of each value in a YAML file, by dotted location."""

    file: Path
    lines: dict[str, int]

    def line_of(self, location: str) -> int:
        """Line of `location`, else of its nearest ancestor, else 1."""
        while True:
            if location in self.lines:
                return self.lines[location]
            if not location:
                return 1
            trimmed = _LAST_SEGMENT.sub("", location)
            location = "" if trimmed == location else trimmed.lstrip(".")

    def problem(self, location: str, message: str) -> Problem:
        return Problem(
            file=str(self.file),
            line=self.line_of(location),
            location=location,
            message=message,
        )


def join_location(base: str, segment: str | int) -> str:
    """`gates[2]` + `criteria` → `gates[2].criteria`; `criteria` + 0 → `criteria[0]`."""
    if isinstance(segment, int):
        return f"{base}[{segment}]"
    return f"{base}.{segment}" if base else segment
