"""``falsr cache list`` and ``falsr cache rm``: the local weights store (:mod:`falsr_zoo.zoo.weights_store`)."""

from __future__ import annotations

import json
import time

import click

from falsr_zoo.cli.tables import format_size, format_table
from falsr_zoo.zoo.weights_store import Removal, StoreScan, StoredWeights, remove_from_store, scan_store


def _row(weights: StoredWeights) -> list[str]:
    name = weights.name if weights.in_zoo else f"{weights.name} (not a zoo model)"
    modified = time.strftime("%Y-%m-%d %H:%M", time.localtime(weights.modified))
    return [name, format_size(weights.num_bytes), modified, str(weights.path)]


def _scan_json(scan: StoreScan) -> str:
    return json.dumps({
        "directory": str(scan.directory),
        "num_bytes": scan.num_bytes,
        "weights": [{"name": w.name, "path": str(w.path), "num_bytes": w.num_bytes, "modified": w.modified,
                     "in_zoo": w.in_zoo} for w in scan.weights],
        "leftovers": [str(path) for path in scan.leftovers],
        "leftover_bytes": scan.leftover_bytes,
    }, indent=2)


@click.group("cache")
def cache_group() -> None:
    """List or remove the weights in the local store ($FALSR_ZOO_HOME/weights)."""


@cache_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_command(as_json: bool) -> None:
    """List the stored weights and their sizes.

    Leftovers of interrupted downloads or conversions are counted apart.
    """
    scan = scan_store()
    if as_json:
        click.echo(_scan_json(scan))
        return
    if scan.weights:
        click.echo(format_table([_row(w) for w in scan.weights], ["model", "size", "modified", "path"]))
        click.echo(f"\n{len(scan.weights)} file(s), {format_size(scan.num_bytes)} in {scan.directory}")
    else:
        click.echo(f"no weights stored in {scan.directory}")
    if scan.leftovers:
        click.echo(f"{len(scan.leftovers)} leftover(s) of interrupted downloads or conversions "
                   f"({format_size(scan.leftover_bytes)}); falsr cache rm --all removes them")


def _report(removal: Removal) -> None:
    verb = "would remove" if removal.dry_run else "removed"
    for weights in removal.weights:
        click.echo(f"{verb} {weights.name} ({format_size(weights.num_bytes)}) {weights.path}")
    if removal.leftovers:
        click.echo(f"{verb} {len(removal.leftovers)} leftover(s) of interrupted downloads or conversions")
    for name in removal.not_stored:
        click.echo(f"{name}: not stored")
    if removal.weights or removal.leftovers:
        click.echo(f"{'would free' if removal.dry_run else 'freed'} {format_size(removal.num_bytes)}")


@cache_group.command("rm")
@click.argument("names", nargs=-1, metavar="NAME...")
@click.option("--all", "everything", is_flag=True, help="Remove every stored file and leftover.")
@click.option("--dry-run", is_flag=True, help="Only show what would be removed.")
def rm_command(names: tuple[str, ...], everything: bool, dry_run: bool) -> None:
    """Remove stored weights by model name, or all of them.

    NAME is a zoo name (any case) or a name `falsr cache list` shows. The official weights come
    back on their next use (fetched and converted again).
    """
    if bool(names) == everything:
        raise click.UsageError("name the models to remove, or pass --all (not both)")
    _report(remove_from_store(names, everything=everything, dry_run=dry_run))
