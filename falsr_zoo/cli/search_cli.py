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
from falsr_zoo.search.reports import best_rows, export_candidates, plot_front, retrain_candidates, status
from falsr_zoo.search.search_loop import SearchEvent, load_run, resume_search, run_search
from falsr_zoo.search.settings import CONFIGS, PRESETS, load_config

__all__ = ["main"]

_DIR = click.Path(exists=True, file_okay=False)


@click.group(cls=LazyGroup, lazy_commands={}, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="falsr-search")
@click.option("-v", "--verbose", is_flag=True, help="Log every generation and evaluation to stderr.")
def main(verbose: bool) -> None:
    """Neural architecture search: FALSR networks (NSGA-II + RL controller + roulette wheel) and
    RENAS cells (tournament evolution + reinforced mutation controller + parameter inheritance).

    A run lives in one directory (an SQLite store, kept weights, a data cache); a run killed at
    any moment continues with `falsr-search resume DIR`.
    """
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")


def _falsr_line(event: SearchEvent, config: Any) -> str:
    report = event.report or {}
    reward = f", controller reward {report['controller_reward']:.3f}" if "controller_reward" in report else ""
    return (f"generation {event.generation + 1}/{event.generations}: hypervolume "
            f"{report.get('hypervolume', 0.0):.4g}, front {len(report.get('front', []))}{reward}")


def _renas_line(event: SearchEvent, config: Any) -> str:
    report = event.report or {}
    if "final" in report:
        return f"final population retrained from scratch: best {report['best']} at {report['best_top1']:.2f} % top-1"
    mean, std = report.get("population_mean"), report.get("population_std")
    population = f"population {mean:.2f} ± {std:.2f} % top-1" if mean is not None else "no population"
    if event.generation == 0:
        return f"initial population: {population}"
    children = ", ".join(f"{c['id']} {c['top1']:.2f} %" if c["top1"] is not None else f"{c['id']} failed"
                         for c in report.get("children", []))
    reward = f", controller reward {report['controller_reward']:.3f}" if "controller_reward" in report else ""
    return f"step {event.generation}/{config.steps}: child {children}; {population}{reward}"


_GENERATION_LINES = {"falsr": _falsr_line, "renas": _renas_line}


class _Progress:
    """A progress bar over the run's evaluations, and one line per generation (stderr)."""

    def __init__(self, quiet: bool, total: int, config: Any, done: int = 0) -> None:
        self.quiet, self.config, self.line = quiet, config, _GENERATION_LINES[config.family]
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
        click.echo("\n" + self.line(event, self.config), err=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


def _ids(pick: str) -> list[int | str]:
    try:
        return [part.strip() if part.strip() == "best" else int(part) for part in pick.split(",") if part.strip()]
    except ValueError:
        raise click.UsageError(f"--pick {pick!r}: expected candidate ids like 12,40 (or best, for RENAS runs)") from None


def _run_with_progress(function: Any, quiet: bool, total: int, done: int, run_config: Any, **kwargs: Any) -> None:
    progress = _Progress(quiet, total, run_config, done)
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
@click.option("--family", type=click.Choice(list(CONFIGS)),
              help="The family searched; alone, its paper preset (paper, renas-paper).")
@click.option("--data", required=True, type=_DIR,
              help="Training images (FALSR: HR folder or *_HR/*_LR pairs; RENAS: CIFAR-10 binary batches or "
                   "DIR/<class>/<images>).")
@click.option("--val", type=_DIR, help="Validation folder (FALSR: required, the PSNR objective; RENAS: instead of "
                                        "holding out val_split training images).")
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
def run_command(config_file: str | None, preset: str | None, family: str | None, data: str, val: str | None,
                run_dir: Path, seed: int | None, executor: str, workers: int | None, ray_address: str | None,
                overrides: tuple[str, ...], dry_run: bool, quiet: bool) -> None:
    """Start a search from CONFIG.toml, --preset (paper, smoke, renas-paper, renas-smoke) or --family into --run-dir."""
    if config_file is not None and preset is not None or (config_file is None and preset is None and family is None):
        raise click.UsageError("give CONFIG.toml or --preset NAME")
    items = [*overrides, *([f"seed={seed}"] if seed is not None else [])]
    config = load_config(config_file, preset=preset, overrides=items, family=family)
    if dry_run:
        config.check_data(data, val)
        budget = estimate_budget(config, data, val, workers=max(1, workers or 1))
        click.echo(json.dumps({"config_digest": config.digest(), **budget.to_json()}, indent=2))
        return
    _run_with_progress(run_search, quiet, config.evaluations, 0, config, run_dir=run_dir, config=config,
                       data=data, val=val, executor=executor, workers=workers, address=ray_address)
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
    _run_with_progress(resume_search, quiet, report["evaluations"], done, load_run(run_dir)[1], run_dir=run_dir,
                       executor=executor, workers=workers, address=ray_address)
    _print_status(Path(run_dir))


def _print_status(run_dir: Path) -> None:
    report = status(run_dir)
    if report["family"] == "renas":
        _print_renas_status(report)
        return
    click.echo(f"{report['run_dir']}: generation {report['generation']}/{report['generations']}, "
               f"{report['done']} evaluated, {report['pending'] + report['running']} pending, {report['failed']} failed, "
               f"{report['untrained']} over the mult-adds bound; hypervolume {report['hypervolume']:.4g}; "
               f"front of {len(report['front'])}")


def _print_renas_status(report: dict[str, Any]) -> None:
    mean, std = report["population_mean"], report["population_std"]
    population = f"population {mean:.2f} ± {std:.2f} % top-1" if mean is not None else "no population yet"
    click.echo(f"{report['run_dir']}: step {report['step']}/{report['steps']}, {report['done']} evaluated, "
               f"{report['pending'] + report['running']} pending, {report['failed']} failed; {population}")
    if report["best"] is not None:
        best = report["best"]
        click.echo(f"best after retraining the final population from scratch: {best['id']} "
                   f"({best['top1']:.2f} % top-1): {best['genome']}")


@main.command("status")
@click.argument("run_dir", type=_DIR)
@click.option("--json", "as_json", is_flag=True)
def status_command(run_dir: str, as_json: bool) -> None:
    """Where a run stands: generation, evaluations by status, hypervolume, the front, timings (RENAS:
    step, the population's accuracy, its history, the best cell)."""
    report = status(run_dir)
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    _print_status(Path(run_dir))
    mean = report["evaluation_seconds"]["mean"]
    if mean is not None:
        click.echo(f"evaluations: {mean:.1f} s on average, {report['evaluation_seconds']['total'] / 3600:.2f} h in all")
    _TABLES[report["family"]](report["front"] if report["family"] == "falsr" else report["population"])


def _front_table(rows: list[dict[str, Any]]) -> None:
    click.echo(f"{'id':>5}  {'PSNR':>8}  {'mult-adds':>10}  {'params':>9}  genome")
    for row in rows:
        click.echo(f"{row['id']:>5}  {row['psnr']:8.4f}  {row['mult_adds'] / 1e9:9.2f}G  {row['params']:>9,}  {row['genome']}")


def _population_table(rows: list[dict[str, Any]]) -> None:
    click.echo(f"{'id':>5}  {'top-1':>7}  {'retrained':>9}  {'mult-adds':>10}  {'params':>9}  genome")
    for row in rows:
        retrained = f"{row['retrained_top1']:8.2f}%" if "retrained_top1" in row else f"{'-':>9}"
        click.echo(f"{row['id']:>5}  {row['top1']:6.2f}%  {retrained}  {row['mult_adds'] / 1e6:9.1f}M  "
                   f"{row['params']:>9,}  {row['genome']}")


_TABLES = {"falsr": _front_table, "renas": _population_table}


@main.command("front")
@click.argument("run_dir", type=_DIR)
@click.option("--json", "as_json", is_flag=True, help="Print the front as a JSON list of objects.")
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path),
              help="Write a PNG: PSNR / mult-adds (FALSR), accuracy over the steps (RENAS, the paper's Fig. 4).")
