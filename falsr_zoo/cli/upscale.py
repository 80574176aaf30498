"""``falsr upscale``: image files in, x2 images out."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from falsr_zoo.api import load
from falsr_zoo.cli._errors import EXIT_FAILURE, one_line
from falsr_zoo.errors import FalsrZooError, OutputExistsError
from falsr_zoo.imageio import output_path, read_image, write_image
from falsr_zoo.registry import get_entry

logger = logging.getLogger(__name__)


@click.command("upscale")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-m", "--model", "name", default="FALSR-B", show_default=True, help="Zoo model name.")
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Output file (one input) or directory.")
@click.option("--weights", type=click.Path(exists=True, dir_okay=False), help="Explicit safetensors file.")
@click.option("--overwrite", is_flag=True, help="Replace existing outputs (inputs are never replaced).")
def upscale_command(inputs: tuple[Path, ...], name: str, output: Path | None, weights: str | None, overwrite: bool) -> None:
    """Upscale images x2 with a FALSR model, writing <name>_x2.<ext> beside each input."""
    entry = get_entry(name)
    if entry.task != "image-super-resolution":
        raise click.UsageError(f"{entry.name} is an {entry.task} model; falsr upscale needs a super-resolution model")
    model = load(name, weights=weights)
    failed = 0
    for source in inputs:
        try:
            target = output_path(source, output, many=len(inputs) > 1)
            if target.exists() and not overwrite:
                raise OutputExistsError(f"{target} exists; pass --overwrite to replace it")
            image = model.upscale(read_image(source))
            write_image(image, target)
            click.echo(f"{source} -> {target}")
        except FalsrZooError as error:
            failed += 1
            click.echo(f"Error: {one_line(error)}", err=True)
    if failed:
        click.echo(f"{failed} of {len(inputs)} files failed", err=True)
        sys.exit(EXIT_FAILURE)


COMMANDS = [upscale_command]
