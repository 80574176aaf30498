"""``falsr-search``: run, resume and read neural architecture searches (the ``falsr-search`` console script).

The only module that imports :mod:`falsr_zoo.search` (an import-linter contract). Like ``falsr``,
each command parses, checks, calls one library function and prints; domain errors are one line
and an exit status (:mod:`falsr_zoo.cli.exit_codes`). Which family a run searches is the
search-family table's business (:mod:`falsr_zoo.search.table`): nothing here branches on it.
The search machinery (and torch) loads inside the commands' bodies, so ``falsr-search --help``
and every sub-command's ``--help`` stay light.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any, Callable

import click

from falsr_zoo._version import __version__
from falsr_zoo.cli import LazyGroup
from falsr_zoo.cli.exit_codes import EXIT_INTERRUPTED
from falsr_zoo.cli.run_options import threads_option
from falsr_zoo.search.table import SEARCH_FAMILIES

__all__ = ["main"]

_DIR = click.Path(exists=True, file_okay=False)
_EXECUTORS = ("local", "ray")


def _preset_names() -> list[str]:
    from falsr_zoo.search.config import all_presets

    return list(all_presets())


@click.group(cls=LazyGroup, lazy_commands={}, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="falsr-search")
@click.option("-v", "--verbose", is_flag=True, help="Log every generation and evaluation to stderr.")
def main(verbose: bool) -> None:
    """Neural architecture search: FALSR networks (NSGA-II + RL controller + roulette wheel) and
    RENAS cells (tournament evolution + reinforced mutation controller + parameter inheritance).

    A run lives in one directory (an SQLite store, kept weights, a data cache), driven by one
    process at a time; a run killed at any moment continues with `falsr-search resume DIR`.
    """
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")


class _Progress:
    """A progress bar over the run's evaluations, and one line per generation (stderr)."""

    def __init__(self, quiet: bool, total: int, config: Any, done: int = 0) -> None:
        self.quiet, self.config = quiet, config
        self.bar = None if quiet else click.progressbar(length=total, label="evaluating", show_eta=True,
                                                        show_pos=True, file=sys.stderr)
        if self.bar is not None:
            self.bar.__enter__()
            self.bar.update(done)

    def __call__(self, event: Any) -> None:
        if self.quiet:
            return
        if event.kind == "evaluated":
            self.bar.update(1)
            return
        from falsr_zoo.search.reports import generation_line

        click.echo("\n" + generation_line(self.config, event.generation, event.report or {}), err=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


def _run_with_progress(function: Callable[..., Any], quiet: bool, total: int, done: int, run_config: Any,
                       **kwargs: Any) -> None:
    progress = _Progress(quiet, total, run_config, done)
    try:
        function(progress=progress, **kwargs)
    except KeyboardInterrupt:
        progress.close()
        click.echo("interrupted: every finished evaluation is stored; continue with falsr-search resume", err=True)
        sys.exit(EXIT_INTERRUPTED)
    progress.close()


def _threads(threads: int | None, workers: int | None) -> None:
    from falsr_zoo.runtime.threads import set_threads

    set_threads(threads, workers=max(1, workers or 1))


def _print_status(run_dir: Path | str) -> dict[str, Any]:
    from falsr_zoo.search.reports import status, status_lines

    report = status(run_dir)
    for line in status_lines(report):
        click.echo(line)
    return report


_FAMILIES_HELP = "; ".join(f"{row.name}: {row.summary}" for row in SEARCH_FAMILIES.values())


@main.command("run", short_help="Start a search into a new run directory.")
@click.argument("config_file", required=False, type=click.Path(exists=True, dir_okay=False))
@click.option("--preset", metavar="NAME", help="A named configuration instead of CONFIG.toml (paper, smoke, "
                                               "renas-paper, renas-smoke).")
@click.option("--family", type=click.Choice(list(SEARCH_FAMILIES)),
              help=f"The family searched; alone, its paper preset. {_FAMILIES_HELP}.")
@click.option("--data", required=True, type=_DIR,
              help="Training images (FALSR: HR folder or *_HR/*_LR pairs; RENAS: CIFAR-10 binary batches or "
                   "DIR/<class>/<images>).")
@click.option("--val", type=_DIR, help="Validation folder (FALSR: required, the PSNR objective; RENAS: instead of "
                                        "holding out val_split training images).")
@click.option("--run-dir", required=True, type=click.Path(file_okay=False, path_type=Path), help="New run directory.")
@click.option("--seed", type=int, help="Seed of the whole run (overrides the config's).")
@click.option("--executor", type=click.Choice(_EXECUTORS), default="local", show_default=True)
@click.option("--workers", type=click.IntRange(min=0), help="local: worker processes (default: one per GPU, "
                                                             "none on a CPU); ray: CPUs of a local Ray.")
@click.option("--ray-address", help="Join this Ray cluster instead of starting a local one.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a config key (train.KEY=VALUE for the evaluations' training), repeatable.")
@click.option("--dry-run", is_flag=True, help="Print the budget (evaluations, measured time estimate) and exit.")
@click.option("--json", "as_json", is_flag=True, help="With --dry-run: print the budget as JSON.")
@threads_option("the evaluations (per worker process)")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def run_command(config_file: str | None, preset: str | None, family: str | None, data: str, val: str | None,
                run_dir: Path, seed: int | None, executor: str, workers: int | None, ray_address: str | None,
                overrides: tuple[str, ...], dry_run: bool, as_json: bool, threads: int | None, quiet: bool) -> None:
    """Start a search from CONFIG.toml, --preset or --family into --run-dir."""
    if config_file is not None and preset is not None or (config_file is None and preset is None and family is None):
        raise click.UsageError("give CONFIG.toml or --preset NAME")
    if as_json and not dry_run:
        raise click.UsageError("--json goes with --dry-run (falsr-search status --json reads a run)")
    from falsr_zoo.search.config import load_config

    items = [*overrides, *([f"seed={seed}"] if seed is not None else [])]
    config = load_config(config_file, preset=preset, overrides=items, family=family)
    _threads(threads, workers)
    if dry_run:
        from falsr_zoo.search.budget import estimate_budget

        config.check_data(data, val)
        budget = estimate_budget(config, data, val, workers=max(1, workers or 1))
        if as_json:
            click.echo(json.dumps({"config_digest": config.digest(), **budget.to_json()}, indent=2))
        else:
            click.echo(f"{config.family} search, config {config.digest()[:12]}: {budget.describe()}")
        return
    from falsr_zoo.search.loop import run_search

    _run_with_progress(run_search, quiet, config.evaluations, 0, config, run_dir=run_dir, config=config,
                       data=data, val=val, executor=executor, workers=workers, address=ray_address,
                       threads=threads)
    _print_status(run_dir)


@main.command("resume", short_help="Continue a search run (nothing finished is recomputed).")
@click.argument("run_dir", type=_DIR)
@click.option("--executor", type=click.Choice(_EXECUTORS), default="local", show_default=True)
@click.option("--workers", type=click.IntRange(min=0))
@click.option("--ray-address")
@threads_option("the evaluations (per worker process)")
@click.option("-q", "--quiet", is_flag=True)
def resume_command(run_dir: str, executor: str, workers: int | None, ray_address: str | None, threads: int | None,
                   quiet: bool) -> None:
    """Continue a search: nothing finished is recomputed; interrupted evaluations are re-queued."""
    from falsr_zoo.search.loop import load_run, resume_search
    from falsr_zoo.search.reports import status

    report = status(run_dir)
    done = report["done"] + report["failed"] + report["untrained"]
    _threads(threads, workers)
    _run_with_progress(resume_search, quiet, report["evaluations"], done, load_run(run_dir)[1], run_dir=run_dir,
                       executor=executor, workers=workers, address=ray_address, threads=threads)
    _print_status(run_dir)


@main.command("status", short_help="Where a run stands: generation, evaluations, the best models.")
@click.argument("run_dir", type=_DIR)
@click.option("--json", "as_json", is_flag=True)
def status_command(run_dir: str, as_json: bool) -> None:
    """Where a run stands: generation, evaluations by status, hypervolume, the front, timings (RENAS:
    step, the population's accuracy, its history, the best cell)."""
    from falsr_zoo.search.reports import best_rows, status, table_lines

    if as_json:
        click.echo(json.dumps(status(run_dir), indent=2))
        return
    report = _print_status(run_dir)
    mean = report["evaluation_seconds"]["mean"]
    if mean is not None:
        click.echo(f"evaluations: {mean:.1f} s on average, {report['evaluation_seconds']['total'] / 3600:.2f} h in all")
    for line in table_lines(report["family"], best_rows(run_dir)):
        click.echo(line)


@main.command("front", short_help="The Pareto front (FALSR) or the population (RENAS); --plot a figure.")
@click.argument("run_dir", type=_DIR)
@click.option("--json", "as_json", is_flag=True, help="Print the rows as a JSON list of objects.")
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path),
              help="Write a PNG: PSNR / mult-adds (FALSR, the paper's Fig. 6), accuracy over the steps (RENAS, "
                   "the paper's Fig. 4).")
