"""The zoo's RENAS entries: RENASNet on ImageNet and on CIFAR-10, as data over one builder.

Chen et al., "RENAS: Reinforced Evolutionary Neural Architecture Search" (CVPR 2019),
Section 4. The cell is the one in the authors' MXNet code (``renasnet`` in
``eval/symbol_renasnet.py``), used for normal and reduction cells alike. Costs are recomputed
from the built modules by the tests. No weights are reachable: the authors' MXNet weights sit
on a file host out of reach, so ``weights=None`` and ``load(..., pretrained=False)`` builds the
network, ``load(..., weights=PATH)`` loads a safetensors file.

Where each figure comes from (checked with the search tool where possible):

* 75.7 % top-1 and 5.36 M parameters on mobile ImageNet: the paper's abstract (checked).
* 580 M mult-adds: the paper; the authors' code carries the same pair as a comment on the
  cell (``# 5.366M 580M``) (checked).
* 92.6 % top-5 on ImageNet, 2.88 % CIFAR-10 error with 3.5 M parameters: the paper's result
  tables as quoted in issue 3; the paper's full text could not be reached from here, so these
  three numbers are not checked.
* Our figures: counted on the modules this package builds (see ``tests/renas/test_renas_net.py``).
"""

from __future__ import annotations

from falsr_zoo.families.renas.plan import CIFAR10_PREPROCESSING, IMAGENET_PREPROCESSING
from falsr_zoo.zoo.registry import UNKNOWN_LICENSE, ModelEntry, register

RENAS_PAPER = {
    "title": "RENAS: Reinforced Evolutionary Neural Architecture Search",
    "authors": "Yukang Chen, Gaofeng Meng, Qian Zhang, Shiming Xiang, Chang Huang, Lisen Mu, Xinggang Wang",
    "venue": "CVPR 2019",
    "url": "https://arxiv.org/abs/1808.00193",
    "bibtex": (
        "@inproceedings{chen2019renas,\n"
        "  title={RENAS: Reinforced Evolutionary Neural Architecture Search},\n"
        "  author={Chen, Yukang and Meng, Gaofeng and Zhang, Qian and Xiang, Shiming and Huang, Chang "
        "and Mu, Lisen and Wang, Xinggang},\n"
        "  booktitle={IEEE/CVF Conference on Computer Vision and Pattern Recognition (CVPR)},\n"
        "  year={2019}\n"
        "}"
    ),
}
RENAS_CODE = "https://github.com/yukang2017/RENAS"
RENAS_LICENSE_NOTES = (
    f"Architecture from the authors' MXNet code at {RENAS_CODE} (eval/symbol_renasnet.py, "
    "eval/nasnet_utils.py); that repository carries no licence file, so its terms are unspecified "
    "upstream. The authors' MXNet weights are hosted off GitHub and are not reachable from this "
    "package; no weights are distributed. The falsr-zoo code is MIT-licensed."
)
RENAS_TAGS = ("image-classification", "neural-architecture-search", "renas", "pytorch", "safetensors")

RENASNET_CELL = (
    "{0, 1, sep5x5, sep3x3}; {1, 1, identity, sep3x3}; {0, 0, sep3x3, avg3x3}; "
    "{1, 0, sep5x5, sep3x3}; {2, 2, identity, sep3x3}"
)
"""RENASNet's cell, read off the authors' code ``[[1, 0], [0, 1], [7, 1], [0, 1], [0, 0], [3, 0],
[1, 1], [0, 0], [7, 2], [0, 2]]``. The paper's Fig. 3 labels one operator "max 3x3" where the
code has average pooling; the code is what the released weights belong to."""


