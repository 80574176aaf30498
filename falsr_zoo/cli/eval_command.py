"""``falsr eval``: metrics on a data set with the release's protocol, beside bicubic's."""

from __future__ import annotations

import json
from pathlib import Path

import click

from falsr_zoo.cli.choices import BACKEND_CHOICES, SR_TASK, ModelReference, model_help
from falsr_zoo.cli.run_options import check_precision, precision_option, threads_option
from falsr_zoo.families.table import FAMILIES


@click.command("eval")
@click.option("-m", "--model", "name", type=ModelReference(SR_TASK),
              help=model_help(SR_TASK, "Zoo model") + " A training run's model/ directory too.")
@click.option("--genome", help="Any FALSR genome instead of --model (with --weights, or untrained).")
@click.option("--family", type=click.Choice(list(FAMILIES)), default="falsr", show_default=True,
              help="Model family of --genome.")
@click.option("--weights", type=click.Path(exists=True, dir_okay=False),
              help="Explicit safetensors file for a zoo model or --genome.")
@click.option("--data", required=True, type=click.Path(exists=True, file_okay=False), help="Directory of *_HR/*_LR images.")
@click.option("--save-images", "save_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Also write each SR image here as <name>_SR.png.")
@precision_option("Network body (the colour step and chroma stay fp32): the loss of a precision in one command.")
@click.option("--backend", type=click.Choice(BACKEND_CHOICES), default="torch", show_default=True)
@click.option("--device", help="torch device (default: cuda if available, else cpu).")
@threads_option()
@click.option("--json", "as_json", is_flag=True, help="Print JSON (the model's metrics and bicubic's).")
def eval_command(name: str | None, genome: str | None, family: str, weights: str | None, data: str,
                 save_dir: Path | None, precision: str, backend: str, device: str | None, threads: int | None,
                 as_json: bool) -> None:
    """Y-PSNR / SSIM of a model on a test set (2-pixel border, BT.601 Y), beside bicubic upscaling.

    The model is a zoo name, a model directory, hf-hub:owner/name, or any --genome with its
    --weights. The bicubic column is MATLAB's imresize of the LR image, the papers' baseline.
    """
    from falsr_zoo._files import check_writable
    from falsr_zoo.cli.model_options import check_sr_model, load_model

    check_precision(precision, backend)
    if save_dir is not None:
        check_writable(save_dir, directory=True)
    if name is not None and genome is None:
        check_sr_model(name, weights=weights, command="eval")  # a classifier or a typo, before torch loads
    from falsr_zoo.families.table import family_of
    from falsr_zoo.runtime.threads import set_threads
    from falsr_zoo.sr.evaluate import bicubic_upscale, evaluate
    from falsr_zoo.sr.upscale import Upscaler, upscale_array

    set_threads(threads)
    model, zoo_name = load_model(name, genome, family, weights)
    label = zoo_name or name or "genome"
    if family_of(model).task != SR_TASK:
        raise click.UsageError(f"{label} is an {family_of(model).task} model; falsr eval needs a super-resolution model")
    if (precision, backend, device) == ("fp32", "torch", None):
        # the reference path, untiled, as before this option existed (and as training scores its runs)
        upscale = lambda lr: upscale_array(model, lr)  # noqa: E731
    else:
        upscale = Upscaler(model, precision=precision, backend=backend, device=device).upscale
    result = evaluate(upscale, data, model=label, scale=model.scale, save_dir=save_dir)
    bicubic = evaluate(bicubic_upscale, data, model="bicubic", scale=model.scale)
    if as_json:
        click.echo(json.dumps({**result.to_json(), "precision": precision, "backend": backend,
                               "bicubic": bicubic.to_json()}, indent=2))
        return
    click.echo(f"{'image':<32} {label + ' (' + precision + ')':>24}  {'bicubic':>18}")
    for image, metrics in result.images.items():
        base = bicubic.images[image]
        click.echo(f"{image:<32} {metrics['psnr']:8.4f} dB  {metrics['ssim']:.4f}     "
                   f"{base['psnr']:8.4f} dB  {base['ssim']:.4f}")
    click.echo(f"{label} on {result.dataset}: {result.mean_psnr:.4f} dB / {result.mean_ssim:.4f}; bicubic "
               f"{bicubic.mean_psnr:.4f} dB / {bicubic.mean_ssim:.4f} ({len(result.images)} images, {precision})")
    if save_dir is not None:
        click.echo(f"SR images in {save_dir}")
