"""``falsr compare``: one picture of LR, bicubic and each model side by side, with a zoomed crop."""

from __future__ import annotations

import io
from pathlib import Path

import click

from falsr_zoo.cli.choices import SR_TASK, ModelReference, model_help
from falsr_zoo.cli.run_options import threads_option
from falsr_zoo.zoo.registry import list_entries


@click.command("compare")
@click.argument("image", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-m", "--model", "names", multiple=True, type=ModelReference(SR_TASK),
              help=model_help(SR_TASK) + " Repeatable  [default: every super-resolution zoo model].")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="The picture (PNG)  [default: <image>_compare.png beside it].")
@click.option("--crop", type=(click.IntRange(min=0), click.IntRange(min=0), click.IntRange(min=1)),
              metavar="LEFT TOP SIZE",
              help="The square to zoom, in pixels of the x2 panels  [default: where the first model departs "
                   "most from bicubic].")
@click.option("--overwrite", is_flag=True, help="Replace an existing output.")
@threads_option()
def compare_command(image: Path, names: tuple[str, ...], output: Path | None, crop: tuple[int, int, int] | None,
                    overwrite: bool, threads: int | None) -> None:
    """Side-by-side picture: LR, bicubic and each model, with a zoomed crop.

    IMAGE is the low-resolution input. Panels: the LR image enlarged x2 with nearest neighbour,
    bicubic (MATLAB's imresize), then each --model's x2 output; below them the same crop of each,
    enlarged so that single pixels show. Made with Pillow alone.
    """
    from falsr_zoo._files import atomic_write_bytes, check_writable
    from falsr_zoo.cli.model_options import check_sr_model
    from falsr_zoo.errors import OutputExistsError
    from falsr_zoo.imageio import as_rgb_array, read_picture

    target = output or image.with_name(f"{image.stem}_compare.png")
    if target.suffix.lower() != ".png":
        raise click.UsageError(f"-o {target}: the picture is written as PNG (lossless); name it .png")
    if target.exists() and not overwrite:
        raise OutputExistsError(f"{target} exists; pass --overwrite")
    check_writable(target)
    pixels = read_picture(image).pixels
    lr = as_rgb_array(pixels[..., :3] if pixels.shape[2] >= 3 else pixels[..., 0]) if pixels.dtype == "uint8" else None
    if lr is None:
        raise click.UsageError(f"{image}: compare takes 8-bit images")
    names = names or tuple(entry.name for entry in list_entries() if entry.task == SR_TASK)
    for name in names:  # every name checked before torch and the first model load
        check_sr_model(name, command="compare")
    from falsr_zoo.api import load
    from falsr_zoo.runtime.threads import set_threads
    from falsr_zoo.sr.compare import Crop, comparison_picture
    from falsr_zoo.sr.upscale import Upscaler

    set_threads(threads)
    outputs = [(name, Upscaler(load(name)).upscale(lr)) for name in names]
    picture = comparison_picture(lr, outputs, crop=Crop(*crop) if crop else None)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", optimize=True)
    atomic_write_bytes(target, buffer.getvalue())
    click.echo(f"wrote {target} ({picture.width}x{picture.height}: LR | bicubic | {' | '.join(names)})")