RENASNET = register(
    ModelEntry(
        name="RENASNet",
        family="renas",
        genome=RENASNET_CELL,
        task="image-classification",
        summary="RENASNet on mobile ImageNet (N = 4, F = 44, 224x224), exactly as the authors' MXNet code defines it.",
        num_params=5_677_268,
        mult_adds=608_200_896,
        reference_size=(224, 224),
        weights=None,
        paper=RENAS_PAPER,
        paper_costs={"params": "5.36M", "mult_adds": "580M"},
        paper_metrics={"ImageNet": {"top1": 75.7, "top5": 92.6}},
        license=UNKNOWN_LICENSE,
        license_notes=RENAS_LICENSE_NOTES,
        tags=(*RENAS_TAGS, "imagenet"),
        options={"layout": "imagenet", "num_cells": 4, "filters": 44},
        preprocessing=IMAGENET_PREPROCESSING.as_dict(),
        notes=(
            "Built as the authors' MXNet code and network symbol define it: stem convolution, two "
            "reduction stem cells with F/4 and F/2 filters, three stages of N = 4 normal cells with "
            "F = 44, 88, 176 filters and reduction cells between them; normal cells append their "
            "input 0 to their output (5F channels), as the code does. Counted on the module, that is "
            "5,677,268 parameters and 608.2 M mult-adds at 224x224 (auxiliary head excluded), where "
            "the paper prints 5.36 M and 580 M; the code, not the paper, is what the authors' weights "
            "belong to.\n\n"
            "Sources of the paper's figures: 75.7 % top-1 and 5.36 M parameters are in the paper's "
            "abstract; 580 M mult-adds is the paper's figure, also written beside the cell in the "
            "authors' code; 92.6 % top-5 is the paper's ImageNet table as quoted in the zoo's issue "
            "(not checked against the paper's text here).\n\n"
            "Preprocessing is the authors' evaluation's: RGB minus (123.68, 116.78, 103.94), times "
            "0.017, on the 224x224 centre crop of images whose shorter side is 256."
        ),
    )
)

RENASNET_CIFAR10 = register(
    ModelEntry(
        name="RENASNet-CIFAR10",
        family="renas",
        genome=RENASNET_CELL,
        task="image-classification",
        summary="RENASNet on CIFAR-10 (N = 6, F = 32, 32x32), the variant whose size matches the paper's 3.5 M.",
        num_params=3_512_042,
        mult_adds=543_511_552,
        reference_size=(32, 32),
        weights=None,
        paper=RENAS_PAPER,
        paper_costs={"params": "3.5M"},
        paper_metrics={"CIFAR-10": {"error": 2.88}},
        license=UNKNOWN_LICENSE,
        license_notes=RENAS_LICENSE_NOTES,
        tags=(*RENAS_TAGS, "cifar10"),
        options={"layout": "cifar10", "num_cells": 6, "filters": 32, "append_input0": False},
        preprocessing=CIFAR10_PREPROCESSING.as_dict(),
        notes=(
            "Variant: normal cells do not append their input 0 (append_input0=False), giving "
            "3,512,042 parameters and 543.5 M mult-adds at 32x32, which matches the 3.5 M the paper "
            "reports with its 2.88 % error. The authors' code with its default (input 0 appended) "
            "gives 3,737,578 parameters and 581.3 M mult-adds, which matches no published figure; its "
            "CIFAR-10 branch, as published, cannot even be trained with its auxiliary head (the head's "
            "last convolution is sized from a 224x224 input), so it is unlikely to be what produced the "
            "paper's CIFAR-10 result. No CIFAR-10 weights exist to stay compatible with, so the entry "
            "follows the paper's figure; options={'append_input0': True} builds the code's variant.\n\n"
            "Layout as in the authors' code: stem convolution 3x3 with 96 filters (its batch norm "
            "keeps MXNet's default epsilon 1e-3), three stages of N = 6 cells with F = 32, 64, 128 "
            "and reduction cells between them, dropout 0.2, 10 classes.\n\n"
            "Sources of the paper's figures: 2.88 % error and 3.5 M parameters are the paper's "
            "CIFAR-10 table as quoted in the zoo's issue (not checked against the paper's text "
            "here). The CIFAR-10 mean and std are the training set's, as in NASNet and DARTS "
            "pipelines; the authors published no CIFAR-10 input pipeline."
        ),
    )
)
