"""Costs counted on built modules (what the registry's figures are checked against)."""

from __future__ import annotations

import torch


def count_macs(model: torch.nn.Module, *inputs: torch.Tensor, **kwargs: object) -> int:
    """Mult-adds of every convolution (grouped and depthwise at their true cost) and linear
    layer, from the output shapes recorded during one forward (works on the meta device)."""
    total = 0

    def conv_hook(module: torch.nn.Conv2d, _inputs: object, output: torch.Tensor) -> None:
        nonlocal total
        kh, kw = module.kernel_size
        total += output.shape[0] * output.shape[2] * output.shape[3] * module.out_channels * (
            module.in_channels // module.groups) * kh * kw

    def linear_hook(module: torch.nn.Linear, _inputs: object, output: torch.Tensor) -> None:
        nonlocal total
        total += output.shape[0] * module.in_features * module.out_features

    hooks = {torch.nn.Conv2d: conv_hook, torch.nn.Linear: linear_hook}
    handles = [m.register_forward_hook(hooks[type(m)]) for m in model.modules() if type(m) in hooks]
    try:
        model(*inputs, **kwargs)
    finally:
        for handle in handles:
            handle.remove()
    return total
