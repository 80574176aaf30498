"""``falsr upscale``: files, folders and globs in; ``<name>_x2.<ext>`` out."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from types import FrameType

import click
import torch

from torch import nn

from falsr_zoo.api import load
from falsr_zoo.cli.exit_codes import EXIT_FAILURE, EXIT_INTERRUPTED
from falsr_zoo.families.table import family_of
from falsr_zoo.sr.runner import collect_inputs, plan_jobs, run_jobs, suffix_for
from falsr_zoo.sr.upscale import PRECISIONS, Upscaler
from falsr_zoo.zoo.model_dir import is_model_reference
from falsr_zoo.zoo.registry import get_entry

BACKEND_CHOICES = ("torch", "onnxruntime", "tensorrt")


def _load_sr_model(name: str, revision: str | None, weights: str | None, offline: bool | None) -> nn.Module:
    """The super-resolution module ``--model`` names (zoo name, directory or hf-hub: reference)."""
    if is_model_reference(name):
        if weights:
            raise click.UsageError("--weights applies to zoo models; a model directory carries its weights")
        model = load(name, revision=revision, offline=offline)
        task, label = family_of(model).task, name
    else:
        if revision:
            raise click.UsageError("--revision applies to hf-hub: models")
        entry = get_entry(name)
        task, label = entry.task, entry.name
        model = None
    if task != "image-super-resolution":
        raise click.UsageError(f"{label} is an {task} model; falsr upscale needs a super-resolution model")
    return model if model is not None else load(name, weights=weights, offline=offline)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@click.command("upscale")
@click.argument("inputs", nargs=-1, required=True)
@click.option("-m", "--model", "name", default="FALSR-B", show_default=True,
              help="Zoo model name, model directory (./my-model) or hf-hub:owner/name.")
@click.option("--revision", help="Commit, tag or branch of an hf-hub: model.")
@click.option("--offline", is_flag=True, help="No network access (as HF_HUB_OFFLINE=1): the store and caches only.")
@click.option("-o", "--output", type=click.Path(path_type=Path),
              help="Output file (one input) or folder (mirrors scanned sub-folders).")
@click.option("-r", "--recursive", is_flag=True, help="Scan folders (and ** globs) recursively.")
@click.option("--outscale", type=click.FloatRange(1.0, 16.0, min_open=True), default=2.0, show_default=True,
              help="Final scale: x2 network passes, then a Lanczos resize for non-powers of two.")
@click.option("--skip-existing", is_flag=True, help="Leave existing outputs alone (resume a folder run).")
@click.option("--overwrite", is_flag=True, help="Replace existing outputs (inputs are never replaced).")
@click.option("--quality", type=click.IntRange(1, 100), default=95, show_default=True, help="JPEG / WebP quality.")
@click.option("--backend", type=click.Choice(BACKEND_CHOICES), default="torch", show_default=True,
              help="Inference engine (onnxruntime: the onnx extra; tensorrt: an NVIDIA GPU).")
@click.option("--device", help="torch device (default: cuda if available, else cpu).")
@click.option("--tile", type=click.IntRange(min=1), help="Tile side in LR pixels (default: from the memory budget).")
@click.option("--memory-budget", "memory_budget_mb", type=click.FloatRange(min=16), help="Activation memory budget, MB.")
@click.option("--batch-size", type=click.IntRange(min=1), default=1, show_default=True, help="Tiles per network call.")
@click.option("--precision", type=click.Choice(list(PRECISIONS)), default="fp32", show_default=True)
@click.option("--threads", type=click.IntRange(min=1), help="CPU threads for PyTorch (default: one per core).")
@click.option("--weights", type=click.Path(exists=True, dir_okay=False), help="Explicit safetensors file.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def upscale_command(inputs: tuple[str, ...], name: str, revision: str | None, offline: bool,
                    output: Path | None, recursive: bool, outscale: float,
                    skip_existing: bool, overwrite: bool, quality: int, backend: str, device: str | None,
                    tile: int | None, memory_budget_mb: float | None, batch_size: int, precision: str,
                    threads: int | None, weights: str | None, quiet: bool) -> None:
    """Upscale images, folders or globs with a FALSR model.

    Writes <name>_x2.<ext> (or _x<outscale>) beside each input, or under -o. Existing outputs
    are refused unless --skip-existing or --overwrite; unreadable files are reported and
    skipped; the exit status is 1 when any file failed.
    """
    if skip_existing and overwrite:
        raise click.UsageError("--skip-existing and --overwrite exclude each other")
    model = _load_sr_model(name, revision, weights, offline or None)
    if threads:
        torch.set_num_threads(threads)
    suffix = suffix_for(outscale)
    found, missing = collect_inputs(inputs, recursive=recursive, suffix=suffix)
    if output is not None and len(found) > 1 and output.suffix and not output.is_dir():
        raise click.UsageError(f"-o {output} looks like a file, but there are {len(found)} inputs")
    jobs, refused = plan_jobs(found, output, suffix)
    upscaler = Upscaler(model, backend=backend, device=device, tile=tile, memory_budget_mb=memory_budget_mb,
                        batch_size=batch_size, precision=precision)
    signal.signal(signal.SIGTERM, _interrupt)
    show = not quiet and len(jobs) > 1
    try:
        with click.progressbar(length=len(jobs), label="upscaling", show_eta=True, show_pos=True,
                               file=sys.stderr, hidden=not show) as bar:
            report = run_jobs(jobs, lambda picture: upscaler.upscale_picture(picture, outscale), quality=quality,
                              skip_existing=skip_existing, overwrite=overwrite,
                              on_progress=lambda job, status: bar.update(1))
    except KeyboardInterrupt:
        click.echo("interrupted: outputs written so far are complete; re-run with --skip-existing to finish", err=True)
        sys.exit(EXIT_INTERRUPTED)
    for job in report.done:
        click.echo(f"{job.source} -> {job.target}")
    for source, note in report.notes:
        click.echo(f"note: {source}: {note}", err=True)
    failures = [*missing, *refused, *report.failed]
    for source, reason in failures:
        click.echo(f"Error: {reason if str(source) in reason else f'{source}: {reason}'}", err=True)
    total = len(jobs) + len(missing) + len(refused)
    click.echo(f"{report.summary()}{f', {len(missing) + len(refused)} refused' if missing or refused else ''} "
               f"({total} inputs)", err=True)
    if failures:
        sys.exit(EXIT_FAILURE)

