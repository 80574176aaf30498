"""The weights a run returns are its best validation's, not its last's, in memory, on disk and after a resume.

The validation is scripted (a patched ``SuperResolution.validate`` that returns given PSNRs and
keeps a copy of the weights it was shown), so the best one is known in advance and the test does
not depend on how a real run's PSNR happens to move.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from falsr_zoo import load
from falsr_zoo.train import Progress, TrainData, make_config, resume, train
from falsr_zoo.train.tasks import SuperResolution
from tests.train.conftest import TINY

SCRIPT = [31.0, 33.0, 32.0, 30.0]
"""The PSNRs of the validations at steps 2, 4, 6 and 8 (the end): the best is the second, not the first or last."""
BEST = 1


class _Stop(Exception):
    """Raised from the progress callback: the run stops as after a signal, its checkpoint written."""


def _stop_at_5(report: Progress) -> None:
    if report.step == 5:
        raise _Stop


@pytest.fixture()
def shown(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, torch.Tensor]]:
    """The weights each validation saw, in order; validation ``i`` reports ``SCRIPT[i]``."""
    seen: list[dict[str, torch.Tensor]] = []

    def scripted(self: SuperResolution, net: torch.nn.Module, data: TrainData) -> dict[str, float]:
        seen.append({name: value.detach().clone() for name, value in net.state_dict().items()})
        psnr = SCRIPT[len(seen) - 1]
        return {"psnr": psnr, "ssim": psnr / 100}

    monkeypatch.setattr(SuperResolution, "validate", scripted)
    return seen


def _equal(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[name], b[name]) for name in a)


@pytest.mark.parametrize("how", ["in memory", "run directory", "stopped and resumed"])
def test_the_best_validations_weights_and_metrics_are_returned(hr_folder: Path, tmp_path: Path, how: str,
                                                               shown: list[dict[str, torch.Tensor]]) -> None:
    config = make_config("falsr", TINY, data=str(hr_folder), val=str(hr_folder), cache_dir=str(tmp_path / "cache"),
                         overrides=["steps=8", "val_every=2", "batch_size=4", "patch_size=16", "lr=3e-3"])
    run = None if how == "in memory" else tmp_path / "run"
    if how == "stopped and resumed":
        with pytest.raises(_Stop):
            train(config, run, progress=_stop_at_5)
        result = resume(run)
    else:
        result = train(config, run)
    assert [line["step"] for line in result.history] == [2, 4, 6, 8]
    assert [line["psnr"] for line in result.history] == SCRIPT
    assert len(shown) == len(SCRIPT)
    assert not _equal(shown[BEST], shown[-1])  # the best and the last weights can be told apart
    assert result.metrics == {"psnr": SCRIPT[BEST], "ssim": SCRIPT[BEST] / 100}
    assert _equal(result.model.state_dict(), shown[BEST])
    if run is not None:
        assert _equal(load_file(run / "checkpoints" / "best.safetensors"), shown[BEST])
        assert _equal(load(str(run / "model")).state_dict(), shown[BEST])
        card = json.loads((run / "model" / "config.json").read_text())
        assert card["metrics"][hr_folder.name]["psnr"] == SCRIPT[BEST]
