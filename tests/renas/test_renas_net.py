"""The RENAS builder: sizes recounted on the modules, structure, forward/backward, weights I/O."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from falsr_zoo.api import load
from falsr_zoo.errors import WeightsMismatchError, WeightsNotFoundError
from falsr_zoo.families.renas.cell import OPERATORS, RenasCell, parse_renas_cell
from falsr_zoo.families.renas.plan import BN_EPS, RenasNetSpec
from falsr_zoo.families.renas.renas_entries import RENASNET_CELL
from falsr_zoo.families.renas.renas_net import OPS, AuxiliaryHead, FactorizedReduce, RENASNet, drop_path
from falsr_zoo.families.table import architecture, get_family
from falsr_zoo.zoo.registry import get_entry, list_entries
from falsr_zoo.zoo.weights import write_safetensors
from tests.costs import count_macs
from tests.renas.test_renas_cell import renas_cells

RENAS_ENTRIES = list_entries("renas")


def params(module: torch.nn.Module, kind: type | None = None) -> int:
    modules = [m for m in module.modules() if kind is None or isinstance(m, kind)]
    return sum(p.numel() for m in modules for p in m.parameters(recurse=False))


def meta_model(name_or_cell: str | RenasCell, **options: object) -> RENASNet:
    """A zoo entry (by name, options overridden) or a cell, built on the meta device."""
    with torch.device("meta"):
        if isinstance(name_or_cell, str):
            entry = get_entry(name_or_cell)
            return get_family(entry.family).build(entry.genome, **{**entry.options, **options}).eval()
        return RENASNet(name_or_cell, **options).eval()


@pytest.mark.parametrize("entry", RENAS_ENTRIES, ids=lambda e: e.name)
def test_zoo_entries_are_built_without_an_auxiliary_head(entry) -> None:
    assert meta_model(entry.name).aux_head is None


def test_renasnet_matches_the_authors_code_exactly() -> None:
    # ../shared/docs/renasnet-reference.md: 5,628,276 conv + FC weights, 48,992 BN affine
    model = meta_model("RENASNet")
    assert params(model) == 5_677_268
    assert params(model, torch.nn.BatchNorm2d) == 48_992
    assert params(model, torch.nn.Conv2d) + params(model, torch.nn.Linear) == 5_628_276
    macs = count_macs(model, torch.empty(1, 3, 224, 224, device="meta"))
    assert round(macs / 1e6, 1) == 608.2


@pytest.mark.parametrize(
    ("append_input0", "num_params", "bn", "mmacs"),
    [(True, 3_737_578, 49_344, 581.3), (False, 3_512_042, 49_344, 543.5)],
)
def test_cifar_variants_match_the_reference_table(append_input0: bool, num_params: int, bn: int, mmacs: float) -> None:
    model = meta_model("RENASNet-CIFAR10", append_input0=append_input0)
    assert params(model) == num_params and params(model, torch.nn.BatchNorm2d) == bn
    assert round(count_macs(model, torch.empty(1, 3, 32, 32, device="meta")) / 1e6, 1) == mmacs
    assert get_entry("RENASNet-CIFAR10").num_params == 3_512_042  # the chosen variant


def test_structure_follows_the_authors_code() -> None:
    model = meta_model("RENASNet")
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert bns and all(m.eps == BN_EPS and m.momentum == 0.1 for m in bns)
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert all(m.bias is None for m in convs)  # no bias anywhere but the classifier
    assert model.classifier.bias is not None and model.dropout.p == 0.5
    stem = model.stem[0]
    assert (stem.out_channels, stem.stride, stem.padding) == (32, (2, 2), (0, 0))
    factorized = [i for i, cell in enumerate(model.cells) if isinstance(cell.preprocess0, FactorizedReduce)]
    assert factorized == [1, 2, 7, 12]
    pools = [m for m in model.modules() if isinstance(m, torch.nn.AvgPool2d)]
    assert pools and all(m.count_include_pad for m in pools)
    cifar = meta_model("RENASNet-CIFAR10")
    assert cifar.stem[1].eps == 1e-3  # MXNet's default, left by the authors on the CIFAR stem
    assert cifar.dropout.p == 0.2 and cifar.classifier.out_features == 10


def test_cell_outputs_follow_the_plan() -> None:
    model = meta_model("RENASNet")
    shapes = []
    handles = [cell.register_forward_hook(lambda m, i, o: shapes.append(tuple(o.shape))) for cell in model.cells]
    model(torch.empty(1, 3, 224, 224, device="meta"))
    for handle in handles:
        handle.remove()
    spec = model.spec
    expected = [(1, plan.out_channels, *size) for plan, size in zip(spec.cells(), spec.resolutions(224, 224)[1:])]
    assert shapes == expected


def test_ops_table_is_derived_from_the_operator_table() -> None:
    assert set(OPS) == set(OPERATORS)
    x = torch.ones(1, 1, 4, 4)
    corner = OPS["avg3x3"](1, 1)(x)[0, 0, 0, 0]
    assert torch.isclose(corner, torch.tensor(4 / 9))  # padding counts in the average, as in MXNet
    assert isinstance(OPS["identity"](8, 1), torch.nn.Identity)
    assert isinstance(OPS["identity"](8, 2), torch.nn.MaxPool2d)  # stride-2 identity in reductions
    for name, op in OPERATORS.items():
        module = OPS[name](8, 2)
        assert module(torch.rand(1, 8, 7, 7)).shape == (1, 8, 4, 4)
        assert (params(module) > 0) == op.has_weights


def _randomise(module: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Random weights and BN statistics, so that no layer is an identity; eval mode."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, torch.nn.Conv2d):
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) * 0.5)
            elif isinstance(m, torch.nn.BatchNorm2d):
                m.weight.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.bias.copy_(torch.randn(m.num_features, generator=g))
                m.running_mean.copy_(torch.randn(m.num_features, generator=g))
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
    return module.eval()


def _bn(x: torch.Tensor, bn: torch.nn.BatchNorm2d) -> torch.Tensor:
    return F.batch_norm(x, bn.running_mean, bn.running_var, bn.weight, bn.bias, False, 0.0, BN_EPS)


def _separable_reference(module: torch.nn.Module, x: torch.Tensor, kernel: int, stride: int) -> torch.Tensor:
    """The authors' separable convolution, written out from nasnet_utils.py (independently of the
    builder's layer list): twice ReLU -> depthwise k x k (stride on the first) -> pointwise 1x1 -> BN."""
    convs = [m for m in module.modules() if isinstance(m, torch.nn.Conv2d)]
    bns = [m for m in module.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert len(convs) == 4 and len(bns) == 2
    for step, s in enumerate((stride, 1)):
        depthwise, pointwise = convs[2 * step], convs[2 * step + 1]
        x = F.relu(x)
        x = F.conv2d(x, depthwise.weight, None, s, kernel // 2, groups=x.shape[1])
        x = _bn(F.conv2d(x, pointwise.weight), bns[step])
    return x


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("name", ["sep3x3", "sep5x5", "sep7x7"])
def test_separable_convolutions_compute_the_authors_order(name: str, stride: int) -> None:
    # a reordering with the same parameters (conv -> BN -> ReLU) gives different numbers
    module = _randomise(OPS[name](6, stride), seed=stride)
    x = torch.randn(2, 6, 11, 9, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        out = module(x)
        expected = _separable_reference(module, x, OPERATORS[name].kernel, stride)
    assert out.shape == expected.shape and torch.allclose(out, expected, atol=1e-5, rtol=1e-5)
    assert (out < 0).any()  # BN last: negative outputs exist (a trailing ReLU would remove them)
    layers = [type(m).__name__ for m in module.children()]
    assert layers == ["ReLU", "Conv2d", "Conv2d", "BatchNorm2d"] * 2


def test_a_whole_cell_matches_a_reference_written_from_the_authors_code() -> None:
    """One normal cell of RENASNet (F = 8), every operator written out functionally."""
    model = _randomise(RENASNet(RENASNET_CELL, layout="cifar10", num_cells=2, filters=8), seed=4)
    cell = model.cells[1]  # a normal cell whose input 0 comes through a 1x1 ReLU-conv-BN
    assert not isinstance(cell.preprocess0, FactorizedReduce)
    g = torch.Generator().manual_seed(5)
    s0, s1 = (torch.randn(2, plan, 8, 8, generator=g) for plan in (cell.preprocess0[1].in_channels,
                                                                   cell.preprocess1[1].in_channels))

    def relu_conv_bn(module, x):
        return _bn(F.conv2d(F.relu(x), module[1].weight), module[2])

    def apply(op: str, module, x):
        if op.startswith("sep"):
            return _separable_reference(module, x, OPERATORS[op].kernel, 1)
        if op == "avg3x3":
            return F.avg_pool2d(x, 3, 1, 1, count_include_pad=True)
        if op == "max3x3":
            return F.max_pool2d(x, 3, 1, 1)
        return x

    with torch.no_grad():
        states = [relu_conv_bn(cell.preprocess0, s0), relu_conv_bn(cell.preprocess1, s1)]
        for block, modules in zip(parse_renas_cell(RENASNET_CELL).blocks, cell.blocks):
            (op1, i1), (op2, i2) = block.pairs
            states.append(apply(op1.name, modules[0], states[i1]) + apply(op2.name, modules[1], states[i2]))
        # blocks 1-4 are read by no other block; a normal cell appends its input 0
        expected = torch.cat([states[3], states[4], states[5], states[6], states[0]], dim=1)
        out = cell(s0, s1)
    assert out.shape == expected.shape == (2, 40, 8, 8)
    assert torch.allclose(out, expected, atol=1e-5, rtol=1e-5)


def test_factorized_reduction_shifts_the_second_path() -> None:
    module = FactorizedReduce(1, 2).eval()
    with torch.no_grad():
        module.path1.weight.fill_(1.0)
        module.path2.weight.fill_(1.0)
    x = torch.arange(1, 26, dtype=torch.float32).reshape(1, 1, 5, 5)
    out = module(x) * (1 + BN_EPS) ** 0.5  # undo the eval-mode BN (mean 0, var 1)
    assert torch.allclose(out[0, 0], x[0, 0, ::2, ::2])
    shifted = torch.tensor([[7.0, 9.0, 0.0], [17.0, 19.0, 0.0], [0.0, 0.0, 0.0]])
    assert torch.allclose(out[0, 1], shifted)


@pytest.mark.parametrize("aux", [False, True], ids=["no-aux", "aux"])
@pytest.mark.parametrize("entry", RENAS_ENTRIES, ids=lambda e: e.name)
def test_forward_and_backward_on_cpu(entry, aux: bool) -> None:
    torch.manual_seed(0)
    model = load(entry.name, pretrained=False, options={"aux_head": aux, "drop_path_prob": 0.2}).train()
    h, w = entry.reference_size
    # BN in training mode needs more than one value per channel: the aux head's map is 1x1
    batch = 2 if aux or entry.options["layout"] == "cifar10" else 1
    x, labels = torch.randn(batch, 3, h, w), torch.arange(batch)
    out = model(x, return_aux=True)
    assert out.logits.shape == (batch, model.spec.num_classes)
    loss = F.cross_entropy(out.logits, labels)
    if aux:
        assert out.aux_logits.shape == out.logits.shape
        loss = loss + 0.4 * F.cross_entropy(out.aux_logits, labels)
    else:
        assert out.aux_logits is None and model.aux_head is None
    loss.backward()
    grads = {name: p.grad for name, p in model.named_parameters()}
    assert all(g is not None and torch.isfinite(g).all() for g in grads.values())
    assert any(name.startswith("aux_head.") for name in grads) == aux
    assert float(grads["classifier.weight"].abs().sum()) > 0.0


def test_aux_head_size_and_mismatch() -> None:
    entry = get_entry("RENASNet")
    model = load("RENASNet", pretrained=False, options={"aux_head": True})
    assert params(model) == entry.num_params + architecture(entry).aux_head_params()
    assert params(model.aux_head) == architecture(entry).aux_head_params() == 2_399_976
    with pytest.raises(ValueError, match="built for a 4x4 pooled map, got 2x2"):
        model(torch.rand(2, 3, 128, 128), return_aux=True)
    # a smaller training resolution works when the head is sized for it
    small = RENASNet(RENASNET_CELL, layout="imagenet", num_cells=1, filters=8, aux_head=True, image_size=96).train()
    assert isinstance(small.aux_head, AuxiliaryHead) and small.aux_head.map_size == 1
    assert small(torch.rand(2, 3, 96, 96), return_aux=True).aux_logits.shape == (2, 1000)


def test_drop_path() -> None:
    torch.manual_seed(0)
    x = torch.ones(64, 2, 3, 3)
    y = drop_path(x, 0.5)
    per_sample = y.flatten(1)
    assert set(per_sample.unique().tolist()) <= {0.0, 2.0}  # whole samples dropped, the rest rescaled
    assert (per_sample == 0).all(1).sum() > 0 and (per_sample == 2).all(1).sum() > 0
    model = RENASNet(RENASNET_CELL, layout="cifar10", num_cells=1, filters=8, drop_path_prob=0.5)
    x = torch.rand(4, 3, 32, 32)
    model.eval()
    with torch.no_grad():
        reference = model(x)
        model.set_drop_path_prob(0.0)
        assert torch.equal(model(x), reference)  # never applied in eval mode
        model.train()
        plain = model(x)
        model.set_drop_path_prob(0.5)
        assert not torch.allclose(model(x), plain)
    with pytest.raises(ValueError, match=r"drop_path_prob must be in \[0, 1\)"):
        model.set_drop_path_prob(1.0)


@pytest.mark.parametrize("entry", RENAS_ENTRIES, ids=lambda e: e.name)
def test_save_load_round_trip(entry, tmp_path) -> None:
    torch.manual_seed(1)
    model = get_family(entry.family).build(entry.genome, **entry.options)
    model.train()
    model(torch.randn(2, 3, *entry.reference_size))  # move the BN running statistics off their defaults
    path = tmp_path / "w.safetensors"
    write_safetensors(model.state_dict(), path, {"genome": entry.genome})
    loaded = load(entry.name, weights=path)
    assert not loaded.training
    original, restored = model.state_dict(), loaded.state_dict()
    assert original.keys() == restored.keys()
    assert all(torch.equal(original[k], restored[k]) for k in original)
    x = torch.randn(1, 3, *entry.reference_size)
    with torch.no_grad():
        assert torch.equal(model.eval()(x), loaded(x))


def test_weights_of_another_layout_are_refused(tmp_path) -> None:
    cifar = get_entry("RENASNet-CIFAR10")
    path = tmp_path / "cifar.safetensors"
    write_safetensors(get_family("renas").build(cifar.genome, **cifar.options).state_dict(), path, {"genome": cifar.genome})
    with pytest.raises(WeightsMismatchError, match="does not fit this architecture"):
        load("RENASNet", weights=path)


def test_no_weights_are_reachable(empty_home) -> None:
    for entry in RENAS_ENTRIES:
        assert entry.weights is None
        with pytest.raises(WeightsNotFoundError) as info:
            load(entry.name)
        message = str(info.value)
        assert "no published weights are reachable" in message
        assert "pretrained=False" in message and "weights=PATH" in message
    assert params(load("RENASNet", pretrained=False)) == 5_677_268


def test_a_file_in_the_store_is_loaded_like_falsr_weights(empty_home) -> None:
    # same mechanism as FALSR: $FALSR_ZOO_HOME/weights/<name>.safetensors, no sha256 to pin
    entry = get_entry("RENASNet-CIFAR10")
    torch.manual_seed(2)
    model = get_family(entry.family).build(entry.genome, **entry.options)
    stored = empty_home / "weights" / f"{entry.name}.safetensors"
    write_safetensors(model.state_dict(), stored, {"genome": entry.genome})
    loaded = load(entry.name)
    assert torch.equal(loaded.classifier.weight, model.classifier.weight)


def test_load_any_renas_genome() -> None:
    cell = "{0, 1, sep3x3, max3x3}; {2, 0, sep7x7, identity}"
    net = load(genome=cell, family="renas", options={"layout": "cifar10", "num_cells": 1, "filters": 8})
    assert str(net.genome) == cell and not net.training  # untrained, no entry has this genome
    assert params(net) == net.spec.num_params()
    # the zoo cell with a zoo entry's options is that entry: its (unreachable) weights apply
    with pytest.raises(WeightsNotFoundError, match="RENASNet-CIFAR10"):
        load(genome=RENASNET_CELL, family="renas", options=get_entry("RENASNet-CIFAR10").options)
    # with other options it is a new network, built untrained
    other = load(genome=RENASNET_CELL, family="renas", options={"layout": "cifar10", "num_cells": 2, "filters": 16})
    assert params(other) == RenasNetSpec(parse_renas_cell(RENASNET_CELL), "cifar10", 2, 16).num_params()


@settings(derandomize=True, max_examples=15, deadline=None)
@given(renas_cells(max_blocks=5), st.sampled_from(["imagenet", "cifar10"]), st.booleans())
def test_any_cell_builds_and_runs(cell, layout: str, append_input0: bool) -> None:
    size = 64 if layout == "imagenet" else 32
    options = {"layout": layout, "num_cells": 1, "filters": 8, "append_input0": append_input0}
    counted = meta_model(cell, **options)  # sizes on the meta device: no kernels run
    spec = counted.spec
    assert params(counted) == spec.num_params()
    assert count_macs(counted, torch.empty(1, 3, size, size, device="meta")) == spec.macs(size, size)
    with torch.inference_mode():
        logits = RENASNet(cell, **options).eval()(torch.rand(2, 3, size, size))
    assert logits.shape == (2, spec.num_classes) and torch.isfinite(logits).all()
