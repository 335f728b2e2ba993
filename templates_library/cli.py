"""`pmo templates …` commands (wired into `pmo` through the `pmo.commands` entry point).

`validate` reads files only. `sync`, `list`, `show` and `diff` work on the published catalogue
in the control-plane database (`PMO_DATABASE_URL`); `upgrade` and `save` work on workspaces in
their cells. Commands import the database layer only when they run.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click

from templates_library.items import count_by_kind, seed_items
from templates_library.loader import (
    MANIFEST_FILE,
    PACKS_DIR,
    load_library,
    load_pack,
    load_version_file,
)
from templates_library.source import Problem
from templates_library.validation import validate_library, validate_pack, validate_version

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from services.db.engine import Database


@click.group(name="templates")
def templates_group() -> None:
    """Expert template packs."""


NOT_CHECKED = (
    "not checked: the versions already published (pmo templates sync checks a version against "
    "them too, and may refuse it)"
)


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
    Files only: `pmo templates sync` also checks each version against the versions already
    published, which may no longer be in the folder.
    """
    problems, checked = _validate(path)
    for problem in problems:
        click.echo(str(problem))
    click.echo(f"{'FAILED' if problems else 'ok'}: {len(problems)} problem(s) in {checked}")
    click.echo(NOT_CHECKED)
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
    problems = validate_version(loaded)
    if path.suffix != ".yaml":  # a pack would not read it (`loader.load_pack`)
        named = f"version files end in .yaml: rename it to {path.stem}.yaml"
        problems.insert(0, Problem(file=str(path), line=1, location="", message=named))
    return problems, f"{path.name} ({items} items)"


# --- the catalogue (database) ---------------------------------------------------------------------

R = TypeVar("R")


def _in_catalogue(work: Callable[[AsyncSession], Awaitable[R]]) -> R:
    """Run `work` in one control-plane transaction; expected failures become `error:` lines."""
    from services.cli import handles_errors, run_async, settings_from_env
    from services.db.engine import Database

    async def run() -> R:
        database = Database(settings_from_env())
        try:
            async with database.transaction() as session:
                return await work(session)
        finally:
            await database.dispose()

    return handles_errors(run_async)(run())


def parse_reference(text: str) -> tuple[str, str | None]:
    """`KEY@VERSION` → (key, version); `KEY` → (key, None) meaning the latest."""
    key, _, version = text.partition("@")
    if not key or (_ and not version):
        raise click.BadParameter(f"`{text}` is not KEY or KEY@VERSION")
    return key, version or None


@templates_group.command(name="sync")
@click.option(
    "--path",
    "root",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=PACKS_DIR,
    show_default="the shipped packs",
    help="A folder of pack folders.",
)
def sync_command(root: Path) -> None:
    """Publish every valid pack version into the catalogue.

    Versions already published must be unchanged: if any differs, nothing is synced and the
    command names each such pack, version and file. Invalid versions are left out and their
    problems printed; the exit status is then 1.
    """
    from templates_library.catalogue import sync

    packs = load_library(root)
    report = _in_catalogue(lambda session: sync(session, packs, root))
    for result in report.results:
        click.echo(
            f"{result.outcome.value:<10} {result.key} {result.version}  "
            f"({result.file}, sha256 {result.content_hash[:12]})"
        )
    for problem in report.problems:
        click.echo(str(problem))
    click.echo(
        f"synced {len(packs)} pack(s): {len(report.published)} version(s) published, "
        f"{len(report.unchanged)} unchanged, {len(report.problems)} problem(s)"
    )
    sys.exit(1 if report.problems else 0)


@templates_group.command(name="list")
def list_command() -> None:
    """The packs in the catalogue with their versions."""
    from services.catalogue import service as catalogue

    async def work(session: AsyncSession) -> list[list[str]]:
        rows, _ = await catalogue.list_packs(session, limit=10_000, offset=0)
        return [
            [
                pack.key,
                catalogue.latest_of(versions).version if versions else "–",
                ", ".join(v.version for v in versions),
                pack.title,
            ]
            for pack, versions in rows
        ]

    rows = _in_catalogue(work)
    if not rows:
        click.echo("the catalogue is empty: run `pmo templates sync`")
        return
    for line in text_table(["pack", "latest", "versions", "title"], rows):
        click.echo(line)


