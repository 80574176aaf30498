"""``falsr eval``: metrics on a data set with the release's protocol."""

from __future__ import annotations

import json

import click

from falsr_zoo.api import load
from falsr_zoo.families.table import family_of
from falsr_zoo.sr.evaluate import evaluate
from falsr_zoo.sr.upscale import upscale_array
from falsr_zoo.zoo.model_dir import is_model_reference
from falsr_zoo.zoo.registry import get_entry


@click.command("eval")
@click.option("-m", "--model", "name", required=True,
              help="Zoo model name, model directory (./my-model, e.g. a training run's model/) or hf-hub:owner/name.")
@click.option("--data", required=True, type=click.Path(exists=True, file_okay=False), help="Directory of *_HR/*_LR images.")
@click.option("--weights", type=click.Path(exists=True, dir_okay=False), help="Explicit safetensors file.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def eval_command(name: str, data: str, weights: str | None, as_json: bool) -> None:
    """Y-PSNR / SSIM of a model on a test set (2-pixel border, BT.601 Y)."""
    if is_model_reference(name):
        if weights:
            raise click.UsageError("--weights applies to zoo models; a model directory carries its weights")
        model = load(name)
        task = family_of(model).task
    else:
        task = get_entry(name).task
        model = None
    if task != "image-super-resolution":
        raise click.UsageError(f"{name} is an {task} model; falsr eval needs a super-resolution model")
    model = model if model is not None else load(name, weights=weights)
    result = evaluate(lambda lr: upscale_array(model, lr), data, model=name, scale=model.scale)
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2))
        return
    for image, metrics in result.images.items():
        click.echo(f"{image:<32} {metrics['psnr']:8.4f} dB  {metrics['ssim']:.4f}")
    click.echo(f"{name} on {result.dataset}: {result.mean_psnr:.4f} dB / {result.mean_ssim:.4f} ({len(result.images)} images)")

