"""Model cards, rendered from the registry's metadata (never typed by hand).

Hugging Face card format: a YAML header (licence, tags, datasets, ``model-index`` with the
paper's metrics) built with ``huggingface_hub.ModelCardData``, then a Markdown body. ``falsr
cards`` writes ``model_cards/<name>.md``; ``falsr cards --check`` (and a test) fails when a
committed card differs from what the registry renders.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from falsr_zoo._files import atomic_write_bytes
from falsr_zoo.families.table import architecture, get_family
from falsr_zoo.zoo.registry import ModelEntry, list_entries

__all__ = ["render_card", "stale_cards", "write_cards", "format_mult_adds", "CARD_SECTIONS"]

_METRIC_NAMES = {
    "psnr": "PSNR (Y, dB)",
    "ssim": "SSIM (Y)",
    "top1": "Top-1 accuracy (%)",
    "top5": "Top-5 accuracy (%)",
    "error": "Test error (%)",
}


def format_mult_adds(value: int) -> str:
    """``235.00 G`` from a billion up, ``608.2 M`` below."""
    return f"{value / 1e9:.2f} G" if value >= 1e9 else f"{value / 1e6:.1f} M"


def card_data(entry: ModelEntry) -> ModelCardData:
    """The YAML header: licence, tags, datasets and a model-index of the paper's metrics."""
    results = [
        EvalResult(
            task_type=entry.task,
            dataset_type=dataset,
            dataset_name=dataset,
            metric_type=metric,
            metric_value=value,
            metric_name=_METRIC_NAMES.get(metric, metric),
            source_name=f"{entry.paper.get('venue', 'paper')} paper",
            source_url=entry.paper.get("url"),
        )
        for dataset, metrics in entry.paper_metrics.items()
        for metric, value in metrics.items()
    ]
    extra = {"license_name": "unspecified-upstream"} if entry.license == "other" else {}
    return ModelCardData(
        model_name=entry.name,
        license=entry.license,
        library_name="falsr-zoo",
        pipeline_tag="image-to-image" if entry.task == "image-super-resolution" else "image-classification",
        tags=list(entry.tags),
        datasets=list(entry.paper_metrics) or None,
        eval_results=results or None,
        **extra,
    )


def _header(entry: ModelEntry) -> str:
    return f"# {entry.name}\n\n{entry.summary}\n\nPaper: [{entry.paper['title']}]({entry.paper['url']}), {entry.paper['venue']}."


def _genome(entry: ModelEntry) -> str:
    text = "## Genome\n\n```text\n" + architecture(entry).to_string("\n") + "\n```"
    if entry.options:
        text += "\n\nBuild options: " + ", ".join(f"`{k}={v}`" for k, v in entry.options.items()) + "."
    return text


def _falsr_usage(entry: ModelEntry) -> str:
    weights = entry.weights
    convert = f"falsr convert path/to/{weights.source_file}\n" if weights and weights.source_file else ""
    return (
        "## Usage\n\n```python\nfrom PIL import Image\nfrom falsr_zoo import load, upscale_image\n\n"
        f'model = load("{entry.name}")\n'
        'upscale_image(model, Image.open("photo.png")).save("photo_x2.png")\n```\n\n'
        f"```bash\n{convert}falsr upscale photo.png --model {entry.name}\n```"
    )


def _classifier_usage(entry: ModelEntry) -> str:
    h, w = entry.reference_size
    load_line = (
        f'model = load("{entry.name}")' if entry.weights
        else f'model = load("{entry.name}", weights="{entry.name}.safetensors")  # or pretrained=False: untrained'
    )
    return (
        "## Usage\n\n```python\nfrom PIL import Image\nfrom falsr_zoo import classify_image, load\n\n"
        f"{load_line}\n"
        'classify_image(model, Image.open("photo.jpg"), labels=class_names, top_k=5)\n'
        f"logits = model(x)  # x: (N, 3, {h}, {w}), preprocessed as below\n\n"
        "# training: auxiliary head and drop-path\n"
        f'net = load("{entry.name}", pretrained=False, options={{"aux_head": True, "drop_path_prob": 0.1}}).train()\n'
        "logits, aux_logits = net(x, return_aux=True)\n```\n\n"
        f"```bash\nfalsr info {entry.name}\n```\n\n"
        + _preprocessing(entry)
    )


def _preprocessing(entry: ModelEntry) -> str:
    steps = entry.preprocessing
    numbers = lambda values: "(" + ", ".join(f"{v:.4f}" for v in values) + ")"  # noqa: E731
    resize = f"resize the shorter side to {steps['resize']} ({steps['interpolation']}), " if steps.get("resize") else ""
    return (
        f"Preprocessing: RGB, {resize}centre crop {steps['crop']}x{steps['crop']}, scale to [0, 1], "
        f"subtract mean {numbers(steps['mean'])}, divide by std {numbers(steps['std'])}."
    )


USAGE: dict[str, Callable[[ModelEntry], str]] = {
    "image-super-resolution": _falsr_usage,
    "image-classification": _classifier_usage,
}
"""Task -> the card's usage section."""


def _usage(entry: ModelEntry) -> str:
    return USAGE[entry.task](entry)


