"""Models of your own on the Hub, end to end against the loopback Hub (``tests/hub_server.py``):
``push_to_hub`` / ``falsr push`` -> ``load("hf-hub:...")`` / ``falsr upscale --model hf-hub:...``,
pinned revisions, offline use of the cache, and fast, one-line failures.

Each case runs in a fresh process: ``huggingface_hub`` reads ``HF_ENDPOINT`` when imported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from PIL import Image

from falsr_zoo import load
from falsr_zoo.cli.exit_codes import EXIT_WEIGHTS
from tests.hub_server import local_hub

TOKEN = "hf_loopback_test_token"


def _env(home: Path, endpoint: str, offline: bool = False) -> dict[str, str]:
    env = {**os.environ, "FALSR_ZOO_HOME": str(home), "HF_ENDPOINT": endpoint, "HF_HOME": str(home / "hf"),
           "HF_TOKEN": TOKEN, "HF_HUB_DISABLE_TELEMETRY": "1", "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"}
    env.pop("HF_HUB_OFFLINE", None)
    if offline:
        env["HF_HUB_OFFLINE"] = "1"
    return env


def _python(code: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=300)


def _falsr(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "falsr_zoo", *args], env=env, capture_output=True, text=True,
                          timeout=300)


PUSH_AND_LOAD = """
import json, sys, torch
from falsr_zoo import load
from falsr_zoo.api import read_config
model = load("FALSR-B")
first = model.push_to_hub("me/falsr-b", metrics={"Set5": {"psnr": 1.0}})
second = model.push_to_hub("me/falsr-b", metrics={"Set5": {"psnr": 2.0}})
pinned = load("hf-hub:me/falsr-b", revision=first.commit)
y = torch.rand(1, 1, 15, 17, generator=torch.Generator().manual_seed(0))
pbpr = torch.rand(1, 2, 30, 34, generator=torch.Generator().manual_seed(1)) - 0.5
with torch.inference_mode():
    same = torch.equal(model(y, pbpr), pinned(y, pbpr))
print(json.dumps({
    "commits": [first.commit, second.commit],
    "same": same,
    "pinned_metrics": read_config("hf-hub:me/falsr-b", revision=first.commit).metrics["Set5"]["psnr"],
    "main_metrics": read_config("hf-hub:me/falsr-b").metrics["Set5"]["psnr"],
}))
"""


def test_push_to_hub_then_load_pinned_and_latest(store: Path, tmp_path: Path) -> None:
    with local_hub() as (endpoint, hub):
        env = {**_env(tmp_path, endpoint), "FALSR_ZOO_HOME": str(store)}
        env["HF_HOME"] = str(tmp_path / "hf")
        done = _python(PUSH_AND_LOAD, env)
        assert done.returncode == 0, done.stderr
        result = json.loads(done.stdout.strip().splitlines()[-1])
        assert result["same"] is True
        assert result["commits"][0] != result["commits"][1]
        assert result["pinned_metrics"] == 1.0 and result["main_metrics"] == 2.0
        commits = [r for r in hub.requests if r.startswith("POST /api/models/me/falsr-b/commit/")]
        assert len(commits) == 2
        assert set(hub.authorizations) == {f"Bearer {TOKEN}"}
        uploaded = {name for (repo, rev, name) in hub.files if repo == "me/falsr-b" and rev == result["commits"][0]}
        assert uploaded == {"config.json", "model.safetensors", "README.md"}


def test_cli_push_then_upscale_from_the_hub_and_the_directory_write_the_zoo_models_bytes(
    store: Path, tmp_path: Path
) -> None:
    image = tmp_path / "in.png"
    Image.effect_noise((23, 19), 60).convert("RGB").save(image)
    directory = tmp_path / "mine"
    load("FALSR-B").save_pretrained(directory, metrics={"Set5": {"psnr": 37.6141}})
    with local_hub() as (endpoint, hub):
        env = {**_env(tmp_path, endpoint), "FALSR_ZOO_HOME": str(store)}
        pushed = _falsr(env, "push", str(directory), "me/mine")
        assert pushed.returncode == 0, pushed.stderr
        commit = hub.branches[("me/mine", "main")]
        assert f'revision="{commit}"' in pushed.stdout
        runs = {
            "zoo": ["--model", "FALSR-B"],
            "dir": ["--model", str(directory)],
            "hub": ["--model", "hf-hub:me/mine", "--revision", commit],
        }
        for label, args in runs.items():
            done = _falsr(env, "upscale", str(image), *args, "-o", str(tmp_path / f"{label}.png"))
            assert done.returncode == 0, (label, done.stderr)
        before = len(hub.requests)
        offline = _falsr({**env, "HF_HUB_OFFLINE": "1"}, "upscale", str(image), "--model", "hf-hub:me/mine",
                         "--revision", commit, "-o", str(tmp_path / "offline.png"))
        assert offline.returncode == 0, offline.stderr
        assert len(hub.requests) == before  # the cache served it
    outputs = {label: (tmp_path / f"{label}.png").read_bytes() for label in (*runs, "offline")}
    assert len(set(outputs.values())) == 1


def test_missing_repository_and_unreachable_hub_fail_fast_with_one_line(tmp_path: Path) -> None:
    image = tmp_path / "in.png"
    Image.new("RGB", (8, 8)).save(image)
    with local_hub() as (endpoint, hub):
        done = _falsr(_env(tmp_path, endpoint), "upscale", str(image), "--model", "hf-hub:me/missing")
    assert done.returncode == EXIT_WEIGHTS
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "the Hub has no me/missing@main/config.json" in lines[0], lines
    # nothing listens on port 9: refused at once, no retries
    started = time.monotonic()
    done = _falsr(_env(tmp_path, "http://127.0.0.1:9"), "upscale", str(image), "--model", "hf-hub:me/missing")
    elapsed = time.monotonic() - started
    assert done.returncode == EXIT_WEIGHTS
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot reach the Hub for me/missing@main/config.json" in lines[0], lines
    assert elapsed < 15, elapsed  # a fresh interpreter importing torch included; without retries it is ~4 s


def test_push_refuses_a_directory_whose_weights_do_not_match(tmp_path: Path) -> None:
    directory = tmp_path / "mine"
    load(genome="conv f16 k1 b1 noskip <- 0; out <- 0,1").save_pretrained(directory)
    (directory / "model.safetensors").write_bytes(b"not the weights")
    with local_hub() as (endpoint, hub):
        done = _falsr(_env(tmp_path, endpoint), "push", str(directory), "me/broken")
        assert [r for r in hub.requests if r.startswith("POST")] == []
    assert done.returncode == EXIT_WEIGHTS and "records" in done.stderr


def test_offline_without_cache_touches_no_network(tmp_path: Path) -> None:
    with local_hub() as (endpoint, hub):
        done = _python("from falsr_zoo import load; load('hf-hub:me/nothing-cached')", _env(tmp_path, endpoint, True))
        assert hub.requests == []
    assert done.returncode != 0
    assert "HubFileError" in done.stderr and "network access is off" in done.stderr
