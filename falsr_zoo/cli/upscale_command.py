"""``falsr upscale``: files, folders and globs in; ``<name>_x2.<ext>`` out (or ``--suffix``, ``--ext``).

Torch and the upscaler load inside the command, so ``falsr upscale --help`` and completing its
options stay light; and only after everything that can be checked without them (inputs, model
name, task and tile, writable outputs), so that a mistake is reported at once, not after seconds
of loading.
"""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import click

from falsr_zoo.cli.choices import BACKEND_CHOICES, EXTENSIONS, SR_TASK, ModelReference, model_help
from falsr_zoo.cli.exit_codes import EXIT_FAILURE, EXIT_INTERRUPTED
from falsr_zoo.cli.model_options import check_sr_model
from falsr_zoo.cli.run_options import (
    FiniteFloatRange,
    check_precision,
    check_tile,
    precision_option,
    threads_option,
    tile_option,
)
from falsr_zoo.sr.runner import (
    RunReport,
    check_targets,
    collect_inputs,
    plan_jobs,
    run_jobs,
    suffix_for,
    unreadable_inputs,
)

if TYPE_CHECKING:
    from falsr_zoo.sr.runner import Job
    from falsr_zoo.sr.upscale import Upscaler


_SUFFIXES = {"png": (".png",), "jpg": (".jpg", ".jpeg"), "webp": (".webp",), "tiff": (".tif", ".tiff")}


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _tile_bar(upscaler: Upscaler, job: Job, outscale: float, show: bool) -> Any:
    """A progress bar over the tiles of one image (a single large photo takes minutes on a CPU)."""
    from falsr_zoo.imageio import read_picture

    picture = read_picture(job.source)
    total = upscaler.count_tiles(picture.pixels.shape, outscale, picture.pixels.dtype.itemsize)
    return click.progressbar(length=total, label=f"upscaling {job.source.name} ({total} tiles)", show_eta=True,
                             show_pos=True, file=sys.stderr, hidden=not show or total < 2)


def _print_report(report: RunReport, jobs: list[Job], missing: list, refused: list, as_json: bool) -> list:
    failures = [*missing, *refused, *report.failed]
    if as_json:
        click.echo(json.dumps(report.to_json(jobs, [*missing, *refused]), indent=2))
    else:
        for job in report.done:
            click.echo(f"{job.source} -> {job.target}")
    for source, note in report.notes:
        click.echo(f"note: {source}: {note}", err=True)
    for source, reason in failures:
        click.echo(f"Error: {reason if str(source) in reason else f'{source}: {reason}'}", err=True)
    total = len(jobs) + len(missing) + len(refused)
    click.echo(f"{report.summary()}{f', {len(missing) + len(refused)} refused' if missing or refused else ''} "
               f"({total} inputs)", err=True)
    return failures


@click.command("upscale")
@click.argument("inputs", nargs=-1, required=True, type=click.Path())
@click.option("-m", "--model", "name", default="FALSR-B", show_default=True, type=ModelReference(SR_TASK),
              help=model_help(SR_TASK))
@click.option("--revision", help="Commit, tag or branch of an hf-hub: model.")
@click.option("--offline", is_flag=True, help="No network access (as HF_HUB_OFFLINE=1): the store and caches only.")
@click.option("-o", "--output", type=click.Path(path_type=Path),
              help="Output file (one input) or folder (mirrors scanned sub-folders).")
@click.option("-r", "--recursive", is_flag=True, help="Scan folders (and ** globs) recursively.")
@click.option("--outscale", type=FiniteFloatRange(1.0, 16.0, min_open=True), default=2.0, show_default=True,
              help="Final scale: x2 network passes, then a Lanczos resize for non-powers of two.")
@click.option("--ext", type=click.Choice(EXTENSIONS), default="auto", show_default=True,
              help="Output format; auto: the input's where it can be written (else png).")
@click.option("--suffix", help="Appended to output names  [default: _x<outscale>]; '' with -o DIR keeps the names.")
@click.option("--skip-existing", is_flag=True, help="Leave existing outputs alone (resume a folder run).")
@click.option("--overwrite", is_flag=True, help="Replace existing outputs (inputs are never replaced).")
@click.option("--quality", type=click.IntRange(1, 100), default=95, show_default=True, help="JPEG / WebP / AVIF quality.")
@click.option("--json", "as_json", is_flag=True,
              help="Print a JSON summary on stdout: each file's status (done / skipped / failed), target, time.")
@click.option("--backend", type=click.Choice(BACKEND_CHOICES), default="torch", show_default=True,
              help="Inference engine (onnxruntime: the onnx extra; tensorrt: an NVIDIA GPU).")