def front_command(run_dir: str, as_json: bool, plot: Path | None) -> None:
    """The Pareto front (PSNR up; mult-adds and parameters down) of the evaluated candidates; for
    RENAS, the living population, best first."""
    rows = best_rows(run_dir)
    if plot is not None:
        plot_front(run_dir, plot)
        if not as_json:
            click.echo(f"wrote {plot}", err=True)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    elif plot is None:
        _TABLES[status(run_dir)["family"]](rows)


@main.command("export")
@click.argument("run_dir", type=_DIR)
@click.option("--pick", required=True, help="Candidate ids, comma-separated (RENAS: or best).")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the model directories as a JSON list.")
def export_command(run_dir: str, pick: str, out: Path, as_json: bool) -> None:
    """Model directories (genome, incomplete-training weights, card) OUT/candidate-<id>."""
    directories = [str(directory) for directory in export_candidates(run_dir, _ids(pick), out)]
    if as_json:
        click.echo(json.dumps(directories, indent=2))
        return
    for directory in directories:
        click.echo(directory)


@main.command("retrain")
@click.argument("run_dir", type=_DIR)
@click.option("--pick", required=True, help="Candidate ids, comma-separated (RENAS: or best).")
@click.option("--data", required=True, type=_DIR, help="Training images for the full training.")
@click.option("--val", type=_DIR, help="Validation folder.")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--recipe", default="full", show_default=True)
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Training overrides, repeatable.")
@click.option("--network", metavar="N,F", help="RENAS: cells per stage and filters (default 6,32; the paper's "
                                               "mobile ImageNet network is 4,44 with --layout imagenet).")
@click.option("--layout", type=click.Choice(["cifar10", "imagenet"]), help="RENAS: the network layout (default cifar10).")
@click.option("--json", "as_json", is_flag=True, help="Print each model directory and its validation metrics as JSON.")
def retrain_command(run_dir: str, pick: str, data: str, val: str | None, out: Path, recipe: str,
                    overrides: tuple[str, ...], network: str | None, layout: str | None, as_json: bool) -> None:
    """Fully train picked candidates (the full recipe): training runs OUT/candidate-<id> ending in model/."""
    size = None
    if network is not None:
        try:
            num_cells, filters = (int(part) for part in network.split(","))
        except ValueError:
            raise click.UsageError(f"--network {network!r}: expected N,F like 6,32") from None
        size = (num_cells, filters)
    results = retrain_candidates(run_dir, _ids(pick), data=data, val=val, out=out, recipe=recipe,
                                 overrides=list(overrides), network=size, layout=layout)
    if as_json:
        click.echo(json.dumps([{"model_dir": str(r.model_dir), "metrics": dict(r.metrics)} for r in results], indent=2))
        return
    for result in results:
        click.echo(f"{result.model_dir} ({', '.join(f'{k} {v:.4f}' for k, v in result.metrics.items()) or 'no validation'})")


if __name__ == "__main__":  # pragma: no cover
    main()