def _deployment(entry: ModelEntry) -> str:
    """The deployment section: the family row's own text (FALSR's end-to-end snippet), or one made
    from the row's default graph (its inputs, outputs and an ONNX Runtime call)."""
    row = get_family(entry.family).export()
    name = entry.name
    if row is None:
        return "## Deployment\n\nONNX export is not available for this model family yet."
    if row.deployment_card is not None:
        return row.deployment_card(name)
    feeds = ", ".join(f'"{spec.name}": {spec.name}' for spec in row.inputs)
    shapes = "; ".join(f"`{spec.name}` ({', '.join(map(str, spec.dim_names()))}) float32" for spec in row.inputs)
    return (
        "## Deployment\n\n"
        f"Export the ONNX graph (dynamic batch, height and width) and run it with ONNX Runtime alone:\n\n"
        f"```bash\nfalsr export {name} --format onnx -o {name}.onnx\n```\n\n"
        "```python\nimport onnxruntime as ort\n\n"
        f'session = ort.InferenceSession("{name}.onnx", providers=["CPUExecutionProvider"])\n'
        f"outputs = session.run(None, {{{feeds}}})\n```\n\n"
        f"Inputs: {shapes}. Outputs: {', '.join(f'`{o}`' for o in row.outputs)}."
    )


def _costs(entry: ModelEntry) -> str:
    h, w = entry.reference_size
    return (
        "## Size\n\n| | this package (counted on the module) | paper |\n|---|---|---|\n"
        f"| parameters | {entry.num_params:,} | {entry.paper_costs.get('params', '-')} |\n"
        f"| mult-adds at {h}x{w} | {format_mult_adds(entry.mult_adds)} | {entry.paper_costs.get('mult_adds', '-')} |"
    )


def _format_metric(name: str, value: float, psnr_digits: int) -> str:
    if name == "ssim":
        return f"{value:.4f}"
    if name == "psnr":
        return f"{value:.{psnr_digits}f}"
    return f"{_METRIC_NAMES.get(name, name)} {value}"


def _format_metrics(metrics: dict[str, float], psnr_digits: int) -> str:
    return " / ".join(_format_metric(k, v, psnr_digits) for k, v in metrics.items())


def _metrics(entry: ModelEntry) -> str:
    rows = ["## Results", "", "| dataset | paper | this package |", "|---|---|---|"]
    unmeasured = (
        "not measured (no weights are reachable)" if entry.weights is None
        else "not measured here (only Set5 and Set14 are at hand)"
    )
    for dataset, paper in entry.paper_metrics.items():
        ours = entry.reproduced_metrics.get(dataset)
        measured = _format_metrics(ours, 4) if ours else unmeasured
        rows.append(f"| {dataset} | {_format_metrics(paper, 2)} | {measured} |")
    return "\n".join(rows)


def _notes(entry: ModelEntry) -> str:
    return f"## This entry and the paper\n\n{entry.notes}" if entry.notes else ""


def _weights(entry: ModelEntry) -> str:
    w = entry.weights
    if w is None:
        return (
            "## Weights\n\nNo published weights are reachable for this model. Build it untrained with "
            f'`load("{entry.name}", pretrained=False)`, or load a safetensors file with '
            f'`load("{entry.name}", weights=PATH)`.\n\nLicence: {entry.license_notes}'
        )
    return (
        "## Weights\n\n"
        f"- File: `{w.filename}` in Hub repository `{w.repo_id}`, revision `{w.revision}`\n"
        f"- sha256: `{w.sha256}` ({w.num_bytes:,} bytes, safetensors)\n"
        f"- Converted from `{w.source_file}` (sha256 `{w.source_sha256}`), {w.source_url}\n\n"
        f"Licence: {entry.license_notes}"
    )


def _citation(entry: ModelEntry) -> str:
    return f"## Citation\n\n```bibtex\n{entry.paper['bibtex']}\n```"


CARD_SECTIONS: list[Callable[[ModelEntry], str]] = [
    _header, _genome, _usage, _deployment, _costs, _metrics, _notes, _weights, _citation,
]
"""Body sections, in order; each renders one part of the card from an entry (or ``""`` to skip)."""


def render_card(entry: ModelEntry) -> str:
    """The full card text of ``entry``."""
    body = "\n\n".join(text for text in (section(entry) for section in CARD_SECTIONS) if text)
    card = ModelCard(f"---\n{card_data(entry).to_yaml()}\n---\n\n{body}\n")
    return str(card)


def write_cards(directory: str | os.PathLike[str]) -> list[Path]:
    """Render every zoo entry's card into ``directory``."""
    paths = []
    for entry in list_entries():
        path = Path(directory) / f"{entry.name}.md"
        atomic_write_bytes(path, render_card(entry).encode())
        paths.append(path)
    return paths


def stale_cards(directory: str | os.PathLike[str]) -> list[str]:
    """Names of the entries whose card in ``directory`` is missing or differs from the rendering."""
    stale = []
    for entry in list_entries():
        path = Path(directory) / f"{entry.name}.md"
        if not path.is_file() or path.read_text(encoding="utf-8") != render_card(entry):
            stale.append(entry.name)
    return stale
