"""Model cards, rendered from the registry's metadata (never typed by hand).

Hugging Face card format: a YAML header (licence, tags, datasets, ``model-index`` with the
paper's metrics) built with ``huggingface_hub.ModelCardData``, then a Markdown body. ``falsr
cards`` writes ``model_cards/<name>.md``; ``falsr cards --check`` (and a test) fails when a
committed card differs from what the registry renders.

The card of a model directory (a model of your own, :mod:`falsr_zoo.zoo.model_dir`) is rendered
from its ``config.json`` by :func:`render_directory_card`, with the same header and sections.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from falsr_zoo._files import atomic_write_bytes, check_writable
from falsr_zoo.families.table import architecture, get_family
from falsr_zoo.zoo.model_dir import WEIGHTS_NAME, ModelConfig, zoo_architecture
from falsr_zoo.zoo.registry import ModelEntry, format_mult_adds, list_entries

__all__ = [
    "CARD_SECTIONS",
    "DIRECTORY_CARD_SECTIONS",
    "format_mult_adds",
    "render_card",
    "render_directory_card",
    "stale_cards",
    "write_cards",
]

_METRIC_NAMES = {
    "psnr": "PSNR (Y, dB)",
    "ssim": "SSIM (Y)",
    "top1": "Top-1 accuracy (%)",
    "top5": "Top-5 accuracy (%)",
    "error": "Test error (%)",
}


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
    return ModelCardData(
        model_name=entry.name,
        license=entry.license,
        library_name="falsr-zoo",
        pipeline_tag="image-to-image" if entry.task == "image-super-resolution" else "image-classification",
        tags=list(entry.tags),
        datasets=list(entry.paper_metrics) or None,
        eval_results=results or None,
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
    first_use = (
        f"\n\nThe first use fetches `{weights.source_file}` from the authors' release and converts it into the "
        f"local store (see Weights); on a machine without network, convert a copy of the file instead:\n\n"
        f"```bash\nfalsr convert path/to/{weights.source_file}\n```"
        if weights and weights.source_path else ""
    )
    return (
        "## Usage\n\n```python\nfrom PIL import Image\nfrom falsr_zoo import load, upscale_image\n\n"
        f'model = load("{entry.name}")\n'
        'upscale_image(model, Image.open("photo.png")).save("photo_x2.png")\n```\n\n'
        f"```bash\nfalsr upscale photo.png --model {entry.name}\n```{first_use}"
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
    lines = ["## Weights", ""]
    if w.source_path:
        lines += [
            f"- Source: the authors' `{w.source_path}` in {w.source_url}, at commit `{w.source_commit}`: "
            f"{w.source_file_url()} (sha256 `{w.source_sha256}`). Fetched on first use (`FALSR_ZOO_OFFICIAL_URL` "
            "points at a mirror instead), checked, and converted on your machine; nothing is re-hosted.",
        ]
    if w.repo_id:
        lines.append(f"- Published copy: `{w.filename}` in Hub repository `{w.repo_id}`, revision `{w.revision}`")
    lines += [
        f"- Stored as: `{entry.name}.safetensors` in the local store (`$FALSR_ZOO_HOME/weights`), sha256 "
        f"`{w.sha256}` ({w.num_bytes:,} bytes); conversion is deterministic and a file with another digest is refused.",
        "",
        f"Licence of the weights: `{entry.license}`. {entry.license_notes}",
    ]
    return "\n".join(lines)


def _citation(entry: ModelEntry) -> str:
    return f"## Citation\n\n```bibtex\n{entry.paper['bibtex']}\n```"


COMPARISON_PICTURE = "docs/figures/compare_{name}.png"
"""A super-resolution entry's comparison picture, relative to the repository root (made by
``benchmarks/compare_pictures.py`` with ``falsr compare``); the cards in ``model_cards/`` link it."""


def _example(entry: ModelEntry) -> str:
    if entry.task != "image-super-resolution":
        return ""
    path = COMPARISON_PICTURE.format(name=entry.name)
    return (
        "## Example\n\n"
        f"![LR (nearest x2) | bicubic | {entry.name}, with a zoomed crop](../{path})\n\n"
        f"A synthetic test card (drawn with Pillow, reduced x2 with MATLAB's bicubic), upscaled x2: the LR image "
        f"enlarged with nearest neighbour, bicubic, and {entry.name}; below, the same crop of each. Made with "
        f"`falsr compare LR.png --model {entry.name}` (`benchmarks/compare_pictures.py`)."
    )


CARD_SECTIONS: list[Callable[[ModelEntry], str]] = [
    _header, _genome, _usage, _example, _deployment, _costs, _metrics, _notes, _weights, _citation,
]
"""Body sections, in order; each renders one part of the card from an entry (or ``""`` to skip)."""


def render_card(entry: ModelEntry) -> str:
    """The full card text of ``entry``."""
    body = "\n\n".join(text for text in (section(entry) for section in CARD_SECTIONS) if text)
    card = ModelCard(f"---\n{card_data(entry).to_yaml()}\n---\n\n{body}\n")
    return str(card)


def write_cards(directory: str | os.PathLike[str]) -> list[Path]:
    """Render every zoo entry's card into ``directory`` (created if needed).

    Raises:
        OutputError: ``directory`` cannot be written (checked before any card is written).
    """
    check_writable(directory, directory=True)
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


# --------------------------------------------------------------------------------------------
# Cards of model directories (models of your own)

_PIPELINE_TAGS = {"image-super-resolution": "image-to-image", "image-classification": "image-classification"}


def _family_entries(config: ModelConfig) -> list[ModelEntry]:
    """The zoo entries of the config's family, those of the same layout first."""
    entries = list_entries(config.family)
    layout = config.options.get("layout")
    return sorted(entries, key=lambda e: e.options.get("layout") != layout)


