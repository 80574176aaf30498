"""``falsr models``, ``falsr info`` and ``falsr cards``."""

from __future__ import annotations

import json
import sys
from typing import Any, Mapping

import click

from falsr_zoo.cli.choices import ModelReference
from falsr_zoo.cli.tables import format_table
from falsr_zoo.families.table import architecture, get_family
from falsr_zoo.zoo.registry import ModelEntry, entry_info, format_mult_adds, get_entry, list_entries
from falsr_zoo.zoo.weights_store import is_stored


@click.command("models")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def models_command(as_json: bool) -> None:
    """List the zoo: "weights" says whether weights are published, "stored" whether the local store holds them."""
    entries = list_entries()
    if as_json:
        click.echo(json.dumps([{**entry_info(e.name), "stored": is_stored(e)} for e in entries], indent=2))
        return
    rows = [
        [e.name, e.task, f"x{e.scale}" if e.scale else "-", f"{e.num_params:,}",
         f"{format_mult_adds(e.mult_adds)} @{e.reference_size[0]}x{e.reference_size[1]}",
         "yes" if e.weights else "no", "yes" if is_stored(e) else "no"]
        for e in entries
    ]
    click.echo(format_table(rows, ["model", "task", "scale", "params", "mult-adds", "weights", "stored"]))


@click.command("info")
@click.argument("name", type=ModelReference())
@click.option("--size", nargs=2, type=click.IntRange(min=1), metavar="H W", help="Input size for the costs.")
@click.option("--revision", help="Commit, tag or branch of an hf-hub: model.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def info_command(name: str, size: tuple[int, int] | None, revision: str | None, as_json: bool) -> None:
    """Show one model: a zoo entry, a model directory or hf-hub:owner/name (genome, costs, weights, metrics)."""
    from falsr_zoo.zoo.model_dir import is_model_reference

    if is_model_reference(name):
        _directory_info(name, size, revision, as_json)
        return
    if revision:
        raise click.UsageError("--revision applies to hf-hub: models")
    entry = get_entry(name)
    info = entry_info(entry.name)
    spec = architecture(entry)
    if size:
        info["costs_at_size"] = {"size": list(size), "mult_adds": spec.macs(*size)}
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    h, w = size or entry.reference_size
    macs = info["costs_at_size"]["mult_adds"] if size else entry.mult_adds
    lines = [
        f"{entry.name}: {entry.summary}",
        f"task        {entry.task}" + (f", x{entry.scale}" if entry.scale else ""),
        f"parameters  {entry.num_params:,}",
        f"mult-adds   {format_mult_adds(macs)} at {h}x{w}",
        "genome:",
        *("  " + part for part in spec.to_string("\n").splitlines()),
        *_options_lines(entry.options, entry.preprocessing),
    ]
    if entry.weights:
        lines += _weights_lines(entry)
    else:
        lines.append("weights     none reachable (load with pretrained=False, or weights=PATH)")
    for dataset, metrics in entry.paper_metrics.items():
        ours = entry.reproduced_metrics.get(dataset, {})
        shown = ", ".join(f"{k} {v}" + (f" (ours {ours[k]})" if k in ours else "") for k, v in metrics.items())
        lines.append(f"{dataset:<11} {shown}")
    click.echo("\n".join(lines))


def _directory_info(name: str, size: tuple[int, int] | None, revision: str | None, as_json: bool) -> None:
    """``falsr info DIR``: the model directory's config, costs and checked weights."""
    from falsr_zoo.api import model_info

    info = model_info(name, revision=revision)
    spec = get_family(info["family"]).architecture(info["genome"], info["options"])
    if size:
        info["costs_at_size"] = {"size": list(size), "mult_adds": spec.macs(*size)}
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    where = "" if info["directory"] == info["name"] else f" {info['directory']}"
    scale = f", x{info['scale']}" if info["scale"] else ""
    lines = [f"{info['name']}: model directory{where}",
             f"task        {info['task']}{scale} ({info['family']} family)",
             f"parameters  {info['num_params']:,}"]
    h, w = size or info["reference_size"] or (None, None)
    if h is not None:
        lines.append(f"mult-adds   {format_mult_adds(spec.macs(h, w))} at {h}x{w}")
    lines += ["genome:", *("  " + part for part in spec.to_string("\n").splitlines())]
    lines += _options_lines(info["options"], {})
    digest = info["weights"]["sha256"]
    lines += [f"weights     {info['weights']['path']}",
              f"sha256      {digest} (checked against config.json)" if digest else "sha256      not recorded"]
    for dataset, metrics in info["metrics"].items():
        lines.append(f"{dataset:<11} " + ", ".join(f"{k} {v}" for k, v in metrics.items()))
    click.echo("\n".join(lines))


def _weights_lines(entry: ModelEntry) -> list[str]:
    spec = entry.weights
    lines = []
    if spec.repo_id:
        lines.append(f"weights     Hub {spec.repo_id}@{spec.revision}/{spec.filename}")
    if spec.source_path:
        lines.append(f"weights     {spec.source_file_url()} (converted on first use)")
    return [*lines, f"sha256      {spec.sha256} (stored file)"]


def _options_lines(options: Mapping[str, Any], preprocessing: Mapping[str, Any]) -> list[str]:
    lines = []
    if options:
        lines.append("options     " + " ".join(f"{k}={v}" for k, v in options.items()))
    if preprocessing:
        steps = preprocessing
        numbers = lambda values: ",".join(f"{v:.4f}" for v in values)  # noqa: E731
        lines.append(f"preprocess  resize {steps['resize']}, crop {steps['crop']}, "
                     f"mean {numbers(steps['mean'])}, std {numbers(steps['std'])}")
    return lines


@click.command("cards")
@click.option("--dir", "directory", default="model_cards", show_default=True, type=click.Path(file_okay=False))
@click.option("--check", is_flag=True, help="Only check that the cards are up to date (exit 1 if not).")
def cards_command(directory: str, check: bool) -> None:
    """Render the model cards from the registry."""
    from falsr_zoo.cards import stale_cards, write_cards

    if check:
        stale = stale_cards(directory)
        if stale:
            click.echo(f"stale model cards: {', '.join(stale)} (run: falsr cards --dir {directory})", err=True)
            sys.exit(1)
        click.echo("model cards are up to date")
        return
    for path in write_cards(directory):
        click.echo(str(path))

