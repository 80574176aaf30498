"""``falsr bench``: latency, throughput and peak memory of the whole upscale on a backend."""

from __future__ import annotations

import json

import click

from falsr_zoo.cli.choices import BACKEND_CHOICES, SR_TASK
from falsr_zoo.cli.model_options import check_sr_model, load_model, model_options
from falsr_zoo.cli.run_options import check_precision, check_tile, precision_option, threads_option, tile_option
from falsr_zoo.families.table import get_family


@click.command("bench")
@model_options
@click.option("--size", nargs=2, type=click.IntRange(min=1), required=True, metavar="H W", help="LR image size.")
@click.option("--backend", type=click.Choice(BACKEND_CHOICES), default="torch", show_default=True)
@click.option("--repeats", type=click.IntRange(min=1), default=10, show_default=True, help="Timed runs.")
@click.option("--warmup", type=click.IntRange(min=0), default=2, show_default=True, help="Untimed runs first.")
@precision_option("Network body, as falsr upscale --precision (onnxruntime / tensorrt: fp32 or fp16).")
@click.option("--fp16", is_flag=True, hidden=True, help="The same as --precision fp16 (kept for older scripts).")
@tile_option()
@threads_option()
@click.option("--engine", type=click.Path(exists=True, dir_okay=False),
              help="tensorrt: a built engine [default: build one whose profile covers --size].")
@click.option("--json", "as_json", is_flag=True,
              help='Print {"model", "backend", "size", "median_s", "mp_per_s", "peak_rss_mb", "precision", "tile", '
                   '"threads"}.')
def bench_command(name: str | None, genome: str | None, family: str, options: tuple[str, ...], weights: str | None,
                  untrained: bool, size: tuple[int, int], backend: str, repeats: int, warmup: int, precision: str,
                  fp16: bool, tile: int | None, threads: int | None, engine: str | None, as_json: bool) -> None:
    """Time the whole x2 upscale of an H x W image (median latency, output MP/s, peak RSS)."""
    if fp16:
        if precision not in ("fp32", "fp16"):
            raise click.UsageError(f"--fp16 and --precision {precision} disagree; give --precision alone")
        precision = "fp16"
    if engine and backend != "tensorrt":
        raise click.UsageError("--engine applies to --backend tensorrt")
    check_precision(precision, backend)
    if name is not None and genome is None:
        check_sr_model(name, weights=weights, command="bench")  # a classifier or a typo, before torch loads
    elif get_family(family).task != SR_TASK:
        raise click.UsageError(f"a {family} genome is an {get_family(family).task} model; falsr bench times upscales")
    from falsr_zoo.export.tensorrt_engine import require_tensorrt
    from falsr_zoo.runtime.threads import set_threads
    from falsr_zoo.sr.bench import benchmark

    if backend == "tensorrt":
        require_tensorrt()  # fail before loading anything
    set_threads(threads)
    model, zoo_name = load_model(name, genome, family, weights, untrained, options)
    check_tile(tile, model.genome.receptive_radius(), zoo_name or name or "the genome")
    backend_options: dict[str, object] = {}
    if backend == "tensorrt":
        # Without an engine, build one that takes the whole image: the network is timed untiled.
        backend_options = {"engine": engine} if engine else {"max_tile": size, "max_batch": 1}
    result = benchmark(model, size, backend=backend, name=zoo_name or "genome", repeats=repeats, warmup=warmup,
                       precision=precision, tile=tile, backend_options=backend_options)
    if as_json:
        click.echo(json.dumps(result.to_json()))
        return
    h, w = result.size
    click.echo(
        f"{result.model} on {result.backend}, {h}x{w} -> {h * result.scale}x{w * result.scale}: "
        f"median {result.median_s:.4f} s (min {min(result.times_s):.4f}, max {max(result.times_s):.4f}; "
        f"{repeats} runs after {warmup} warm-up), {result.mp_per_s:.3f} MP/s of output, "
        f"peak RSS {result.peak_rss_mb:.0f} MiB ({result.peak_rss_scope}; {result.precision}, "
        f"{result.threads} thread{'s' if result.threads != 1 else ''})"
    )