def directory_card_data(config: ModelConfig) -> ModelCardData:
    """The YAML header of a model directory's card: tags of its family and a model-index of its metrics."""
    entries = _family_entries(config)
    results = [
        EvalResult(task_type=config.task, dataset_type=dataset, dataset_name=dataset, metric_type=metric,
                   metric_value=value, metric_name=_METRIC_NAMES.get(metric, metric))
        for dataset, metrics in config.metrics.items()
        for metric, value in metrics.items()
    ]
    return ModelCardData(
        model_name=f"{config.family} model",
        library_name="falsr-zoo",
        pipeline_tag=_PIPELINE_TAGS.get(config.task),
        tags=sorted({*(entries[0].tags if entries else ()), "falsr-zoo", "safetensors"}),
        datasets=list(config.metrics) or None,
        eval_results=results or None,
    )


def _directory_header(config: ModelConfig) -> str:
    scale = f" x{config.scale}" if config.scale else ""
    match = zoo_architecture(config)
    same = f" Its architecture is the zoo's {match.name}." if match else ""
    return (f"# {config.family.upper()} model ({config.task}{scale})\n\n"
            f"A {config.family} network saved by falsr-zoo as a model directory: `config.json` (genome, build "
            f"options, metrics), `{WEIGHTS_NAME}` (weights), this card.{same}")


def _directory_genome(config: ModelConfig) -> str:
    spec = get_family(config.family).architecture(config.genome, config.options)
    text = "## Genome\n\n```text\n" + spec.to_string("\n") + "\n```"
    if config.options:
        text += "\n\nBuild options: " + ", ".join(f"`{k}={v}`" for k, v in sorted(config.options.items())) + "."
    return text


def _directory_usage(config: ModelConfig) -> str:
    load_lines = (
        'model = load("hf-hub:OWNER/NAME")          # this repository on the Hub (revision="COMMIT" pins it)\n'
        'model = load("path/to/this/directory")     # or a local copy\n'
    )
    if config.task == "image-super-resolution":
        return (
            "## Usage\n\n```python\nfrom PIL import Image\nfrom falsr_zoo import load, upscale_image\n\n"
            f"{load_lines}"
            'upscale_image(model, Image.open("photo.png")).save("photo_x2.png")\n```\n\n'
            "```bash\nfalsr upscale photo.png --model hf-hub:OWNER/NAME\n```"
        )
    return (
        "## Usage\n\n```python\nfrom PIL import Image\nfrom falsr_zoo import classify_image, load\n\n"
        f"{load_lines}"
        'classify_image(model, Image.open("photo.jpg"), labels=class_names, top_k=5)\n```'
    )


def _directory_costs(config: ModelConfig) -> str:
    spec = get_family(config.family).architecture(config.genome, config.options)
    entries = _family_entries(config)
    h, w = entries[0].reference_size if entries else (224, 224)
    return (
        "## Size\n\n| | counted from the genome |\n|---|---|\n"
        f"| parameters (training-only heads excluded) | {spec.num_params():,} |\n"
        f"| mult-adds at {h}x{w} | {format_mult_adds(spec.macs(h, w))} |"
    )


def _directory_metrics(config: ModelConfig) -> str:
    if not config.metrics:
        return "## Results\n\nNo metrics were recorded when this model was saved."
    rows = ["## Results", "", "| dataset | metrics |", "|---|---|"]
    for dataset, metrics in config.metrics.items():
        rows.append(f"| {dataset} | " + ", ".join(f"{_METRIC_NAMES.get(k, k)} {v:g}" for k, v in metrics.items()) + " |")
    return "\n".join(rows)


def _directory_weights(config: ModelConfig) -> str:
    return (
        "## Weights\n\n"
        f"- `{WEIGHTS_NAME}`, sha256 `{config.weights_sha256}` (recorded in `config.json`; a file that differs "
        "is refused)\n"
        "- safetensors only: loading never unpickles anything."
    )


def _directory_citation(config: ModelConfig) -> str:
    entries = _family_entries(config)
    if not entries:
        return ""
    return f"## Citation\n\nThe {config.family} family comes from:\n\n```bibtex\n{entries[0].paper['bibtex']}\n```"


DIRECTORY_CARD_SECTIONS: list[Callable[[ModelConfig], str]] = [
    _directory_header, _directory_genome, _directory_usage, _directory_costs, _directory_metrics,
    _directory_weights, _directory_citation,
]
"""Body sections of a model directory's card, in order."""


def render_directory_card(config: ModelConfig) -> str:
    """The ``README.md`` of a model directory, from its ``config.json``."""
    body = "\n\n".join(text for text in (section(config) for section in DIRECTORY_CARD_SECTIONS) if text)
    return str(ModelCard(f"---\n{directory_card_data(config).to_yaml()}\n---\n\n{body}\n"))
