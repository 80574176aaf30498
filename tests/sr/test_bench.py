"""``falsr bench`` and :func:`falsr_zoo.sr.bench.benchmark`: what is reported, not how fast it is."""

from __future__ import annotations

import json
import statistics

import pytest
import torch
from click.testing import CliRunner

from falsr_zoo.cli import main
from falsr_zoo.cli.exit_codes import EXIT_USAGE
from falsr_zoo.families.falsr.falsr_net import FALSR
from falsr_zoo.sr.bench import BenchResult, benchmark

GENOME = "conv f16 k3 b1 noskip <- 0; out <- 0,1"
JSON_KEYS = {"model", "backend", "size", "median_s", "mp_per_s", "peak_rss_mb", "precision", "tile", "threads"}


def cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_benchmark_reports_what_it_timed() -> None:
    torch.manual_seed(0)
    result = benchmark(FALSR(GENOME).eval(), (9, 7), repeats=3, warmup=1, name="tiny")
    assert (result.model, result.backend, result.size, result.scale) == ("tiny", "torch", (9, 7), 2)
    assert len(result.times_s) == 3 and all(t > 0 for t in result.times_s)
    assert result.median_s == statistics.median(result.times_s)
    assert result.mp_per_s == pytest.approx(18 * 14 / 1e6 / result.median_s)  # output pixels
    # torch alone keeps well over 50 MiB resident; a unit slip (KiB, bytes) would be far off
    assert 50 < result.peak_rss_mb < 64 * 1024
    report = result.to_json()
    assert set(report) == JSON_KEYS and report["size"] == [9, 7]
    assert (report["precision"], report["tile"], report["threads"]) == ("fp32", None, torch.get_num_threads())
    json.dumps(report)


def test_median_and_throughput_arithmetic() -> None:
    result = BenchResult(model="m", backend="b", size=(480, 480), scale=2, times_s=(3.0, 1.0, 2.0, 10.0),
                         peak_rss_mb=1.0)
    assert result.median_s == 2.5
    assert result.mp_per_s == pytest.approx(960 * 960 / 1e6 / 2.5)


@pytest.mark.parametrize("kwargs", [{"repeats": 0}, {"warmup": -1}, {"size": (0, 4)}])
def test_bad_arguments(kwargs) -> None:
    args = {"size": (4, 4), **kwargs}
    with pytest.raises(ValueError):
        benchmark(FALSR(GENOME), args.pop("size"), **args)


def test_unknown_backend() -> None:
    with pytest.raises(ValueError, match="unknown backend 'tflite'"):
        benchmark(FALSR(GENOME), (4, 4), backend="tflite")


def test_cli_json_on_onnxruntime(store) -> None:
    code, out, err = cli("bench", "FALSR-B", "--size", "12", "10", "--backend", "onnxruntime",
                         "--repeats", "2", "--warmup", "1", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert set(report) == JSON_KEYS
    assert (report["model"], report["backend"], report["size"]) == ("FALSR-B", "onnxruntime", [12, 10])
    assert report["median_s"] > 0 and report["mp_per_s"] == pytest.approx(24 * 20 / 1e6 / report["median_s"])


def test_cli_text_on_torch() -> None:
    code, out, err = cli("bench", "--genome", GENOME, "--size", "6", "5", "--repeats", "2", "--warmup", "0")
    assert code == 0, err
    assert out.startswith("genome on torch, 6x5 -> 12x10: median ") and "MP/s of output" in out and "peak RSS" in out


@pytest.mark.parametrize("args, message", [
    (["--engine", __file__], "--engine applies to --backend tensorrt"),
    (["--fp16", "--precision", "bf16"], "--fp16 and --precision bf16 disagree"),
    (["--precision", "bf16", "--backend", "onnxruntime"], "--precision bf16 runs on --backend torch only"),
    (["--tile", "3"], "--tile 3 is smaller than the genome's 4-pixel tile overlap"),
])
def test_cli_usage_errors(args, message) -> None:
    code, _, err = cli("bench", "--genome", GENOME, "--size", "4", "4", *args)
    assert code == EXIT_USAGE and message in err