@templates_group.command(name="show")
@click.argument("reference", metavar="KEY[@VERSION]")
@click.option("--items", "list_items", is_flag=True, help="Also list every item it seeds.")
def show_command(reference: str, list_items: bool) -> None:
    """One published version (the latest by default): parameters, changes and items."""
    from services.catalogue import service as catalogue
    from templates_library.catalogue import version_from_content

    key, wanted = parse_reference(reference)

    async def work(session: AsyncSession) -> str:
        pack, row, versions = await catalogue.get_version(session, key, wanted)
        version = version_from_content(row.content)
        latest = catalogue.latest_of(versions).id == row.id
        lines = [
            f"{pack.key} {row.version}{' (latest)' if latest else ''}: {pack.title}",
            f"  versions: {', '.join(v.version for v in versions)}",
            f"  published {row.published_at:%Y-%m-%d %H:%M %Z} from {row.file}",
            f"  sha256 {row.content_hash}",
            f"  {pack.summary}",
            "",
            "parameters:",
        ]
        lines += [
            "  " + line
            for line in text_table(
                ["key", "type", "default", "description"],
                [
                    [
                        p.key,
                        p.type + (f" ({', '.join(p.choices)})" if p.choices else ""),
                        "(required)" if p.default is None else str(p.default),
                        p.description,
                    ]
                    for p in version.parameters
                ],
            )
        ]
        lines += ["", f"changes in {row.version}:", *(f"  * {c}" for c in version.changes)]
        counts = count_by_kind(version)
        lines += ["", f"items ({sum(counts.values())}):"]
        lines += [
            "  " + line
            for line in text_table(["kind", "items"], [[k, str(n)] for k, n in counts.items()])
        ]
        if list_items:
            lines += ["", "every item:"]
            lines += [f"  {item.kind} {item.key}" for item in seed_items(version)]
        return "\n".join(lines)

    click.echo(_in_catalogue(work))


@templates_group.command(name="diff")
@click.argument("before", metavar="KEY@A")
@click.argument("after", metavar="KEY@B")
def diff_command(before: str, after: str) -> None:
    """What changed from one published version of a pack to another: parameters (added, removed,
    default or choices changed), then items, field by field, including those a changed parameter
    default changes."""
    from templates_library.catalogue import published_version
    from templates_library.diff import diff_versions, render_diff

    (key_a, version_a), (key_b, version_b) = parse_reference(before), parse_reference(after)
    if key_a != key_b:
        click.echo(
            f"error: diff compares two versions of one pack, not {key_a} and {key_b}", err=True
        )
        sys.exit(2)

    async def work(session: AsyncSession) -> str:
        _, row_a, a = await published_version(session, key_a, version_a)
        _, row_b, b = await published_version(session, key_b, version_b)
        title = f"{key_a} {row_a.version} → {key_b} {row_b.version}"
        return render_diff(diff_versions(a, b), title=title, changes=list(b.changes))

    click.echo(_in_catalogue(work))


def text_table(header: list[str], rows: list[list[str]]) -> list[str]:
    """Left-aligned columns under a header and a rule; the last column is not padded."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    rule = ["-" * width for width in widths]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [header, rule, *rows]
    ]


# --- workspaces -----------------------------------------------------------------------------------


def _in_database(work: Callable[[Database], Awaitable[R]]) -> R:
    """Run `work` with the platform's databases; expected failures become `error:` lines."""
    from sqlalchemy.exc import SQLAlchemyError

    from services.cli import (
        handles_errors,
        run_async,
        settings_from_env,
        unmigrated_database,
        unreachable_database,
    )
    from services.db.engine import Database

    async def run() -> R:
        database = Database(settings_from_env())
        try:
            return await work(database)
        finally:
            await database.dispose()

    try:
        return handles_errors(run_async)(run())
    except SQLAlchemyError as error:
        if unreachable_database(error) or unmigrated_database(error):
            raise  # the `pmo` group says which database, and what to do
        # Rolled back, so nothing changed: the database's own message, on one line.
        reason = str(getattr(error, "orig", None) or error).splitlines()[0]
        click.echo(f"error: the database refused it, nothing changed: {reason}", err=True)
        sys.exit(1)


