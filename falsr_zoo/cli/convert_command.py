"""``falsr convert``: official frozen graphs -> safetensors in the local store."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("convert")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write one graph's weights here instead of the store.")
@click.option("--overwrite", is_flag=True, help="Replace an existing --output file.")
def convert_command(paths: tuple[str, ...], output: str | None, overwrite: bool) -> None:
    """Convert FALSR-*.pb graphs (or release directories) into safetensors.

    Without -o, each graph must be a zoo model; its weights go to the local store and must
    reproduce the registry's pinned sha256.
    """
    from falsr_zoo._files import check_writable

    if output is not None:
        if len(paths) != 1 or Path(paths[0]).is_dir():
            raise click.UsageError("-o takes exactly one .pb file")
        check_writable(output)
    from falsr_zoo.families.falsr.convert import convert_graph, convert_release
    from falsr_zoo.zoo.weights import writable_store

    if output is not None:
        results = [convert_graph(paths[0], output, overwrite=overwrite)]
    else:
        writable_store()
        results = convert_release(list(paths))
    for result in results:
        name = result.entry.name if result.entry else "custom genome"
        click.echo(f"{result.source} -> {result.path} ({name}, sha256 {result.sha256})")

