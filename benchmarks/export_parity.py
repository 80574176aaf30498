"""Parity of the exported ONNX graphs with the PyTorch pipeline, for the deployment note.

For each official model: the core graph against the module (max abs on random inputs of odd
sizes, portrait and landscape, batch 3; and on the data set's images), and the end-to-end graph
against the PyTorch pipeline (uint8 values that differ, the largest difference, and the mean
Y-PSNR of both on the data set). Usage::

    FALSR_ZOO_HOME=/tmp/export-home .venv/bin/python benchmarks/export_parity.py ../shared/falsr-official/dataset/Set5
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import onnxruntime as ort
from PIL import Image

from falsr_zoo.api import load
from falsr_zoo.export import EXPORT_OPSET, core_graph, wrap_core
from falsr_zoo.families.falsr.colour import chroma_inputs, luma_input
from falsr_zoo.families.falsr.falsr_export import colour_graph
from falsr_zoo.runtime.backends import TorchBackend
from falsr_zoo.sr.evaluate import evaluate, find_pairs
from falsr_zoo.sr.upscale import upscale_array

MODELS = ("FALSR-A", "FALSR-B", "FALSR-C")
RANDOM_SHAPES = [(3, 31, 17), (3, 17, 46)]


def _session(graph) -> ort.InferenceSession:  # noqa: ANN001
    return ort.InferenceSession(graph.SerializeToString(), providers=["CPUExecutionProvider"])


def measure(name: str, data: str) -> dict[str, float]:
    """The parity figures of one model on one data directory."""
    model = load(name)
    torch_backend = TorchBackend(model)
    core_trace = core_graph(model)
    core = _session(wrap_core(model, core_trace, form="core"))
    e2e = _session(wrap_core(model, core_trace))
    rng = np.random.default_rng(0)
    random_max = 0.0
    for n, h, w in RANDOM_SHAPES:
        y = rng.random((n, 1, h, w), dtype=np.float32)
        pbpr = rng.random((n, 2, 2 * h, 2 * w), dtype=np.float32) - 0.5
        random_max = max(random_max, float(np.abs(core.run(None, {"y": y, "pbpr": pbpr})[0] - torch_backend(y, pbpr)).max()))
    images_max, differing, values, largest = 0.0, 0, 0, 0
    for _, lr_path in find_pairs(data):
        lr = np.asarray(Image.open(lr_path).convert("RGB"))
        y, pbpr = luma_input(lr)[None, None], chroma_inputs(lr).transpose(2, 0, 1)[None]
        images_max = max(images_max, float(np.abs(core.run(None, {"y": y, "pbpr": pbpr})[0] - torch_backend(y, pbpr)).max()))
        diff = np.abs(e2e.run(None, {"image": lr[None]})[0][0].astype(int) - upscale_array(torch_backend, lr).astype(int))
        differing, values, largest = differing + int(np.count_nonzero(diff)), values + diff.size, max(largest, int(diff.max()))
    ours = evaluate(lambda lr: e2e.run(None, {"image": lr[None]})[0][0], data, model=name).mean_psnr
    pipeline = evaluate(lambda lr: upscale_array(torch_backend, lr), data, model=name).mean_psnr
    return {
        "core_random_max_abs": random_max,
        "core_images_max_abs": images_max,
        "e2e_values_differing": differing / values,
        "e2e_max_grey_levels": largest,
        "e2e_psnr": ours,
        "torch_psnr": pipeline,
        "delta_psnr": ours - pipeline,
    }


def chroma_agreement(data: str) -> dict[str, float]:
    """How often the graph's PbPr differ from the package's (PIL bicubic), inside and on the border."""
    run = _session(colour_graph(2, "uint8", EXPORT_OPSET))
    inside = inside_values = border = border_values = 0
    for _, lr_path in find_pairs(data):
        lr = np.asarray(Image.open(lr_path).convert("RGB"))
        _, pbpr = run.run(None, {"image": lr[None]})
        mismatch = np.abs(pbpr[0].transpose(1, 2, 0) - chroma_inputs(lr)) > 1e-5
        edge = np.ones(mismatch.shape[:2], bool)
        edge[2:-2, 2:-2] = False
        inside, inside_values = inside + int(mismatch[~edge].sum()), inside_values + int((~edge).sum()) * 2
        border, border_values = border + int(mismatch[edge].sum()), border_values + int(edge.sum()) * 2
    return {"inside_differing": inside / inside_values, "border_differing": border / border_values}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", help="a directory of *_HR/*_LR pairs (Set5)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    chroma = chroma_agreement(args.data)
    results = {name: measure(name, args.data) for name in MODELS}
    if args.json:
        print(json.dumps({"chroma": chroma, "models": results}, indent=2))
        return
    print(f"chroma (PbPr) values differing from PIL's bicubic path: {100 * chroma['inside_differing']:.4f} % inside, "
          f"{100 * chroma['border_differing']:.4f} % within 2 pixels of the border\n")
    print("| model | core max abs, random | core max abs, images | e2e uint8 values differing | e2e largest diff "
          "| Y-PSNR e2e | Y-PSNR PyTorch | delta |")
    print("|---|---|---|---|---|---|---|---|")
    for name, r in results.items():
        print(f"| {name} | {r['core_random_max_abs']:.2e} | {r['core_images_max_abs']:.2e} | "
              f"{100 * r['e2e_values_differing']:.4f} % | {r['e2e_max_grey_levels']} | {r['e2e_psnr']:.4f} | "
              f"{r['torch_psnr']:.4f} | {r['delta_psnr']:+.5f} |")


if __name__ == "__main__":
    main()