@click.option("--device", help="torch device (default: cuda if available, else cpu).")
@tile_option()
@click.option("--memory-budget", "memory_budget_mb", type=FiniteFloatRange(min=16), help="Activation memory budget, MB.")
@click.option("--batch-size", type=click.IntRange(min=1), default=1, show_default=True, help="Tiles per network call.")
@precision_option("Network body; the colour step and chroma stay fp32 (onnxruntime / tensorrt: fp32 or fp16).")
@threads_option()
@click.option("--weights", type=click.Path(exists=True, dir_okay=False), help="Explicit safetensors file.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def upscale_command(inputs: tuple[str, ...], name: str, revision: str | None, offline: bool,
                    output: Path | None, recursive: bool, outscale: float, ext: str, suffix: str | None,
                    skip_existing: bool, overwrite: bool, quality: int, as_json: bool, backend: str,
                    device: str | None, tile: int | None, memory_budget_mb: float | None, batch_size: int,
                    precision: str, threads: int | None, weights: str | None, quiet: bool) -> None:
    """Upscale images, folders or globs with a FALSR model.

    Writes <name>_x2.<ext> (or _x<outscale>, or --suffix; --ext picks the format) beside each
    input, or under -o. Existing outputs are refused unless --skip-existing or --overwrite;
    unreadable files are reported and skipped; the exit status is 1 when any file failed.
    A progress bar counts files, or the tiles of a single image.
    """
    if skip_existing and overwrite:
        raise click.UsageError("--skip-existing and --overwrite exclude each other")
    check_precision(precision, backend)
    suffix = suffix_for(outscale) if suffix is None else suffix
    if output is not None and output.suffix and not output.is_dir() and ext != "auto" \
            and output.suffix.lower() not in _SUFFIXES[ext]:
        raise click.UsageError(f"-o {output} and --ext {ext} disagree; give one of them")
    found, missing = collect_inputs(inputs, recursive=recursive, suffix=suffix)
    if output is not None and len(found) > 1 and output.suffix and not output.is_dir():
        raise click.UsageError(f"-o {output} looks like a file, but there are {len(found)} inputs")
    label, genome = check_sr_model(name, revision, weights, offline or None)
    check_tile(tile, genome.receptive_radius(), label)
    jobs, refused = plan_jobs(found, output, suffix, ext)
    jobs, unwritable = check_targets(jobs, skip_existing=skip_existing)
    refused += unwritable
    unreadable = unreadable_inputs(jobs, until_readable=True)
    if len(unreadable) == len(jobs):  # nothing to compute: report it without loading torch and the model
        _print_report(RunReport(failed=unreadable), jobs, missing, refused, as_json)
        sys.exit(EXIT_FAILURE)
    from falsr_zoo.api import load
    from falsr_zoo.runtime.threads import set_threads
    from falsr_zoo.sr.upscale import Upscaler

    set_threads(threads)
    model = load(name, weights=weights, revision=revision, offline=offline or None)
    upscaler = Upscaler(model, backend=backend, device=device, tile=tile, memory_budget_mb=memory_budget_mb,
                        batch_size=batch_size, precision=precision)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        report = _run(upscaler, jobs, outscale, quality, skip_existing, overwrite, show=not quiet)
    except KeyboardInterrupt:
        click.echo("interrupted: outputs written so far are complete; re-run with --skip-existing to finish", err=True)
        sys.exit(EXIT_INTERRUPTED)
    if _print_report(report, jobs, missing, refused, as_json):
        sys.exit(EXIT_FAILURE)


def _run(upscaler: Upscaler, jobs: list[Job], outscale: float, quality: int, skip_existing: bool, overwrite: bool,
         show: bool) -> RunReport:
    """Files with a bar over files; a single image with a bar over its tiles."""
    from falsr_zoo.errors import ImageError

    options = {"quality": quality, "skip_existing": skip_existing, "overwrite": overwrite}
    if len(jobs) == 1 and show and not (skip_existing and jobs[0].target.exists()):
        try:
            bar = _tile_bar(upscaler, jobs[0], outscale, show)
        except ImageError:  # run_jobs reports it
            bar = click.progressbar(length=1, hidden=True)
        with bar:
            return run_jobs(jobs, lambda picture: upscaler.upscale_picture(picture, outscale, bar.update), **options)
    with click.progressbar(length=len(jobs), label="upscaling", show_eta=True, show_pos=True,
                           file=sys.stderr, hidden=not show or len(jobs) < 2) as bar:
        return run_jobs(jobs, lambda picture: upscaler.upscale_picture(picture, outscale), **options,
                        on_progress=lambda job, status: bar.update(1))
