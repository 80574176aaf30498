"""``falsr-search``: run, resume and read neural architecture searches (the ``falsr-search`` console script).

The only module that imports :mod:`falsr_zoo.search` (an import-linter contract). Like ``falsr``,
each command parses, checks, calls one library function and prints; domain errors are one line
and an exit status (:mod:`falsr_zoo.cli.exit_codes`).
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

import click

from falsr_zoo._version import __version__
from falsr_zoo.cli import LazyGroup
from falsr_zoo.cli.exit_codes import EXIT_INTERRUPTED
from falsr_zoo.search.budget import estimate_budget
from falsr_zoo.search.executors import EXECUTORS
from falsr_zoo.search.reports import export_candidates, plot_front, retrain_candidates, status
from falsr_zoo.search.search_loop import SearchEvent, resume_search, run_search
from falsr_zoo.search.settings import PRESETS, load_config

__all__ = ["main"]

_DIR = click.Path(exists=True, file_okay=False)


@click.group(cls=LazyGroup, lazy_commands={}, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="falsr-search")
@click.option("-v", "--verbose", is_flag=True, help="Log every generation and evaluation to stderr.")
def main(verbose: bool) -> None:
    """Neural architecture search for FALSR networks (NSGA-II + RL controller + roulette wheel).

    A run lives in one directory (an SQLite store, kept weights, a data cache); a run killed at
    any moment continues with `falsr-search resume DIR`.
    """
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")


class _Progress:
    """A progress bar over the run's evaluations, and one line per generation (stderr)."""

    def __init__(self, quiet: bool, total: int, done: int = 0) -> None:
        self.quiet = quiet
        self.bar = None if quiet else click.progressbar(length=total, label="evaluating", show_eta=True,
                                                        show_pos=True, file=sys.stderr)
        if self.bar is not None:
            self.bar.__enter__()
            self.bar.update(done)

    def __call__(self, event: SearchEvent) -> None:
        if self.quiet:
            return
        if event.kind == "evaluated":
            self.bar.update(1)
            return
        report = event.report or {}
        reward = f", controller reward {report['controller_reward']:.3f}" if "controller_reward" in report else ""
        click.echo(f"\ngeneration {event.generation + 1}/{event.generations}: hypervolume "
                   f"{report.get('hypervolume', 0.0):.4g}, front {len(report.get('front', []))}{reward}", err=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


def _ids(pick: str) -> list[int]:
    try:
        return [int(part) for part in pick.split(",") if part.strip()]
    except ValueError:
        raise click.UsageError(f"--pick {pick!r}: expected candidate ids like 12,40") from None


def _run_with_progress(function: Any, quiet: bool, total: int, done: int, **kwargs: Any) -> None:
    progress = _Progress(quiet, total, done)
    try:
        function(progress=progress, **kwargs)
    except KeyboardInterrupt:
        progress.close()
        click.echo("interrupted: every finished evaluation is stored; continue with falsr-search resume", err=True)
        sys.exit(EXIT_INTERRUPTED)
    progress.close()


@main.command("run")
@click.argument("config_file", required=False, type=click.Path(exists=True, dir_okay=False))
@click.option("--preset", type=click.Choice(list(PRESETS)), help="A named configuration instead of CONFIG.toml.")
@click.option("--data", required=True, type=_DIR, help="Training images (HR folder or *_HR/*_LR pairs).")
@click.option("--val", required=True, type=_DIR, help="Validation folder (the PSNR objective).")
@click.option("--run-dir", required=True, type=click.Path(file_okay=False, path_type=Path), help="New run directory.")
@click.option("--seed", type=int, help="Seed of the whole run (overrides the config's).")
@click.option("--executor", type=click.Choice(EXECUTORS), default="local", show_default=True)
@click.option("--workers", type=click.IntRange(min=0), help="local: worker processes (default: one per GPU, "
                                                             "none on a CPU); ray: CPUs of a local Ray.")
@click.option("--ray-address", help="Join this Ray cluster instead of starting a local one.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a config key (train.KEY=VALUE for the evaluations' training), repeatable.")
@click.option("--dry-run", is_flag=True, help="Print the budget (evaluations, measured time estimate) and exit.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def run_command(config_file: str | None, preset: str | None, data: str, val: str, run_dir: Path, seed: int | None,
                executor: str, workers: int | None, ray_address: str | None, overrides: tuple[str, ...],
                dry_run: bool, quiet: bool) -> None:
    """Start a search from CONFIG.toml or --preset (paper, smoke) into --run-dir."""
    if (config_file is None) == (preset is None):
        raise click.UsageError("give CONFIG.toml or --preset NAME")
    items = [*overrides, *([f"seed={seed}"] if seed is not None else [])]
    config = load_config(config_file, preset=preset, overrides=items)
    if dry_run:
        budget = estimate_budget(config, data, val, workers=max(1, workers or 1))
        click.echo(json.dumps({"config_digest": config.digest(), **budget.to_json()}, indent=2))
        return
    _run_with_progress(run_search, quiet, config.evaluations, 0, run_dir=run_dir, config=config, data=data, val=val,
                       executor=executor, workers=workers, address=ray_address)
    _print_status(run_dir)


@main.command("resume")
@click.argument("run_dir", type=_DIR)
@click.option("--executor", type=click.Choice(EXECUTORS), default="local", show_default=True)
@click.option("--workers", type=click.IntRange(min=0))
@click.option("--ray-address")
@click.option("-q", "--quiet", is_flag=True)
def resume_command(run_dir: str, executor: str, workers: int | None, ray_address: str | None, quiet: bool) -> None:
    """Continue a search: nothing finished is recomputed; interrupted evaluations are re-queued."""
    report = status(run_dir)
    done = report["done"] + report["failed"] + report["untrained"]
    _run_with_progress(resume_search, quiet, report["population"] * report["generations"], done, run_dir=run_dir,
                       executor=executor, workers=workers, address=ray_address)
    _print_status(Path(run_dir))


def _print_status(run_dir: Path) -> None:
    report = status(run_dir)
    click.echo(f"{report['run_dir']}: generation {report['generation']}/{report['generations']}, "
               f"{report['done']} evaluated, {report['pending'] + report['running']} pending, {report['failed']} failed, "
               f"{report['untrained']} over the mult-adds bound; hypervolume {report['hypervolume']:.4g}; "
               f"front of {len(report['front'])}")


@main.command("status")
@click.argument("run_dir", type=_DIR)
@click.option("--json", "as_json", is_flag=True)
def status_command(run_dir: str, as_json: bool) -> None:
    """Where a run stands: generation, evaluations by status, hypervolume, the front, timings."""
    report = status(run_dir)
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    _print_status(Path(run_dir))
    mean = report["evaluation_seconds"]["mean"]
    if mean is not None:
        click.echo(f"evaluations: {mean:.1f} s on average, {report['evaluation_seconds']['total'] / 3600:.2f} h in all")
    _front_table(report["front"])


def _front_table(rows: list[dict[str, Any]]) -> None:
    click.echo(f"{'id':>5}  {'PSNR':>8}  {'mult-adds':>10}  {'params':>9}  genome")
    for row in rows:
        click.echo(f"{row['id']:>5}  {row['psnr']:8.4f}  {row['mult_adds'] / 1e9:9.2f}G  {row['params']:>9,}  {row['genome']}")


@main.command("front")
@click.argument("run_dir", type=_DIR)
@click.option("--json", "as_json", is_flag=True, help="Print the front as a JSON list of objects.")
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path), help="Write PSNR / mult-adds as a PNG.")
def front_command(run_dir: str, as_json: bool, plot: Path | None) -> None:
    """The Pareto front (PSNR up; mult-adds and parameters down) of the evaluated candidates."""
    rows = status(run_dir)["front"]
    if plot is not None:
        plot_front(run_dir, plot)
        if not as_json:
            click.echo(f"wrote {plot}", err=True)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    elif plot is None:
        _front_table(rows)


