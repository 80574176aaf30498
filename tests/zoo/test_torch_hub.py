"""``hubconf.py``: ``torch.hub`` loads the zoo's models from a checkout, one entry point per zoo entry.

``torch.hub.load(ROOT, ..., source="local")`` is the real call. ``torch.hub.list`` and
``torch.hub.help`` only take GitHub repositories; they run here with the download step replaced
by this checkout (what a GitHub download of it would unpack).
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from falsr_zoo.api import load
from falsr_zoo.errors import WeightsNotFoundError
from falsr_zoo.torch_hub import entry_point_name
from falsr_zoo.zoo.registry import list_entries
from falsr_zoo.zoo.weights import write_safetensors

ROOT = Path(__file__).resolve().parents[2]
NAMES = {"FALSR-A": "falsr_a", "FALSR-B": "falsr_b", "FALSR-C": "falsr_c", "RENASNet": "renasnet",
         "RENASNet-CIFAR10": "renasnet_cifar10"}


@pytest.fixture()
def checkout(monkeypatch: pytest.MonkeyPatch) -> str:
    """``torch.hub``'s GitHub download step answers with this checkout."""
    monkeypatch.setattr(torch.hub, "_get_cache_or_reload", lambda *args, **kwargs: str(ROOT))
    return "someone/falsr-zoo"


def test_falsr_b_from_the_checkout_is_load_falsr_b(store: Path) -> None:
    hub_model = torch.hub.load(str(ROOT), "falsr_b", source="local")
    zoo_model = load("FALSR-B")
    assert type(hub_model) is type(zoo_model) and not hub_model.training
    hub_state, zoo_state = hub_model.state_dict(), zoo_model.state_dict()
    assert list(hub_state) == list(zoo_state)
    assert all(torch.equal(hub_state[key], zoo_state[key]) for key in zoo_state)
    untrained = torch.hub.load(str(ROOT), "falsr_b", source="local", pretrained=False).state_dict()
    assert any(not torch.equal(untrained[key], value) for key, value in zoo_state.items())


def test_every_zoo_entry_has_an_entry_point_and_nothing_else_is_one(checkout: str) -> None:
    assert sorted(torch.hub.list(checkout)) == sorted(entry_point_name(e.name) for e in list_entries())
    assert {e.name: entry_point_name(e.name) for e in list_entries()} == NAMES


@pytest.mark.parametrize("entry", list_entries(), ids=lambda e: e.name)
def test_help_shows_the_entrys_docstring(checkout: str, entry) -> None:
    text = torch.hub.help(checkout, entry_point_name(entry.name))
    assert text.startswith(f"{entry.name}: {entry.summary}")
    assert f"{entry.num_params:,} parameters" in text and entry.paper["url"] in text
    assert f"pretrained: Load the weights (default {entry.weights is not None})" in text
    if entry.weights is not None:
        assert f"Licence of the weights: {entry.license}." in text


def test_renasnet_builds_untrained_by_default_and_pretrained_says_why_not(empty_home: Path, tmp_path: Path) -> None:
    net = torch.hub.load(str(ROOT), "renasnet_cifar10", source="local")
    assert sum(p.numel() for p in net.parameters()) == 3_512_042 and not net.training
    with pytest.raises(WeightsNotFoundError, match="no published weights are reachable for RENASNet-CIFAR10"):
        torch.hub.load(str(ROOT), "renasnet_cifar10", source="local", pretrained=True)
    path = tmp_path / "cifar.safetensors"
    write_safetensors(net.state_dict(), path, {})
    again = torch.hub.load(str(ROOT), "renasnet_cifar10", source="local", weights=str(path)).state_dict()
    assert all(torch.equal(again[key], value) for key, value in net.state_dict().items())


def test_hubconf_declares_importable_dependencies_and_imports_no_torch() -> None:
    code = ("import importlib.util, sys\n"
            f"spec = importlib.util.spec_from_file_location('hubconf', {str(ROOT / 'hubconf.py')!r})\n"
            "module = importlib.util.module_from_spec(spec)\nspec.loader.exec_module(module)\n"
            "print(module.dependencies, 'torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    dependencies, torch_loaded = done.stdout.strip().rsplit(" ", 1)
    assert torch_loaded == "False" and "'torch'" in dependencies
    spec = importlib.util.spec_from_file_location("hubconf_here", ROOT / "hubconf.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert [name for name in module.dependencies if importlib.util.find_spec(name) is None] == []
