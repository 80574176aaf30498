"""``falsr bench``: latency, throughput and peak memory of the whole upscale on a backend."""

from __future__ import annotations

import json

import click

from falsr_zoo.cli.choices import BACKEND_CHOICES
from falsr_zoo.cli.model_options import load_model, model_options


@click.command("bench")
@model_options
@click.option("--size", nargs=2, type=click.IntRange(min=1), required=True, metavar="H W", help="LR image size.")
@click.option("--backend", type=click.Choice(BACKEND_CHOICES), default="torch", show_default=True)
@click.option("--repeats", type=click.IntRange(min=1), default=10, show_default=True, help="Timed runs.")
@click.option("--warmup", type=click.IntRange(min=0), default=2, show_default=True, help="Untimed runs first.")
@click.option("--fp16", is_flag=True, help="onnxruntime / tensorrt: float16 network body.")
@click.option("--engine", type=click.Path(exists=True, dir_okay=False),
              help="tensorrt: a built engine [default: build one whose profile covers --size].")
@click.option("--json", "as_json", is_flag=True,
              help='Print {"model", "backend", "size", "median_s", "mp_per_s", "peak_rss_mb"}.')
def bench_command(name: str | None, genome: str | None, family: str, options: tuple[str, ...], weights: str | None,
                  untrained: bool, size: tuple[int, int],
                  backend: str, repeats: int, warmup: int, fp16: bool, engine: str | None, as_json: bool) -> None:
    """Time the whole x2 upscale of an H x W image (median latency, output MP/s, peak RSS)."""
    from falsr_zoo.export.tensorrt_engine import require_tensorrt
    from falsr_zoo.sr.bench import benchmark

    if engine and backend != "tensorrt":
        raise click.UsageError("--engine applies to --backend tensorrt")
    if fp16 and backend == "torch":
        raise click.UsageError("--fp16 applies to --backend onnxruntime or tensorrt")
    if backend == "tensorrt":
        require_tensorrt()  # fail before loading anything
    model, zoo_name = load_model(name, genome, family, weights, untrained, options)
    options: dict[str, object] = {"precision": "fp16"} if fp16 else {}
    if backend == "tensorrt":
        # Without an engine, build one that takes the whole image: the network is timed untiled.
        options = {"engine": engine} if engine else {**options, "max_tile": size, "max_batch": 1}
    result = benchmark(model, size, backend=backend, name=zoo_name or "genome", repeats=repeats, warmup=warmup,
                       backend_options=options)
    if as_json:
        click.echo(json.dumps(result.to_json()))
        return
    h, w = result.size
    click.echo(
        f"{result.model} on {result.backend}, {h}x{w} -> {h * result.scale}x{w * result.scale}: "
        f"median {result.median_s:.4f} s (min {min(result.times_s):.4f}, max {max(result.times_s):.4f}; "
        f"{repeats} runs after {warmup} warm-up), {result.mp_per_s:.3f} MP/s of output, "
        f"peak RSS {result.peak_rss_mb:.0f} MiB ({result.peak_rss_scope})"
    )

