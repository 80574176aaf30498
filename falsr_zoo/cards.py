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

from falsr_zoo.export.families import deployment_section
from falsr_zoo.genome import parse_genome
from falsr_zoo.registry import ModelEntry, list_entries
from falsr_zoo.weights import atomic_write_bytes

__all__ = ["render_card", "stale_cards", "write_cards", "CARD_SECTIONS"]

_METRIC_NAMES = {"psnr": "PSNR (Y, dB)", "ssim": "SSIM (Y)", "top1": "Top-1 accuracy (%)", "top5": "Top-5 accuracy (%)"}


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
    return "## Genome\n\n```text\n" + parse_genome(entry.genome).to_string("\n") + "\n```"


def _usage(entry: ModelEntry) -> str:
    weights = entry.weights
    convert = f"falsr convert path/to/{weights.source_file}\n" if weights and weights.source_file else ""
    return (
        "## Usage\n\n```python\nfrom PIL import Image\nfrom falsr_zoo import load\n\n"
        f'model = load("{entry.name}")\n'
        'model.upscale(Image.open("photo.png")).save("photo_x2.png")\n```\n\n'
        f"```bash\n{convert}falsr upscale photo.png --model {entry.name}\n```"
    )


def _deployment(entry: ModelEntry) -> str:
    return deployment_section(entry.family, entry.name)


def _costs(entry: ModelEntry) -> str:
    h, w = entry.reference_size
    return (
        "## Size\n\n| | this package (counted on the module) | paper |\n|---|---|---|\n"
        f"| parameters | {entry.num_params:,} | {entry.paper_costs.get('params', '-')} |\n"
        f"| mult-adds at {h}x{w} | {entry.mult_adds / 1e9:.2f} G | {entry.paper_costs.get('mult_adds', '-')} |"
    )


def _format_metrics(metrics: dict[str, float], psnr_digits: int) -> str:
    return " / ".join(f"{v:.4f}" if k == "ssim" else f"{v:.{psnr_digits}f}" for k, v in metrics.items())


def _metrics(entry: ModelEntry) -> str:
    rows = ["## Results", "", "| dataset | paper | this package |", "|---|---|---|"]
    for dataset, paper in entry.paper_metrics.items():
        ours = entry.reproduced_metrics.get(dataset)
        measured = _format_metrics(ours, 4) if ours else "not measured here (only Set5 and Set14 are at hand)"
        rows.append(f"| {dataset} | {_format_metrics(paper, 2)} | {measured} |")
    return "\n".join(rows)


def _weights(entry: ModelEntry) -> str:
    w = entry.weights
    if w is None:
        return "## Weights\n\nNo published weights are reachable for this model."
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
    _header, _genome, _usage, _deployment, _costs, _metrics, _weights, _citation,
]
"""Body sections, in order; each renders one part of the card from an entry."""


def render_card(entry: ModelEntry) -> str:
    """The full card text of ``entry``."""
    body = "\n\n".join(section(entry) for section in CARD_SECTIONS)
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
