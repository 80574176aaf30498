"""One test over every zoo entry, every family at once (torchvision's ``test_schema_meta_validation``):
per-task mandatory metadata, and the declared sizes recounted on the built module and by the
family's analytic cost model."""

from __future__ import annotations

import re

import pytest
import torch

from falsr_zoo.families.table import FAMILIES, architecture, family_of, get_family
from falsr_zoo.zoo.registry import ModelEntry, list_entries
from tests.costs import count_macs

ENTRIES = list_entries()

MANDATORY = {
    "image-super-resolution": ("scale", "weights", "reproduced_metrics"),
    "image-classification": ("preprocessing",),
}
"""Task -> entry fields that must be set."""


def _inputs(entry: ModelEntry, height: int, width: int, batch: int = 1) -> list[torch.Tensor]:
    row = get_family(entry.family).export()
    sizes = {"batch": batch, "height": height, "width": width}
    return [torch.empty(spec.shape(sizes), device="meta") for spec in row.inputs]


def test_every_family_has_entries_and_every_entry_a_family() -> None:
    assert {entry.family for entry in ENTRIES} == set(FAMILIES)


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.name)
def test_metadata_schema(entry: ModelEntry) -> None:
    family = get_family(entry.family)
    assert entry.task == family.task
    for name in MANDATORY[entry.task]:
        assert getattr(entry, name), f"{entry.name}: {name} is mandatory for {entry.task}"
    assert entry.paper.get("url", "").startswith("https://") and "@" in entry.paper.get("bibtex", "")
    assert entry.summary and entry.license and entry.tags
    if entry.weights is not None:
        assert re.fullmatch(r"[0-9a-f]{64}", entry.weights.sha256) and entry.weights.num_bytes > 0
        spec = entry.weights
        # a published copy is pinned, never a moving branch; so is the authors' file
        assert not spec.repo_id or (spec.revision and spec.revision not in ("main", "master"))
        assert spec.repo_id or spec.source_path, "weights that come from nowhere"
        assert not spec.source_file or re.fullmatch(r"[0-9a-f]{64}", spec.source_sha256)
        if spec.source_path:
            assert re.fullmatch(r"[0-9a-f]{40}", spec.source_commit) and spec.source_path.endswith(spec.source_file)
            assert spec.source_file_url().startswith(f"https://raw.githubusercontent.com/{spec.source_repo}/")
            assert get_family(entry.family).source_converter() is not None
    if entry.task == "image-classification":
        steps = entry.preprocessing
        assert set(steps) >= {"resize", "crop", "mean", "std", "interpolation"}
        assert len(steps["mean"]) == len(steps["std"]) == 3 and min(steps["std"]) > 0
    if entry.task == "image-super-resolution":
        assert entry.scale == 2 and set(entry.reproduced_metrics) <= set(entry.paper_metrics)


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.name)
def test_declared_sizes_are_recounted(entry: ModelEntry) -> None:
    with torch.device("meta"):
        model = get_family(entry.family).build(entry.genome, **entry.options).eval()
    assert family_of(model).name == entry.family
    h, w = entry.reference_size
    counted_params = sum(p.numel() for p in model.parameters())
    counted_macs = count_macs(model, *_inputs(entry, h, w))
    spec = architecture(entry)
    assert counted_params == spec.num_params() == entry.num_params
    assert counted_macs == spec.macs(h, w) == entry.mult_adds
    # at another size (non-square, batch 2) the analytic model still agrees with the module
    h2, w2 = 2 * h // 3, w + 8
    assert count_macs(model, *_inputs(entry, h2, w2, batch=2)) == 2 * spec.macs(h2, w2)


@pytest.mark.parametrize(("args", "kwargs", "names"), [
    (("FALSR*",), {}, ["FALSR-A", "FALSR-B", "FALSR-C"]),
    (("falsr-?",), {}, ["FALSR-A", "FALSR-B", "FALSR-C"]),  # case-insensitive, as timm
    (("*-[AC]",), {}, ["FALSR-A", "FALSR-C"]),
    ((["FALSR-B", "RENAS*"],), {}, ["FALSR-B", "RENASNet", "RENASNet-CIFAR10"]),
    (("*",), {"exclude_filters": ["*CIFAR*", "FALSR-[AB]"]}, ["FALSR-C", "RENASNet"]),
    (("renas",), {}, ["RENASNet", "RENASNet-CIFAR10"]),  # a family name, as before patterns
    ((), {"family": "falsr"}, ["FALSR-A", "FALSR-B", "FALSR-C"]),
    ((), {"pretrained": True}, ["FALSR-A", "FALSR-B", "FALSR-C"]),  # RENASNet's weights are unreachable
    (("FALSR-Z*",), {}, []),
    ((), {}, [entry.name for entry in ENTRIES]),
])
def test_list_models_filters_like_timm(args: tuple, kwargs: dict, names: list[str]) -> None:
    from falsr_zoo.api import list_models

    assert list_models(*args, **kwargs) == names


def test_list_models_refuses_an_unknown_family() -> None:
    from falsr_zoo.api import list_models
    from falsr_zoo.errors import UnknownFamilyError

    with pytest.raises(UnknownFamilyError, match="unknown model family 'esrgan'"):
        list_models(family="esrgan")
