"""``falsr models`` marks stored weights; ``falsr cache list`` / ``falsr cache rm`` list and remove them,
with one-line errors, the documented exit statuses, and without importing torch."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from falsr_zoo.cli import main
from falsr_zoo.cli.exit_codes import EXIT_FAILURE, EXIT_USAGE
from falsr_zoo.cli.tables import format_size
from falsr_zoo.zoo.registry import list_entries
from tests.cli.read_only import make_read_only

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture()
def home(weights_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A store holding FALSR-B's official file and one leftover of an interrupted download."""
    weights = tmp_path / "home" / "weights"
    weights.mkdir(parents=True)
    shutil.copyfile(weights_home / "weights" / "FALSR-B.safetensors", weights / "FALSR-B.safetensors")
    (weights / ".FALSR-C.safetensors.0123abcd.part").write_bytes(b"p" * 2000)
    monkeypatch.setenv("FALSR_ZOO_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def _rows(table: str) -> dict[str, list[str]]:
    """The rows of a ``falsr`` table by their first cell (header and rule left out)."""
    return {line.split()[0]: line.split() for line in table.strip().splitlines()[2:]}


def test_models_marks_what_the_store_holds(home: Path) -> None:
    code, out, _ = run("models")
    assert code == 0
    assert out.splitlines()[0].split()[-2:] == ["weights", "stored"]
    rows = _rows(out)
    assert {name: row[-1] for name, row in rows.items()} == {
        "FALSR-A": "no", "FALSR-B": "yes", "FALSR-C": "no", "RENASNet": "no", "RENASNet-CIFAR10": "no"}
    listed = json.loads(run("models", "--json")[1])
    assert [(m["name"], m["stored"]) for m in listed] == [(e.name, e.name == "FALSR-B") for e in list_entries()]


def test_cache_list_shows_sizes_the_total_and_leftovers(home: Path) -> None:
    code, out, _ = run("cache", "list")
    stored = home / "weights" / "FALSR-B.safetensors"
    size = stored.stat().st_size
    assert code == 0
    row = _rows(out.split("\n\n")[0])["FALSR-B"]
    assert " ".join(row[1:3]) == format_size(size) == "1.3 MB" and row[-1] == str(stored)
    assert f"1 file(s), {format_size(size + 2000)} in {home / 'weights'}" in out
    assert "1 leftover(s) of interrupted downloads or conversions (2.0 kB); falsr cache rm --all removes them" in out
    listed = json.loads(run("cache", "list", "--json")[1])
    assert listed["num_bytes"] == size + 2000 and listed["leftover_bytes"] == 2000
    assert [(w["name"], w["num_bytes"], w["path"], w["in_zoo"]) for w in listed["weights"]] == [
        ("FALSR-B", size, str(stored), True)]


def test_cache_rm_dry_run_then_rm_then_all(home: Path) -> None:
    stored = home / "weights" / "FALSR-B.safetensors"
    size = stored.stat().st_size
    code, out, _ = run("cache", "rm", "FALSR-B", "FALSR-A", "--dry-run")
    assert code == 0 and stored.exists()
    assert out.splitlines() == [f"would remove FALSR-B ({format_size(size)}) {stored}", "FALSR-A: not stored",
                                f"would free {format_size(size)}"]
    code, out, _ = run("cache", "rm", "falsr-b")
    assert code == 0 and not stored.exists() and out.splitlines()[-1] == f"freed {format_size(size)}"
    assert _rows(run("models")[1])["FALSR-B"][-1] == "no"
    code, out, _ = run("cache", "rm", "--all")
    assert code == 0 and list((home / "weights").iterdir()) == []
    assert out.splitlines() == ["removed 1 leftover(s) of interrupted downloads or conversions", "freed 2.0 kB"]
    assert run("cache", "list")[1].strip() == f"no weights stored in {home / 'weights'}"


@pytest.mark.parametrize(("args", "status", "message"), [
    (["cache", "rm"], EXIT_USAGE, "Error: name the models to remove, or pass --all (not both)"),
    (["cache", "rm", "FALSR-B", "--all"], EXIT_USAGE, "Error: name the models to remove, or pass --all (not both)"),
    (["cache", "rm", "FALSR-Z"], EXIT_USAGE, "Error: unknown model 'FALSR-Z'; did you mean FALSR-A, FALSR-B, FALSR-C?"),
])
def test_cache_rm_refuses_bad_requests(home: Path, args: list[str], status: int, message: str) -> None:
    code, _, err = run(*args)
    assert code == status and message in err.strip().splitlines()
    assert (home / "weights" / "FALSR-B.safetensors").exists()


def test_a_store_that_cannot_be_changed_is_one_line_and_status_1(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_read_only(monkeypatch, home / "weights")
    code, _, err = run("cache", "rm", "FALSR-B")
    target = home / "weights" / "FALSR-B.safetensors"
    assert code == EXIT_FAILURE
    assert err.strip().splitlines() == [f"Error: cannot remove {target}: read-only file system"]
    assert target.exists()


def test_models_and_cache_commands_import_no_torch(home: Path) -> None:
    code = ("import sys\nfrom falsr_zoo.cli import main\n"
            "try:\n    main(sys.argv[1:], prog_name='falsr')\nexcept SystemExit as done:\n    assert not done.code\n"
            "print('TORCH', 'torch' in sys.modules)")
    for argv in (["models"], ["cache", "list"], ["cache", "rm", "FALSR-B", "--dry-run"], ["cache", "rm", "--all"]):
        done = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=120,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert done.returncode == 0 and done.stdout.strip().splitlines()[-1] == "TORCH False", (argv, done.stderr)
    assert list((home / "weights").iterdir()) == []
