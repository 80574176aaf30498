"""Packaging (extras, a tested torch floor, install lines) and the pictures the README and the
model cards show (issue 13)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import torch

from falsr_zoo.zoo.registry import list_entries

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
README = (ROOT / "README.md").read_text()
MAX_PICTURE_BYTES = 300 * 1024


def _version(text: str) -> tuple[int, ...]:
    parts = [int(part) for part in re.match(r"\d+(\.\d+)*", text).group(0).split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def test_the_torch_floor_is_the_version_ci_tests() -> None:
    floor = next(d for d in PYPROJECT["project"]["dependencies"] if d.startswith("torch"))
    floor_version = _version(floor.split(">=")[1])
    ci_pins = re.findall(r"torch==([\d.]+)", (ROOT / ".ci" / "run").read_text())
    assert ci_pins and min(_version(pin) for pin in ci_pins) == floor_version
    assert _version(torch.__version__) >= floor_version


def test_onnx_extras_are_one_runtime_each() -> None:
    extras = PYPROJECT["project"]["optional-dependencies"]
    names = {key: {re.split(r"[<>=\[ ]", d)[0] for d in value} for key, value in extras.items()}
    assert "onnxruntime" in names["onnx"] and "onnxruntime-gpu" not in names["onnx"]
    assert "onnxruntime-gpu" in names["onnx-gpu"] and "onnxruntime" not in names["onnx-gpu"]
    assert names["onnx"] - {"onnxruntime"} == names["onnx-gpu"] - {"onnxruntime-gpu"}
    assert names["heif"] == {"pillow-heif"}
    for line in ("falsr-zoo[onnx]", "falsr-zoo[onnx-gpu]", "falsr-zoo[heif]", "download.pytorch.org/whl/cpu",
                 "download.pytorch.org/whl/cu"):
        assert line in README


def _linked_pictures(text: str, base: Path) -> list[Path]:
    return [(base / link).resolve() for link in re.findall(r"!\[[^\]]*\]\(([^)]+\.png)\)", text)]


def test_readme_shows_the_figure_and_a_comparison_picture() -> None:
    pictures = _linked_pictures(README, ROOT)
    names = {p.name for p in pictures}
    assert {"zoo_set5.png", "compare_all.png"} <= names
    for picture in pictures:
        assert picture.is_file() and 0 < picture.stat().st_size < MAX_PICTURE_BYTES, picture


def test_every_super_resolution_card_shows_its_comparison_picture() -> None:
    cards = ROOT / "model_cards"
    for entry in list_entries():
        pictures = _linked_pictures((cards / f"{entry.name}.md").read_text(), cards)
        if entry.task != "image-super-resolution":
            assert pictures == []
            continue
        assert [p.name for p in pictures] == [f"compare_{entry.name}.png"]
        assert pictures[0].is_file() and pictures[0].stat().st_size < MAX_PICTURE_BYTES


def test_the_figure_script_plots_the_zoo_and_the_baselines() -> None:
    pytest.importorskip("matplotlib")  # the plot extra, part of the test extra
    import importlib.util

    from PIL import Image

    spec = importlib.util.spec_from_file_location("zoo_figure", ROOT / "benchmarks" / "zoo_figure.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    zoo = module.zoo_points(None)  # the registry's paper figures: no data, no weights
    assert set(zoo) == {"FALSR-A", "FALSR-B", "FALSR-C"} and zoo["FALSR-A"][0] == pytest.approx(235.0, abs=0.01)
    assert {"SRCNN", "CARN", "CARN-M", "VDSR"} <= set(module.BASELINES)
    import io

    png = module.figure_png(zoo)
    assert Image.open(io.BytesIO(png)).size == (640, 400)


def test_the_licence_file_is_mit_and_travels_with_the_package(tmp_path: Path) -> None:
    import subprocess
    import sys

    licence = (ROOT / "LICENSE").read_text()
    assert licence.startswith("MIT License\n") and "Copyright (c) 2026 falsr-zoo developers" in licence
    assert PYPROJECT["project"]["license"] == "MIT" and PYPROJECT["project"]["license-files"] == ["LICENSE"]
    build = ("import sys\nfrom setuptools import build_meta\n"
             "print(build_meta.prepare_metadata_for_build_wheel(sys.argv[1]))")
    done = subprocess.run([sys.executable, "-c", build, str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    dist_info = tmp_path / done.stdout.strip().splitlines()[-1]
    assert (dist_info / "licenses" / "LICENSE").read_text() == licence
    metadata = (dist_info / "METADATA").read_text()
    assert "License-Expression: MIT" in metadata and "License-File: LICENSE" in metadata


def test_the_citation_file_cites_the_package_and_both_papers_as_the_registry_does() -> None:
    import yaml

    import falsr_zoo
    from falsr_zoo.zoo.registry import get_entry

    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0" and cff["type"] == "software"
    assert cff["version"] == falsr_zoo.__version__ and cff["license"] == PYPROJECT["project"]["license"]
    assert cff["authors"] == [{"name": PYPROJECT["project"]["authors"][0]["name"]}]
    references = {reference["title"]: reference for reference in cff["references"]}
    for name in ("FALSR-A", "RENASNet"):
        paper = get_entry(name).paper
        reference = references.pop(paper["title"])
        authors = [f"{a['given-names']} {a['family-names']}" for a in reference["authors"]]
        assert authors == paper["authors"].split(", ")
        assert reference["type"] == "conference-paper" and reference["url"] == paper["url"]
        assert str(reference["year"]) == paper["venue"].split()[-1]
        assert paper["venue"] in reference["conference"]["name"]
        assert reference["identifiers"][0]["value"] == "arXiv:" + paper["url"].rsplit("/", 1)[1]
    assert references == {}


def test_the_changelog_keeps_a_changelog_shape() -> None:
    text = (ROOT / "CHANGELOG.md").read_text()
    assert text.startswith("# Changelog\n") and "[Keep a Changelog](https://keepachangelog.com/" in text
    releases = re.findall(r"^## (.+)$", text, flags=re.M)
    assert releases[0] == "[Unreleased]"
    kinds = set(re.findall(r"^### (.+)$", text, flags=re.M))
    assert kinds and kinds <= {"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"}