@main.command("export")
@click.argument("run_dir", type=_DIR)
@click.option("--pick", required=True, help="Candidate ids, comma-separated.")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path))
def export_command(run_dir: str, pick: str, out: Path) -> None:
    """Model directories (genome, incomplete-training weights, card) OUT/candidate-<id>."""
    for directory in export_candidates(run_dir, _ids(pick), out):
        click.echo(str(directory))


@main.command("retrain")
@click.argument("run_dir", type=_DIR)
@click.option("--pick", required=True, help="Candidate ids, comma-separated.")
@click.option("--data", required=True, type=_DIR, help="Training images for the full training.")
@click.option("--val", type=_DIR, help="Validation folder.")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--recipe", default="full", show_default=True)
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Training overrides, repeatable.")
def retrain_command(run_dir: str, pick: str, data: str, val: str | None, out: Path, recipe: str,
                    overrides: tuple[str, ...]) -> None:
    """Fully train picked candidates (the full recipe): training runs OUT/candidate-<id> ending in model/."""
    for result in retrain_candidates(run_dir, _ids(pick), data=data, val=val, out=out, recipe=recipe,
                                     overrides=list(overrides)):
        click.echo(f"{result.model_dir} ({', '.join(f'{k} {v:.4f}' for k, v in result.metrics.items()) or 'no validation'})")


if __name__ == "__main__":  # pragma: no cover
    main()
