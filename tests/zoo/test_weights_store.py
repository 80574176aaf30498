"""Listing and emptying the local weights store (:mod:`falsr_zoo.zoo.weights_store`, ``falsr cache``).

A store holds the converted official files of FALSR-A and FALSR-B, a file no zoo entry claims,
leftovers of an interrupted download and conversion, and a file that is not the store's. Removal
is checked by its effect on loading: a removed model no longer loads offline, the others still do.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from falsr_zoo.api import load
from falsr_zoo.errors import OutputError, UnknownModelError, WeightsNotFoundError
from falsr_zoo.zoo.registry import get_entry
from falsr_zoo.zoo.weights_store import is_stored, remove_from_store, scan_store, store_dir
from tests.cli.read_only import make_read_only


@pytest.fixture()
def home(weights_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``FALSR_ZOO_HOME`` with two official files, a foreign weights file, leftovers and a stranger."""
    home = tmp_path / "home"
    weights = home / "weights"
    weights.mkdir(parents=True)
    for name in ("FALSR-B", "FALSR-A"):
        shutil.copyfile(weights_home / "weights" / f"{name}.safetensors", weights / f"{name}.safetensors")
    (weights / "OLD-MODEL.safetensors").write_bytes(b"x" * 1234)
    (weights / ".FALSR-C.safetensors.0123abcd.part").write_bytes(b"p" * 100)
    (weights / ".download-k2j3").mkdir()
    (weights / ".download-k2j3" / "FALSR-C.pb").write_bytes(b"g" * 50)
    (weights / "notes.txt").write_text("not the store's")
    monkeypatch.setenv("FALSR_ZOO_HOME", str(home))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return home


def test_scan_lists_each_file_with_its_size_in_zoo_order_and_leftovers_apart(home: Path) -> None:
    scan = scan_store()
    weights = home / "weights"
    assert scan.directory == weights == store_dir()
    assert [(w.name, w.in_zoo) for w in scan.weights] == [("FALSR-A", True), ("FALSR-B", True), ("OLD-MODEL", False)]
    for stored in scan.weights:
        assert stored.path.parent == weights and stored.num_bytes == stored.path.stat().st_size
        assert stored.modified == stored.path.stat().st_mtime
    assert scan.weights[1].num_bytes == get_entry("FALSR-B").weights.num_bytes
    assert [p.name for p in scan.leftovers] == [".FALSR-C.safetensors.0123abcd.part", ".download-k2j3"]
    assert scan.leftover_bytes == 150
    assert scan.num_bytes == sum(w.num_bytes for w in scan.weights) + 150
    stored = [is_stored(get_entry(name)) for name in ("FALSR-A", "FALSR-B", "FALSR-C", "RENASNet")]
    assert stored == [True, True, False, False]


def test_an_absent_store_is_an_empty_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FALSR_ZOO_HOME", str(tmp_path / "nowhere"))
    scan = scan_store()
    assert (scan.weights, scan.leftovers, scan.num_bytes) == ((), (), 0)
    assert not (tmp_path / "nowhere").exists()


def test_removing_a_named_model_stops_it_loading_and_keeps_the_rest(home: Path) -> None:
    size = (home / "weights" / "FALSR-B.safetensors").stat().st_size
    removal = remove_from_store(["falsr-b"])  # names are case-insensitive
    assert [w.name for w in removal.weights] == ["FALSR-B"] and removal.num_bytes == size
    assert (removal.leftovers, removal.not_stored, removal.dry_run) == ((), (), False)
    assert not (home / "weights" / "FALSR-B.safetensors").exists()
    with pytest.raises(WeightsNotFoundError, match="no weights for FALSR-B"):
        load("FALSR-B")
    load("FALSR-A")  # still stored, still checked and loaded
    assert [w.name for w in scan_store().weights] == ["FALSR-A", "OLD-MODEL"]
    assert len(scan_store().leftovers) == 2  # leftovers go only with everything=True


def test_a_dry_run_removes_nothing(home: Path) -> None:
    before = sorted(p.name for p in (home / "weights").iterdir())
    removal = remove_from_store(everything=True, dry_run=True)
    assert removal.dry_run and [w.name for w in removal.weights] == ["FALSR-A", "FALSR-B", "OLD-MODEL"]
    assert removal.num_bytes == scan_store().num_bytes and len(removal.leftovers) == 2
    assert sorted(p.name for p in (home / "weights").iterdir()) == before


def test_everything_takes_weights_and_leftovers_but_never_a_file_the_store_did_not_write(home: Path) -> None:
    total = scan_store().num_bytes
    removal = remove_from_store(everything=True)
    assert removal.num_bytes == total
    assert [p.name for p in (home / "weights").iterdir()] == ["notes.txt"]
    with pytest.raises(WeightsNotFoundError):
        load("FALSR-A")


def test_a_file_no_entry_claims_is_removed_by_the_name_the_scan_gives(home: Path) -> None:
    removal = remove_from_store(["old-model"])
    assert [(w.name, w.num_bytes) for w in removal.weights] == [("OLD-MODEL", 1234)]
    assert not (home / "weights" / "OLD-MODEL.safetensors").exists()


def test_zoo_models_not_stored_are_reported_and_other_names_refused(home: Path) -> None:
    removal = remove_from_store(["FALSR-C", "RENASNet", "FALSR-B", "FALSR-B"])
    assert [w.name for w in removal.weights] == ["FALSR-B"] and removal.not_stored == ("FALSR-C", "RENASNet")
    with pytest.raises(UnknownModelError, match=r"unknown model 'FALSR-Z'; did you mean"):
        remove_from_store(["FALSR-A", "FALSR-Z"])
    assert (home / "weights" / "FALSR-A.safetensors").exists()  # checked before anything is removed
    for names, everything in (([], False), (["FALSR-A"], True)):
        with pytest.raises(ValueError, match="name the weights to remove, or pass everything=True"):
            remove_from_store(names, everything=everything)


def test_a_file_that_cannot_be_removed_is_one_output_error(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_read_only(monkeypatch, home / "weights")
    target = home / "weights" / "FALSR-B.safetensors"
    with pytest.raises(OutputError, match=rf"^cannot remove {target}: read-only file system$"):
        remove_from_store(["FALSR-B"])
    assert target.exists()


def test_only_the_exact_file_name_is_a_zoo_models_and_a_name_takes_every_spelling(home: Path) -> None:
    if (home / "weights" / "falsr-b.safetensors").exists():
        pytest.skip("a case-insensitive file system has one name for both spellings")
    (home / "weights" / "falsr-b.safetensors").write_bytes(b"not read by load: another name")
    scan = scan_store()
    assert [(w.name, w.in_zoo) for w in scan.weights] == [
        ("FALSR-A", True), ("FALSR-B", True), ("OLD-MODEL", False), ("falsr-b", False)]
    removal = remove_from_store(["Falsr-B"])
    assert sorted(w.path.name for w in removal.weights) == ["FALSR-B.safetensors", "falsr-b.safetensors"]
    assert [w.name for w in scan_store().weights] == ["FALSR-A", "OLD-MODEL"]
