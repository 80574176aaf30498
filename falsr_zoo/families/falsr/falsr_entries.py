"""The zoo's FALSR entries: names, genomes and metadata, as data over one generic builder.

Genomes were read off the authors' frozen graphs (``falsr convert`` re-derives them from each
graph and refuses a mismatch). Costs are recomputed from the built modules by the tests;
``reproduced_metrics`` are what ``falsr eval`` measures with the converted official weights.
"""

from __future__ import annotations

from falsr_zoo.zoo.registry import UNKNOWN_LICENSE, ModelEntry, WeightsFile, register

FALSR_PAPER = {
    "title": "Fast, Accurate and Lightweight Super-Resolution with Neural Architecture Search",
    "authors": "Xiangxiang Chu, Bo Zhang, Hailong Ma, Ruijun Xu, Qingyuan Li",
    "venue": "ICPR 2020",
    "url": "https://arxiv.org/abs/1901.07261",
    "bibtex": (
        "@inproceedings{chu2020fast,\n"
        "  title={Fast, Accurate and Lightweight Super-Resolution with Neural Architecture Search},\n"
        "  author={Chu, Xiangxiang and Zhang, Bo and Ma, Hailong and Xu, Ruijun and Li, Qingyuan},\n"
        "  booktitle={International Conference on Pattern Recognition (ICPR)},\n"
        "  year={2020}\n"
        "}"
    ),
}
FALSR_REPO = "xiaomi-automl/FALSR"
FALSR_RELEASE = f"https://github.com/{FALSR_REPO}"
FALSR_COMMIT = "06f4bc594b1757d3c450db87334bbf7f8f8f0c3d"
"""The last commit that touched ``pretrained_model/`` (2019-01-22); the files are identical at
the newest commit (f6ebc6c, 2021-08-17). Pinned: a branch could change under the sha256."""
FALSR_LICENSE_NOTES = (
    "Weights converted unchanged from the authors' TensorFlow frozen graphs published at "
    f"{FALSR_RELEASE} (pretrained_model/). That release states no licence (the repository has no "
    "licence file and its README names no terms), so the terms of the weights are unknown. falsr-zoo "
    "therefore does not re-host them: it fetches the authors' own file on first use and converts it on "
    "your machine. Ask the authors before publishing these weights or weights fine-tuned from them "
    "(`falsr push` warns). The falsr-zoo code is MIT-licensed."
)
FALSR_TAGS = ("super-resolution", "image-to-image", "neural-architecture-search", "falsr", "pytorch", "safetensors")
REFERENCE_SIZE = (480, 480)


def _falsr(name: str, genome: str, *, summary: str, num_params: int, mult_adds: int, weights: WeightsFile,
           paper_costs: dict[str, str], paper_metrics: dict[str, dict[str, float]],
           reproduced: dict[str, dict[str, float]]) -> ModelEntry:
    return register(
        ModelEntry(
            name=name,
            family="falsr",
            genome=genome,
            task="image-super-resolution",
            summary=summary,
            num_params=num_params,
            mult_adds=mult_adds,
            reference_size=REFERENCE_SIZE,
            scale=2,
            weights=weights,
            paper=FALSR_PAPER,
            paper_costs=paper_costs,
            paper_metrics=paper_metrics,
            reproduced_metrics=reproduced,
            license=UNKNOWN_LICENSE,
            license_notes=FALSR_LICENSE_NOTES,
            tags=FALSR_TAGS,
        )
    )


def _weights(name: str, sha256: str, num_bytes: int, source_sha256: str) -> WeightsFile:
    # No Hub repository publishes converted weights (repo_id stays empty): the store is filled
    # from the authors' own file, at a pinned commit, converted on first use.
    return WeightsFile(
        sha256=sha256,
        num_bytes=num_bytes,
        source_file=f"{name}.pb",
        source_sha256=source_sha256,
        source_url=FALSR_RELEASE,
        source_repo=FALSR_REPO,
        source_commit=FALSR_COMMIT,
        source_path=f"pretrained_model/{name}.pb",
    )