def front_command(run_dir: str, as_json: bool, plot: Path | None) -> None:
    """The Pareto front (PSNR up; mult-adds and parameters down) of the evaluated candidates; for
    RENAS, the living population, best first."""
    from falsr_zoo.search.loop import load_run
    from falsr_zoo.search.reports import best_rows, plot_run, table_lines

    rows = best_rows(run_dir)
    if plot is not None:
        plot_run(run_dir, plot)
        if not as_json:
            click.echo(f"wrote {plot}", err=True)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    elif plot is None:
        for line in table_lines(load_run(run_dir)[1].family, rows):
            click.echo(line)


_PICK_HELP = ("Candidate ids, comma-separated; FALSR: or crowding:K (the K largest crowding distances of the "
              "PSNR / mult-adds front, the paper's pick); RENAS: or best.")


@main.command("export", short_help="Model directories of picked candidates, with their search weights.")
@click.argument("run_dir", type=_DIR)
@click.option("--pick", required=True, help=_PICK_HELP)
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the model directories as a JSON list.")
@threads_option("re-training weights the run did not keep")
def export_command(run_dir: str, pick: str, out: Path, as_json: bool, threads: int | None) -> None:
    """Model directories (genome, incomplete-training weights, card) OUT/candidate-<id>."""
    from falsr_zoo.search.reports import export_candidates

    _threads(threads, None)
    directories = [str(directory) for directory in export_candidates(run_dir, pick, out)]
    if as_json:
        click.echo(json.dumps(directories, indent=2))
        return
    for directory in directories:
        click.echo(directory)