@templates_group.command(name="upgrade")
@click.option("--tenant", "slug", metavar="SLUG", help="The workspace to upgrade.")
@click.option("--all", "every", is_flag=True, help="Every live workspace on the pack.")
@click.option("--to", "target", required=True, metavar="KEY@VERSION", help="KEY alone: latest.")
@click.option("--apply", "apply", is_flag=True, help="Apply the plan (default: a dry run).")
@click.option(
    "--take-pack",
    "take",
    multiple=True,
    metavar="KIND:KEY",
    help="Settle this conflict by taking the new version's values (repeatable; --tenant only).",
)
@click.option(
    "--by",
    "by",
    metavar="EMAIL",
    help="Who applies it: an existing user's email, recorded on each workspace's pin "
    "(without it, the pin records the command line and no user).",
)
def upgrade_command(
    slug: str | None,
    every: bool,
    target: str,
    apply: bool,
    take: tuple[str, ...],
    by: str | None,
) -> None:
    """Upgrade a workspace (or every workspace on a pack) to another version of its pack.

    Items the client never changed follow the new version; items the client changed are kept,
    and listed as conflicts where the pack changed them too. --take-pack KIND:KEY settles such
    a conflict by taking the new version's values instead (the dry run shows it as an update).
    Without --apply nothing changes. Each workspace is upgraded in one transaction.
    """
    if every == (slug is not None):
        raise click.UsageError("give either --tenant SLUG or --all")
    if every and take:
        raise click.UsageError("--take-pack names one workspace's conflicts: use it with --tenant")
    key, version = parse_reference(target)
    if every:
        _upgrade_every(key, version, apply, by)
        return

    from services.db.tenant_scope import TenantScope
    from services.tenancy import service as tenancy
    from templates_library.upgrade import render_plan
    from templates_library.upgrading import apply_upgrade, plan_upgrade

    async def work(database: Database) -> str:
        async with database.session() as control:
            actor_id = await _operator(control, by)
            tenant = await tenancy.require_by_slug(control, slug or "")
            scope = TenantScope.single(tenant.id)
            async with database.transaction(tenant.cell, scope) as session:
                if apply:
                    done = await apply_upgrade(
                        session,
                        tenant.id,
                        key,
                        version,
                        catalogue=control,
                        take=take,
                        actor_id=actor_id,
                        via="cli",
                    )
                else:
                    done = await plan_upgrade(
                        session, tenant.id, key, version, catalogue=control, take=take
                    )
        verb = "applied" if done.applied else "plan (dry run; --apply to apply)"
        title = f"{tenant.slug}: {done.pack} {done.from_version} → {done.to_version}, {verb}"
        return render_plan(done.plan, title=title)

    click.echo(_in_database(work))


async def _operator(control: AsyncSession, email: str | None) -> uuid.UUID | None:
    """The id of the user `--by` names (None without it); an unknown one is refused."""
    if email is None:
        return None
    from services.errors import NotFound
    from services.identity.service import get_user_by_email

    user = await get_user_by_email(control, email)
    if user is None:
        raise NotFound(f"No user has the email {email.strip()!r} (--by names who applies it).")
    return user.id


