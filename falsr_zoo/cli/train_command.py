"""``falsr train``: train or fine-tune any FALSR genome or RENAS cell; ``falsr train --resume DIR``.

The training engine (torch) loads when a run starts, after the run directory is known to be
writable; ``--help`` and ``--list-keys`` load no torch at all.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from falsr_zoo.cli.choices import ModelReference
from falsr_zoo.cli.exit_codes import EXIT_INTERRUPTED
from falsr_zoo.cli.model_options import parse_options
from falsr_zoo.cli.run_options import FiniteFloatRange, threads_option
from falsr_zoo.families.table import FAMILIES
from falsr_zoo.zoo.registry import get_entry

if TYPE_CHECKING:
    from falsr_zoo.train import TrainResult
    from falsr_zoo.train.engine import Progress


_DIR = click.Path(exists=True, file_okay=False)


def _family_of(model: str, family: str | None) -> str:
    try:
        entry = get_entry(model)
    except LookupError:
        return family or "falsr"
    if family is not None and family != entry.family:
        raise click.UsageError(f"{entry.name} is a {entry.family} model, not --family {family}")
    return entry.family


class _Bar:
    """A progress bar on stderr with loss, the last validation and ETA (rank 0 only); it also
    notes the step this invocation started from."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet or int(os.environ.get("RANK", "0")) != 0
        self.bar = None
        self.text = ""
        self.start: int | None = None

    def __call__(self, progress: Progress) -> None:
        if self.start is None:
            self.start = progress.step - 1  # called after every step: the first call follows step start + 1
        if self.quiet:
            return
        if self.bar is None:
            self.bar = click.progressbar(length=progress.total, label="training", show_eta=True, show_pos=True,
                                         file=sys.stderr, item_show_func=lambda _: self.text)
            self.bar.__enter__()
            self.bar.update(progress.step - 1)
        parts = [f"loss {progress.loss:.4g}"] if progress.loss is not None else []
        if progress.validation:
            self.last = ", ".join(f"{k} {v:.4f}" for k, v in progress.validation.items())
        if getattr(self, "last", None):
            parts.append(self.last)
        self.text = "  ".join(parts)
        if progress.step > self.bar.pos:
            self.bar.update(progress.step - self.bar.pos)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


def _report(result: TrainResult, start: int | None) -> None:
    """What this invocation did: the steps it trained (a resumed run starts past 0), then the metrics."""
    if int(os.environ.get("RANK", "0")) != 0:
        return
    wait = 100 * result.data_wait_s / result.seconds if result.seconds else 0.0
    if start is None:
        click.echo(f"nothing to train: the run was complete at step {result.steps}")
    elif start:
        click.echo(f"trained {result.steps - start} steps, {start + 1}-{result.steps} ({result.seconds:.1f} s this "
                   f"session, {wait:.1f} % waiting on data)")
    else:
        click.echo(f"trained {result.steps} steps ({result.seconds:.1f} s, {wait:.1f} % waiting on data)")
    if result.metrics:
        click.echo("validation: " + ", ".join(f"{k} {v:.4f}" for k, v in result.metrics.items()))
    if result.model_dir is not None:
        click.echo(f"model directory: {result.model_dir}")


@click.command("train")
@click.argument("model", required=False)
@click.option("--family", type=click.Choice(list(FAMILIES)), help="Family of a genome MODEL [default: falsr].")
@click.option("--option", "options", multiple=True, metavar="KEY=VALUE",
              help="A network option of a genome (renas: layout=cifar10 num_cells=6 filters=32), repeatable.")
@click.option("--data", type=_DIR, help="Training images: an HR folder, *_HR/*_LR pairs, CIFAR-10 binary batches "
                                        "or DIR/<class>/<images>.")
@click.option("--data-lr", type=_DIR, help="Super-resolution: LR images paired with --data by name.")
@click.option("--val", type=_DIR, help="Validation folder (validated at --set val_every=N steps and at the end).")
@click.option("--run-dir", type=click.Path(file_okay=False, path_type=Path), help="New run directory.")
@click.option("--recipe", default="incomplete", show_default=True, help="incomplete or full (see --list-keys).")
@click.option("--steps", type=click.IntRange(min=1), help="Optimisation steps.")
@click.option("--epochs", type=FiniteFloatRange(min=0, min_open=True), help="Passes over the training images.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--init", type=ModelReference(), help="Start from a zoo model's weights or a model directory (fine-tuning).")
@click.option("--device", help="cpu, cuda, cuda:1 [default: CUDA when available].")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override any recipe value, repeatable.")
@click.option("--resume", "resume_dir", type=_DIR, help="Continue the run in this directory.")
@click.option("--list-keys", is_flag=True, help="Print the settable keys of the family and exit.")
@threads_option("PyTorch in this process (data loader workers use one each)")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def train_command(model: str | None, family: str | None, options: tuple[str, ...], data: str | None,
                  data_lr: str | None, val: str | None, run_dir: Path | None, recipe: str, steps: int | None,
                  epochs: float | None, seed: int, init: str | None, device: str | None, overrides: tuple[str, ...],
                  resume_dir: str | None, list_keys: bool, threads: int | None, quiet: bool) -> None:
    """Train MODEL (a zoo name or a genome string) on --data, into --run-dir.

    The run directory ends with model/, a model directory that load(), falsr upscale --model and
    falsr eval --model accept. A run killed at any point continues with falsr train --resume DIR.
    Works under torchrun (DistributedDataParallel).
    """
    if list_keys:
        chosen = _family_of(model, family) if model else (family or "falsr")
        from falsr_zoo.train.recipes import TrainConfig  # no torch: the package imports its engine lazily

        for key, text in TrainConfig.keys(chosen).items():
            if key not in ("family", "model", "options", "recipe"):
                click.echo(f"{key:<17} {text}")
        return
    from falsr_zoo._files import check_writable
    from falsr_zoo.train.recipes import make_config

    config = None
    if resume_dir is not None:
        if any((model, data, data_lr, val, run_dir, steps, epochs, init, options, overrides)):
            raise click.UsageError("--resume takes the run's own settings; give only --device, --threads (and -q)")
        check_writable(resume_dir, directory=True)
    else:
        if not model or not data or run_dir is None:
            raise click.UsageError("give MODEL, --data and --run-dir (or --resume DIR)")
        if steps and epochs:
            raise click.UsageError("--steps and --epochs exclude each other")
        chosen = _family_of(model, family)
        values = {"data": data, "data_lr": data_lr, "val": val, "seed": seed, "init": init, "device": device}
        if options:
            values["options"] = parse_options(chosen, options, require=False)
        if steps:
            values["steps"] = steps
        if epochs:
            values["epochs"] = epochs
        config = make_config(chosen, model, recipe=recipe, overrides=list(overrides), **values)  # checked, no torch
        check_writable(run_dir, directory=True)
    from falsr_zoo.runtime.threads import set_threads
    from falsr_zoo.train import TrainingInterrupted, resume, train

    set_threads(threads)
    bar = _Bar(quiet)
    try:
        if config is None:
            result = resume(resume_dir, progress=bar, overrides={"device": device} if device else None)
        else:
            result = train(config, run_dir, progress=bar)
    except TrainingInterrupted as stopped:
        bar.close()
        click.echo(f"interrupted: {stopped}", err=True)
        sys.exit(EXIT_INTERRUPTED)
    bar.close()
    _report(result, bar.start)
