"""`pmo templates …` commands (wired into `pmo` through the `pmo.commands` entry point)."""

from __future__ import annotations

from pathlib import Path

import click

from templates_library.items import seed_items
from templates_library.loader import (
    MANIFEST_FILE,
    PACKS_DIR,
    load_library,
    load_pack,
    load_version_file,
)
from templates_library.source import Problem
from templates_library.validation import validate_library, validate_pack, validate_version


@click.group(name="templates")
def templates_group() -> None:
    """Expert template packs."""


@templates_group.command(name="validate")
@click.argument(
    "path",
    required=False,
    type=click.Path(exists=True, path_type=Path),
)
@click.pass_context
def validate_command(ctx: click.Context, path: Path | None) -> None:
    """Validate one pack folder, one version file, or (by default) every shipped pack.

    Prints each problem as `file:line: location: message` and exits 1 if there are any.
    """
    problems, checked = _validate(path)
    for problem in problems:
        click.echo(str(problem))
    click.echo(f"{'FAILED' if problems else 'ok'}: {len(problems)} problem(s) in {checked}")
    ctx.exit(1 if problems else 0)


def _validate(path: Path | None) -> tuple[list[Problem], str]:
    if path is None or (path.is_dir() and not (path / MANIFEST_FILE).exists()):
        packs = load_library(path or PACKS_DIR)
        versions = sum(len(pack.versions) for pack in packs)
        return validate_library(packs), f"{len(packs)} pack(s), {versions} version(s)"
    if path.is_dir():
        pack = load_pack(path)
        return validate_pack(pack), f"pack {pack.key}, {len(pack.versions)} version(s)"
    loaded = load_version_file(path)
    items = len(seed_items(loaded.version)) if loaded.version else 0
    return validate_version(loaded), f"{path.name} ({items} items)"