def _upgrade_every(key: str, version: str | None, apply: bool, by: str | None) -> None:
    from templates_library.upgrade import Action
    from templates_library.upgrading import TenantOutcome, upgrade_all

    async def work(database: Database) -> list[TenantOutcome]:
        async with database.session() as control:
            actor_id = await _operator(control, by)
        return await upgrade_all(database, key, version, apply=apply, actor_id=actor_id)

    outcomes: list[TenantOutcome] = _in_database(work)
    actions = [action.value for action in Action]
    # On the target already, with nothing new to do: what it holds back was held back before.
    settled = [
        o
        for o in outcomes
        if o.error is None
        and o.from_version == o.to_version
        and not any(n for a, n in o.counts.items() if a != Action.UNCHANGED.value)
    ]
    outcomes = [o for o in outcomes if o not in settled]
    rows = [
        [
            o.slug,
            f"{o.from_version} → {o.to_version or '?'}",
            *(str(o.counts.get(a, 0)) if o.error is None else "–" for a in actions),
            ("applied" if o.applied else "planned") if o.error is None else f"failed: {o.error}",
        ]
        for o in outcomes
    ]
    held = [o for o in settled if o.held_before]
    if held:
        click.echo(
            f"{len(held)} workspace(s) on the target hold back only what was held back before "
            "(nothing new): " + "; ".join(f"{o.slug}: {', '.join(o.held_before)}" for o in held)
        )
    if not rows:
        click.echo(f"no live workspace on {key} needs upgrading")
        return
    for line in text_table(["tenant", "versions", *actions, "result"], rows):
        click.echo(line)
    conflicted = [o for o in outcomes if o.conflicts]
    if conflicted:
        click.echo("\nconflicts (left as each client has them):")
        for outcome in conflicted:
            click.echo(f"  {outcome.slug}: {', '.join(outcome.conflicts)}")
    held_too = [o for o in outcomes if o.held_before]
    if held_too:
        click.echo("\nheld back before, still held (not counted):")
        for outcome in held_too:
            click.echo(f"  {outcome.slug}: {', '.join(outcome.held_before)}")
    failed = sum(o.error is not None for o in outcomes)
    done = "applied to" if apply else "planned for"
    click.echo(
        f"\n{done} {len(outcomes) - failed} workspace(s), {failed} failed, "
        f"{sum(len(o.conflicts) for o in outcomes)} conflict(s)"
        + ("" if apply else "; --apply to apply")
    )
    sys.exit(1 if failed else 0)


@templates_group.command(name="save")
@click.option("--tenant", "slug", required=True, metavar="SLUG", help="The workspace.")
@click.option("--programme", "programme_id", required=True, type=click.UUID, help="Its id.")
@click.option("--as", "reference", required=True, metavar="KEY@VERSION", help="The new version.")
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(),
    show_default="the current folder",
    help="Where the pack folder goes (KEY/VERSION.yaml, and KEY/pack.yaml if new).",
)
@click.option("--change", "changes", multiple=True, help="A changelog line (repeatable).")
def save_command(
    slug: str, programme_id: uuid.UUID, reference: str, out: Path, changes: tuple[str, ...]
) -> None:
    """Save a workspace programme as a new pack version that validates.

    KEY must be a pack key and VERSION a semver; the pack as it would be (pack.yaml, the
    versions already in DIR/KEY and the new one) is validated before anything is written, and
    nothing is written if it has problems. Seeding the saved version into an empty workspace
    (with the parameters printed) gives the same programme back. Review the file, then publish
    it with `pmo templates sync`.
    """
    key, version = parse_reference(reference)
    if version is None:
        raise click.BadParameter("save needs KEY@VERSION", param_hint="--as")

    from templates_library.saving import reference_problems

    refused = reference_problems(key, version)
    if refused:
        raise click.BadParameter("; ".join(refused), param_hint="--as")

    from services.db.tenant_scope import TenantScope
    from services.tenancy import service as tenancy
    from templates_library.export import ExportError
    from templates_library.loader import LoadedVersion
    from templates_library.saving import parameter_values, save_programme, write_version

    async def work(database: Database) -> tuple[LoadedVersion, dict[str, object]]:
        async with database.session() as control:
            tenant = await tenancy.require_by_slug(control, slug)
            scope = TenantScope.single(tenant.id)
            async with database.transaction(tenant.cell, scope) as session:
                saved = await save_programme(
                    session, programme_id, version=version, changes=changes, catalogue=control
                )
        written = write_version(saved, out, key, author=f"Saved from workspace {tenant.slug}")
        return written, dict(parameter_values(saved))

    try:
        written, params = _in_database(work)
    except (ExportError, FileExistsError) as error:
        refusals = error.problems if isinstance(error, ExportError) else [str(error)]
        for refusal in refusals:
            click.echo(f"error: {refusal}", err=True)
        click.echo("nothing was written", err=True)
        sys.exit(1)
    items = len(seed_items(written.version)) if written.version else 0
    click.echo(f"saved {key} {version} to {written.file} ({items} items)")
    click.echo("seed it with: " + ", ".join(f"{k}={v}" for k, v in params.items()))
