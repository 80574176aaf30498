"""``falsr export``: a model to an ONNX graph or a TensorRT engine."""

from __future__ import annotations

from pathlib import Path

import click

from falsr_zoo.cli.model_options import load_model, model_options
from falsr_zoo.cli.run_options import threads_option

# The export package's defaults (falsr_zoo.export: EXPORT_OPSET, DEFAULT_MAX_TILE, DEFAULT_MAX_BATCH),
# repeated so that --help imports no torch; a test checks that they agree.
EXPORT_OPSET = 20
DEFAULT_MAX_TILE = (640, 640)
DEFAULT_MAX_BATCH = 4
_SUFFIX = {"onnx": ".onnx", "tensorrt": ".engine", "spandrel": ".safetensors"}


@click.command("export")
@model_options
@click.option("--format", "fmt", type=click.Choice(["onnx", "tensorrt", "spandrel"]), default="onnx", show_default=True,
              help="spandrel: a .safetensors file ComfyUI / chaiNNer load through falsr_zoo.spandrel.install().")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Output file [default: NAME.onnx / NAME.engine].")
@click.option("--core", is_flag=True, help="ONNX: the core network (y, pbpr -> rgb) instead of the end-to-end image graph.")
@click.option("--input-dtype", type=click.Choice(["uint8", "float32"]),
              help="End-to-end graph: uint8 RGB, or float32 RGB in [0, 1]  [default: uint8].")
@click.option("--fp16", is_flag=True, help="Float16 network body (inputs, outputs and colour step stay float32).")
@click.option("--opset", type=click.IntRange(min=18), default=EXPORT_OPSET, show_default=True, help="ONNX opset.")
@click.option("--max-tile", nargs=2, type=click.IntRange(min=1), metavar="H W",
              help=f"TensorRT: largest LR tile of the profile  [default: {DEFAULT_MAX_TILE[0]} {DEFAULT_MAX_TILE[1]}].")
@click.option("--max-batch", type=click.IntRange(min=1), help=f"TensorRT: largest batch  [default: {DEFAULT_MAX_BATCH}].")
@click.option("--no-check", is_flag=True, help="Skip the parity check against PyTorch.")
@click.option("--overwrite", is_flag=True, help="Replace existing output files.")
@threads_option("PyTorch (tracing and the parity check)")
def export_command(name: str | None, genome: str | None, family: str, options: tuple[str, ...], weights: str | None,
                   untrained: bool, fmt: str,
                   output: Path | None, core: bool, input_dtype: str | None, fp16: bool, opset: int,
                   max_tile: tuple[int, int] | None, max_batch: int | None, no_check: bool, overwrite: bool,
                   threads: int | None) -> None:
    """Export a zoo model (or any --genome) to ONNX, a TensorRT engine or a spandrel file.

    ONNX: by default the end-to-end graph (an RGB image in, the upscaled image out, nothing else
    needed but ONNX Runtime); --core for the network alone. Both have dynamic batch, height
    and width and are checked against PyTorch before they are written. TensorRT (NVIDIA GPU):
    an engine of the core graph whose profile fits the upscaler's tiles, plus <file>.json.
    spandrel: the RGB-in, RGB-out module's state dict, genome included (FALSR models).
    """
    from falsr_zoo._files import check_writable

    if fmt == "spandrel" and (core or input_dtype or fp16 or max_tile or max_batch or opset != EXPORT_OPSET):
        raise click.UsageError("--format spandrel takes none of --core, --input-dtype, --fp16, --opset, "
                               "--max-tile, --max-batch (front ends pick the precision)")
    if fmt == "onnx" and (max_tile or max_batch):
        raise click.UsageError("--max-tile and --max-batch apply to --format tensorrt")
    if fmt == "tensorrt" and (core or input_dtype):
        raise click.UsageError("TensorRT engines are always built from the core graph; drop --core / --input-dtype")
    if core and input_dtype:
        raise click.UsageError("--input-dtype applies to the end-to-end graph, not --core")
    check_writable(output or _default_target(name, fmt))  # the default lies in the current folder too
    from falsr_zoo.export import export_onnx, export_tensorrt
    from falsr_zoo.export.tensorrt_engine import require_tensorrt
    from falsr_zoo.runtime.threads import set_threads
    from falsr_zoo.spandrel import save_file as save_spandrel_file

    set_threads(threads)
    if fmt == "spandrel":
        model, zoo_name = load_model(name, genome, family, weights, untrained, options)
        path = save_spandrel_file(model, output or Path(f"{zoo_name or 'model'}.safetensors"), overwrite=overwrite)
        click.echo(f"wrote {path} (FALSR {model.genome.n_cells} cells, RGB in and out, genome in the state dict; "
                   "load with falsr_zoo.spandrel.install() then spandrel.ModelLoader().load_from_file)")
        return
    if fmt == "tensorrt":
        require_tensorrt()  # fail before loading anything
    model, zoo_name = load_model(name, genome, family, weights, untrained, options)
    target = output or Path(f"{zoo_name or 'model'}{_SUFFIX[fmt]}")
    precision = "fp16" if fp16 else "fp32"
    if fmt == "onnx":
        result = export_onnx(model, target, form="core" if core else None, input_dtype=input_dtype,
                             precision=precision, opset=opset, check=not no_check, overwrite=overwrite, name=zoo_name)
        click.echo(f"wrote {result.path} ({result.form} graph, {precision}, opset {result.opset}, "
                   f"{result.num_bytes / 1e6:.1f} MB)")
        for label, values in (("input ", result.inputs), ("output", result.outputs)):
            for value_name, dtype, dims in values:
                click.echo(f"  {label} {value_name} {dtype} [{', '.join(map(str, dims))}]")
    else:
        result = export_tensorrt(model, target, precision=precision, max_tile=max_tile or DEFAULT_MAX_TILE,
                                 max_batch=max_batch or DEFAULT_MAX_BATCH, opset=opset, check=not no_check,
                                 overwrite=overwrite, name=zoo_name)
        p = result.info.profile
        click.echo(f"wrote {result.path} and {result.sidecar} ({precision}, batch <= {p.max_batch}, "
                   f"LR tiles up to {p.max_height}x{p.max_width}, TensorRT {result.info.tensorrt_version} "
                   f"on {result.info.device})")
    for report in result.parity:
        click.echo(f"  parity {report.summary()}")


def _default_target(name: str | None, fmt: str) -> Path:
    """Where the export goes without ``-o``: ``<zoo name><suffix>`` (``model<suffix>`` for a genome or
    directory that is no zoo model) in the current folder."""
    from falsr_zoo.errors import UnknownModelError
    from falsr_zoo.zoo.registry import get_entry

    try:
        stem = get_entry(name).name if name else "model"
    except UnknownModelError:
        stem = "model"
    return Path(f"{stem}{_SUFFIX[fmt]}")