@main.command("retrain", short_help="Fully train picked candidates (the full recipe).")
@click.argument("run_dir", type=_DIR)
@click.option("--pick", required=True, help=_PICK_HELP)
@click.option("--data", required=True, type=_DIR, help="Training images for the full training.")
@click.option("--val", type=_DIR, help="Validation folder.")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--recipe", default="full", show_default=True)
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Training overrides, repeatable.")
@click.option("--network", metavar="N,F", help="RENAS: cells per stage and filters (default 6,32; the paper's "
                                               "mobile ImageNet network is 4,44 with --layout imagenet).")
@click.option("--layout", type=click.Choice(["cifar10", "imagenet"]), help="RENAS: the network layout (default cifar10).")
@click.option("--json", "as_json", is_flag=True, help="Print each model directory and its validation metrics as JSON.")
@threads_option()
def retrain_command(run_dir: str, pick: str, data: str, val: str | None, out: Path, recipe: str,
                    overrides: tuple[str, ...], network: str | None, layout: str | None, as_json: bool,
                    threads: int | None) -> None:
    """Fully train picked candidates (the full recipe): training runs OUT/candidate-<id> ending in model/."""
    size = None
    if network is not None:
        try:
            num_cells, filters = (int(part) for part in network.split(","))
        except ValueError:
            raise click.UsageError(f"--network {network!r}: expected N,F like 6,32") from None
        size = (num_cells, filters)
    from falsr_zoo.search.reports import retrain_candidates

    _threads(threads, None)
    results = retrain_candidates(run_dir, pick, data=data, val=val, out=out, recipe=recipe, overrides=list(overrides),
                                 options={"network": size, "layout": layout})
    if as_json:
        click.echo(json.dumps([{"model_dir": str(r.model_dir), "metrics": dict(r.metrics)} for r in results], indent=2))
        return
    for result in results:
        click.echo(f"{result.model_dir} ({', '.join(f'{k} {v:.4f}' for k, v in result.metrics.items()) or 'no validation'})")


if __name__ == "__main__":  # pragma: no cover
    main()