FALSR_A = _falsr(
    "FALSR-A",
    "conv f64 k3 b4 isskip <- 0; conv f48 k1 b1 isskip <- 1; conv f64 k3 b4 isskip <- 2; "
    "conv f64 k3 b4 isskip <- 2,3; conv f64 k3 b4 isskip <- 0,2,4; conv f64 k1 b4 noskip <- 5; "
    "conv f64 k3 b4 isskip <- 0,2,5,6; out <- 0,1,2,3,4,5,6,7",
    summary="The most accurate FALSR x2 network: plain convolution cells with dense links.",
    num_params=1_021_401,
    mult_adds=235_000_627_200,
    weights=_weights(
        "FALSR-A",
        sha256="bf858fad13ee4f47d64c017fa05ac9b0d6584f0cc4fa8fd7ee1fc3adc7af1024",
        num_bytes=4_090_900,
        source_sha256="639cd2ea510990fa58855a7a15bd1ea0d8756b6e6ffe7a980d0427f61f2fb4a1",
    ),
    paper_costs={"params": "1,021K", "mult_adds": "234.7G"},
    paper_metrics={
        "Set5": {"psnr": 37.82, "ssim": 0.9595},
        "Set14": {"psnr": 33.55, "ssim": 0.9168},
        "B100": {"psnr": 32.12, "ssim": 0.8987},
        "Urban100": {"psnr": 31.93, "ssim": 0.9256},
    },
    reproduced={
        "Set5": {"psnr": 37.8218, "ssim": 0.9595},
        "Set14": {"psnr": 33.5484, "ssim": 0.9168},
    },
)

FALSR_B = _falsr(
    "FALSR-B",
    "invertBotConE2 f16 k3 b1 isskip <- 0; invertBotConE2 f48 k1 b2 isskip <- 0,1; "
    "conv f16 k1 b2 isskip <- 0,1,2; invertBotConE2 f32 k3 b4 noskip <- 3; conv f64 k3 b2 noskip <- 2,3,4; "
    "groupConG4 f16 k3 b4 noskip <- 2,4,5; conv f16 k3 b1 isskip <- 0,1,2,6; out <- 1,4,6,7",
    summary="The lightest FALSR x2 network: inverted-bottleneck, plain and grouped cells.",
    num_params=324_745,
    mult_adds=74_502_144_000,
    weights=_weights(
        "FALSR-B",
        sha256="3ad932a2e1850ff005baa3ab6fc3ecfea31fd4f337208e872e389e0dc1e13f29",
        num_bytes=1_306_012,
        source_sha256="463de824eb1a213bf34034ad1a7488e0737b3a838e6bf1b56eaa53d776a556d0",
    ),
    paper_costs={"params": "326K", "mult_adds": "74.7G"},
    paper_metrics={
        "Set5": {"psnr": 37.61, "ssim": 0.9585},
        "Set14": {"psnr": 33.29, "ssim": 0.9143},
        "B100": {"psnr": 31.97, "ssim": 0.8967},
        "Urban100": {"psnr": 31.28, "ssim": 0.9191},
    },
    reproduced={
        "Set5": {"psnr": 37.6141, "ssim": 0.9585},
        "Set14": {"psnr": 33.2916, "ssim": 0.9144},
    },
)

FALSR_C = _falsr(
    "FALSR-C",
    "groupConG2 f32 k1 b1 noskip <- 0; conv f64 k1 b4 noskip <- 0,1; invertBotConE2 f48 k3 b4 noskip <- 2; "
    "groupConG2 f32 k1 b1 noskip <- 1,3; groupConG4 f32 k1 b1 isskip <- 0,4; conv f48 k1 b4 noskip <- 0,5; "
    "conv f16 k3 b1 isskip <- 1,6; out <- 0,2,6,7",
    summary="A mid-size FALSR x2 network with sparse links (8 optional connections).",
    num_params=426_569,
    mult_adds=97_955_020_800,
    weights=_weights(
        "FALSR-C",
        sha256="87bfcdb08064d4d38c0113d415c97252cb531138a32659f172e28a5a33b2d8ce",
        num_bytes=1_711_764,
        source_sha256="576529f3073b6cd723101fa784a2c0a8f9e8935ad2f40fbc3172e959e2395d6a",
    ),
    paper_costs={"params": "408K", "mult_adds": "93.7G"},
    paper_metrics={
        "Set5": {"psnr": 37.66, "ssim": 0.9586},
        "Set14": {"psnr": 33.26, "ssim": 0.9140},
        "B100": {"psnr": 31.96, "ssim": 0.8965},
        "Urban100": {"psnr": 31.24, "ssim": 0.9187},
    },
    reproduced={
        "Set5": {"psnr": 37.6604, "ssim": 0.9586},
        "Set14": {"psnr": 33.2593, "ssim": 0.9140},
    },
)
