"""The training engine: one loop for every family, exact resume, DDP, a model directory at the end.

:func:`train` runs a :class:`~falsr_zoo.train.recipes.TrainConfig` (the command ``falsr train``
and the searches call it in-process); :func:`resume` continues a run directory. The loop is the
conventional PyTorch one: the family's task (:mod:`falsr_zoo.train.tasks`) gives the data, the
loss and the validation; the engine adds what a run needs around it:

* **Exact resume.** Step ``t`` sees data that is a function of the seed and ``t`` only, the
  learning rate is a function of ``t``, the data loader draws nothing from torch's global
  generator (dropout and drop-path do, so a resumed session must not be one draw ahead), and
  checkpoints (written atomically every ``checkpoint_every`` steps, at each validation and at
  the end) hold the network, the optimiser, ``t``, the best validation and every generator's
  state. A run killed with SIGKILL and resumed ends with the same weights as an uninterrupted
  run, bit for bit on the CPU. On a GPU the same holds as far as the kernels are deterministic
  (cuDNN autotuning is off; atomics in some backward kernels are not deterministic, so expect
  equal to within float noise there).
* **Speed.** On CUDA: autocast in bf16/fp16 (``precision``; fp16 with a gradient scaler),
  channels-last, pinned-memory loader workers, optional ``torch.compile``. The loss is read back
  from the device only when a metrics line is written.
* **Several processes.** Under ``torchrun`` the same command trains with
  ``DistributedDataParallel`` (NCCL on GPUs, gloo on CPUs); each process takes its slice of every
  global batch, rank 0 validates, logs and writes checkpoints, and resume works the same way.
* **Run directory.** ``config.json`` (the config and its digest: a resume with other settings is
  refused), ``metrics.jsonl`` (training and validation lines), ``checkpoints/last.pt`` and
  ``checkpoints/best.safetensors``, the data cache, and ``model/``: the final model directory
  (the best validated weights, or the last ones without validation) that ``load(DIR)``,
  ``falsr upscale --model DIR`` and ``falsr eval --model DIR`` accept.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import shutil
import signal
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import torch
import torch.distributed as dist
from safetensors.torch import load_file
from torch import nn
from torch.utils.data import DataLoader

from falsr_zoo._files import atomic_write_bytes, output_error
from falsr_zoo.api import load
from falsr_zoo.errors import ConfigError, UnknownModelError
from falsr_zoo.families.table import Family, get_family
from falsr_zoo.train.checkpoints import capture_rng, read_checkpoint, restore_rng, write_checkpoint
from falsr_zoo.train.recipes import TrainConfig
from falsr_zoo.train.sr_patches import StepSampler
from falsr_zoo.train.tasks import TASKS, Task, TrainData
from falsr_zoo.zoo.registry import get_entry
from falsr_zoo.zoo.weights import write_safetensors

__all__ = ["Progress", "TrainResult", "build_network", "resolve_architecture", "resume", "train"]

logger = logging.getLogger(__name__)

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.jsonl"
LAST = Path("checkpoints") / "last.pt"
BEST = Path("checkpoints") / "best.safetensors"
MODEL_DIR = "model"


@dataclass(frozen=True)
class Progress:
    """What the progress callback receives after every step (and after each validation)."""

    step: int
    total: int
    loss: float | None
    lr: float
    elapsed_s: float
    validation: Mapping[str, float] | None = None
    data_wait_s: float = 0.0
    """Time spent waiting for batches since this session started (the loader's share of ``elapsed_s``)."""


@dataclass
class TrainResult:
    """What a run produced.

    Attributes:
        model: The trained network in eval mode (the best validated weights when validating).
        steps: Steps completed.
        metrics: The returned weights' validation metrics (``{}`` without validation).
        history: Every validation line, ``{"step": ..., <metric>: ...}``.
        run_dir: The run directory, or ``None`` for an in-memory run.
        model_dir: The model directory written at the end, or ``None``.
        seconds: Wall time of this call.
        data_wait_s: Time the loop spent waiting for batches.
    """

    model: nn.Module
    steps: int
    metrics: dict[str, float] = field(default_factory=dict)
    history: list[dict[str, float]] = field(default_factory=list)
    run_dir: Path | None = None
    model_dir: Path | None = None
    seconds: float = 0.0
    data_wait_s: float = 0.0


# --------------------------------------------------------------------------------------------
# The network


def resolve_architecture(config: TrainConfig) -> tuple[Family, str, dict[str, Any]]:
    """``(family, canonical genome, network options)`` of ``config.model`` (a zoo name or genome).

    Raises:
        ConfigError: a zoo model of another family, or a genome without its required options.
        GenomeError: an invalid genome string.
    """
    family = get_family(config.family)
    try:
        entry = get_entry(config.model)
    except UnknownModelError:
        entry = None
    if entry is not None:
        if entry.family != family.name:
            raise ConfigError(f"{entry.name} is a {entry.family} model, not {family.name}")
        return family, entry.genome, {**entry.options, **config.options}
    spec = family.parse_genome(config.model)
    missing = [key for key in family.required if key not in config.options]
    if missing:
        raise ConfigError(f"a {family.name} genome needs its network options: {', '.join(missing)}")
    return family, spec.to_string(), dict(config.options)


def _initialise(net: nn.Module, std: float) -> None:
    """Weights N(0, std) and zero biases for every convolution and linear layer (FALSR's full training)."""
    for module in net.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            nn.init.normal_(module.weight, 0.0, std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)


def build_network(config: TrainConfig, extra_options: Mapping[str, Any] | None = None) -> nn.Module:
    """The untrained (or ``init``-loaded) network of a config, seeded by ``config.seed``.

    Raises:
        ConfigError: an ``init`` model of another architecture.
    """
    family, genome, options = resolve_architecture(config)
    torch.manual_seed(config.seed)
    net = family.build(genome, **{**options, **(extra_options or {})})
    if config.init_std is not None:
        _initialise(net, config.init_std)
    if config.init:
        source = load(config.init)
        if getattr(source, "family", None) != family.name or str(source.genome) != str(net.genome):
            raise ConfigError(f"--init {config.init} is another architecture ({source.genome}) than the one trained")
        missing, unexpected = net.load_state_dict(source.state_dict(), strict=False)
        # Only heads that exist for training alone (RENAS's auxiliary head) may be missing.
        if unexpected or any(not key.startswith("aux_head.") for key in missing):
            raise ConfigError(f"--init {config.init} does not fit: missing {missing[:3]}, unexpected {unexpected[:3]}")
    return net


# --------------------------------------------------------------------------------------------
# Processes and devices


@dataclass(frozen=True)
class _Processes:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_env(cls, device: torch.device) -> _Processes:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return cls()
        if not dist.is_initialized():
            dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
        return cls(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))

    def barrier(self) -> None:
        if self.world > 1:
            dist.barrier()


def _device(config: TrainConfig) -> torch.device:
    if config.device:
        device = torch.device(config.device)
    else:
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type == "cuda" and device.index is None and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    if device.type == "cuda":
        torch.cuda.set_device(device)
    return device


def _autocast(config: TrainConfig, device: torch.device) -> contextlib.AbstractContextManager:
    if config.precision == "fp32":
        return contextlib.nullcontext()
    if device.type == "cpu" and config.precision == "fp16":
        raise ConfigError("precision=fp16 needs a CUDA device; use bf16 on the CPU")
    dtype = torch.bfloat16 if config.precision == "bf16" else torch.float16
    return torch.autocast(device_type=device.type, dtype=dtype)


def _workers(config: TrainConfig, device: torch.device) -> int:
    if config.num_workers is not None:
        return config.num_workers
    return 0 if device.type == "cpu" else min(8, os.cpu_count() or 1)


def lr_factor(step: int, total: int, config: TrainConfig) -> float:
    """The schedule: linear warm-up, then constant or a cosine decay from ``lr`` to ``lr_min``."""
    if config.warmup_steps and step < config.warmup_steps:
        return (step + 1) / config.warmup_steps
    if config.schedule == "constant":
        return 1.0
    progress = (step - config.warmup_steps) / max(1, total - config.warmup_steps)
    floor = config.lr_min / config.lr
    return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def _optimizer(config: TrainConfig, net: nn.Module, multipliers: Mapping[str, float] | None) -> torch.optim.Optimizer:
    groups: dict[float, list[nn.Parameter]] = {}
    for name, parameter in net.named_parameters():
        if parameter.requires_grad:
            groups.setdefault((multipliers or {}).get(name, 1.0), []).append(parameter)
    param_groups = [{"params": params, "lr": config.lr * scale, "base_lr": config.lr * scale}
                    for scale, params in sorted(groups.items())]
    if config.optimizer == "adam":
        return torch.optim.Adam(param_groups, lr=config.lr, betas=(config.beta1, config.beta2),
                                weight_decay=config.weight_decay)
    return torch.optim.SGD(param_groups, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)


# --------------------------------------------------------------------------------------------
# The run


class _Stop:
    """Turns SIGINT / SIGTERM into a flag the loop checks between steps (a clean checkpoint, then exit)."""

    def __init__(self) -> None:
        self.requested = False
        self._saved: dict[int, Any] = {}

    def __enter__(self) -> _Stop:
        try:
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._saved[sig] = signal.signal(sig, self._handle)
        except ValueError:  # not the main thread: leave signals alone
            self._saved = {}
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:  # a second signal: stop now
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._saved.items():
            signal.signal(sig, handler)


class TrainingInterrupted(KeyboardInterrupt):
    """Raised by :func:`train` after a signal, once the checkpoint of the last finished step is written."""

    def __init__(self, step: int, run_dir: Path | None) -> None:
        self.step, self.run_dir = step, run_dir
        super().__init__(f"stopped after step {step}" + (f"; resume with: falsr train --resume {run_dir}" if run_dir else ""))


class _Run:
    def __init__(self, config: TrainConfig, run_dir: Path | None, data: TrainData | None,
                 progress: Callable[[Progress], None] | None, net: nn.Module | None,
                 lr_multipliers: Mapping[str, float] | None, write_model_dir: bool) -> None:
        self.config, self.run_dir, self.progress = config, run_dir, progress
        self.write_model_dir = write_model_dir
        self.device = _device(config)
        self.procs = _Processes.from_env(self.device)
        self.task: Task = TASKS[config.family]()
        cache = Path(config.cache_dir) if config.cache_dir else (run_dir / "cache" if run_dir else _default_cache())
        self.data = data or self.task.prepare(config, cache)
        self.total = config.total_steps(self.data.num_samples)
        self.net = net if net is not None else build_network(config, self.task.build_options(config, self.data))
        self.net.to(self.device)
        if self.device.type == "cuda" and config.channels_last:
            self.net.to(memory_format=torch.channels_last)
        self.optimizer = _optimizer(config, self.net, lr_multipliers)
        self.scaler = torch.amp.GradScaler("cuda", enabled=config.precision == "fp16" and self.device.type == "cuda")
        self.step = 0
        self.best: dict[str, float] = {}
        self.best_state: dict[str, torch.Tensor] | None = None
        self.history: list[dict[str, float]] = []
        self.data_wait = 0.0
        torch.backends.cudnn.benchmark = False

    # -- state ----------------------------------------------------------------------------------

    def _payload(self) -> dict[str, Any]:
        return {"step": self.step, "model": self.net.state_dict(), "optimizer": self.optimizer.state_dict(),
                "scaler": self.scaler.state_dict(), "rng": capture_rng(), "best": dict(self.best),
                "history": list(self.history), "digest": self.config.digest()}

    def restore(self) -> None:
        payload = read_checkpoint(self.run_dir / LAST, map_location=self.device)
        if payload["digest"] != self.config.digest():
            raise ConfigError(f"{self.run_dir / LAST} belongs to another configuration than {self.run_dir / CONFIG_FILE}")
        self.net.load_state_dict(payload["model"])
        self.optimizer.load_state_dict(payload["optimizer"])
        self.scaler.load_state_dict(payload["scaler"])
        restore_rng(payload["rng"])
        self.step, self.best, self.history = int(payload["step"]), dict(payload["best"]), list(payload["history"])
        _truncate_log(self.run_dir / METRICS_FILE, self.step)

    def checkpoint(self) -> None:
        if self.run_dir is not None and self.procs.main:
            write_checkpoint(self.run_dir / LAST, self._payload())

    def log(self, line: dict[str, Any]) -> None:
        if self.run_dir is not None and self.procs.main:
            with open(self.run_dir / METRICS_FILE, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(line, sort_keys=True) + "\n")

    # -- validation -----------------------------------------------------------------------------

    def validate(self) -> dict[str, float] | None:
        if self.data.validation is None:
            return None
        metrics = None
        if self.procs.main:
            was_training = self.net.training
            self.net.eval()
            metrics = self.task.validate(self.net, self.data)
            self.net.train(was_training)
            line = {"step": self.step, **metrics}
            self.history.append(line)
            self.log({"step": self.step, "validation": metrics})
            metric = self.task.metric
            if not self.best or metrics[metric] > self.best[metric]:
                self.best = {"step": self.step, **metrics}
                if self.run_dir is not None:
                    write_safetensors(self.net.state_dict(), self.run_dir / BEST,
                                      {"genome": str(self.net.genome), "step": str(self.step)})
                else:
                    self.best_state = {k: v.detach().clone() for k, v in self.net.state_dict().items()}
        self.procs.barrier()
        return metrics

    # -- the loop -------------------------------------------------------------------------------

    def _loader(self) -> Iterator[Any]:
        """The batches from step ``self.step`` on, drawing nothing from torch's global generator.

        Creating a DataLoader iterator draws its workers' base seed from ``generator``, or from the
        global generator when there is none; a resumed session creates its iterator after the
        checkpoint's generator states are restored, so that draw would put it one ahead of an
        uninterrupted run, and dropout and drop-path (RENAS) would differ from then on. A generator
        seeded by the run's seed alone gives every session the same base seed, and the samples do not
        depend on it anyway (each is a pure function of the seed and its index).
        """
        config = self.config
        sampler = StepSampler(self.step, self.total, config.batch_size, self.procs.rank, self.procs.world)
        workers = _workers(config, self.device)
        loader = DataLoader(self.data.dataset, batch_sampler=sampler, num_workers=workers,
                            pin_memory=self.device.type == "cuda", prefetch_factor=4 if workers else None,
                            persistent_workers=False, generator=torch.Generator().manual_seed(config.seed))
        return iter(loader)

    def run(self) -> TrainResult:
        config, started = self.config, time.perf_counter()
        module = self.task.trainable(self.net)
        if self.procs.world > 1:
            module = nn.parallel.DistributedDataParallel(
                module, device_ids=[self.device.index] if self.device.type == "cuda" else None)
        if config.compile:
            module = torch.compile(module)
        module.train()
        autocast = _autocast(config, self.device)
        batches = self._loader()
        window_loss, window_steps, window_start = torch.zeros((), device=self.device), 0, time.perf_counter()
        last_loss: float | None = None
        with _Stop() as stop:
            while self.step < self.total:
                waited = time.perf_counter()
                batch = next(batches)
                self.data_wait += time.perf_counter() - waited
                factor = lr_factor(self.step, self.total, config)
                for group in self.optimizer.param_groups:
                    group["lr"] = group["base_lr"] * factor
                self.task.before_step(self.net, self.step, self.total, config)
                with autocast:
                    loss = self.task.loss(module, batch, self.device, config)
                self.optimizer.zero_grad(set_to_none=True)
                self.scaler.scale(loss).backward()
                if config.grad_clip:
                    self.scaler.unscale_(self.optimizer)
                    nn.utils.clip_grad_norm_(self.net.parameters(), config.grad_clip)
                self.scaler.step(self.optimizer)
                self.scaler.update()
                self.step += 1
                window_loss += loss.detach()
                window_steps += 1
                at_end = self.step == self.total
                if window_steps and (self.step % max(1, config.log_every) == 0 or at_end):
                    last_loss = float(window_loss) / window_steps
                    elapsed = time.perf_counter() - window_start
                    self.log({"step": self.step, "loss": last_loss, "lr": config.lr * factor,
                              "steps_per_s": window_steps / max(elapsed, 1e-9)})
                    window_loss.zero_()
                    window_steps, window_start = 0, time.perf_counter()
                validation = None
                if config.val_every and self.step % config.val_every == 0 and not at_end:
                    validation = self.validate()
                    module.train()
                if (config.checkpoint_every and self.step % config.checkpoint_every == 0) or validation:
                    self.checkpoint()
                if self.progress is not None:
                    self.progress(Progress(self.step, self.total, last_loss, config.lr * factor,
                                           time.perf_counter() - started, validation, self.data_wait))
                if stop.requested and not at_end:
                    self.checkpoint()
                    raise TrainingInterrupted(self.step, self.run_dir)
        final = self.validate()
        self.checkpoint()
        if self.progress is not None and final is not None:
            self.progress(Progress(self.step, self.total, last_loss, config.lr, time.perf_counter() - started, final,
                                   self.data_wait))
        return self._finish(time.perf_counter() - started)

    def _finish(self, seconds: float) -> TrainResult:
        net = self.net
        metrics: dict[str, float] = {}
        if self.best:
            metrics = {k: v for k, v in self.best.items() if k != "step"}
            if self.best["step"] != self.step:
                state = self._best_state()
                if state is not None:
                    net.load_state_dict(state)
        net.eval()
        model_dir = None
        if self.run_dir is not None and self.procs.main and self.write_model_dir:
            model_dir = self.run_dir / MODEL_DIR
            card_metrics = {self.data.validation_name: metrics} if metrics else None
            _save_model_dir(net, model_dir, card_metrics)
        self.procs.barrier()
        return TrainResult(net, self.step, metrics, list(self.history), self.run_dir, model_dir, seconds, self.data_wait)

    def _best_state(self) -> dict[str, torch.Tensor] | None:
        if self.run_dir is None:
            return self.best_state
        return load_file(os.fspath(self.run_dir / BEST), device=str(self.device))


def _save_model_dir(net: nn.Module, directory: Path, metrics: Mapping[str, Mapping[str, float]] | None) -> None:
    net.cpu().save_pretrained(directory, metrics=dict(metrics) if metrics else None)


def _default_cache() -> Path:
    home = os.environ.get("FALSR_ZOO_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "falsr-zoo")
    return Path(home) / "datasets"


def _truncate_log(path: Path, step: int) -> None:
    """Drop metrics lines written after the checkpoint a run resumes from (a resumed log equals an uninterrupted one)."""
    if not path.is_file():
        return
    kept = [line for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and json.loads(line)["step"] <= step]
    atomic_write_bytes(path, "".join(line + "\n" for line in kept).encode())


# --------------------------------------------------------------------------------------------
# Entry points


def _write_run_config(run_dir: Path, config: TrainConfig) -> None:
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise output_error(run_dir, err) from None
    document = {"config": config.to_json(), "digest": config.digest()}
    atomic_write_bytes(run_dir / CONFIG_FILE, (json.dumps(document, indent=2, sort_keys=True) + "\n").encode())


def train(config: TrainConfig, run_dir: str | os.PathLike[str] | None = None, *, data: TrainData | None = None,
          progress: Callable[[Progress], None] | None = None, net: nn.Module | None = None,
          lr_multipliers: Mapping[str, float] | None = None, write_model_dir: bool = True) -> TrainResult:
    """Train a network from a config.

    Args:
        config: What to train and how.
        run_dir: A new run directory (config, checkpoints, metrics, the final model directory), or
            ``None`` to train in memory only (no checkpoints; how the searches evaluate candidates).
        data: The task's data, when the caller has it loaded already (the searches reuse it).
        progress: Called after every step with a :class:`Progress`.
        net: A network to train instead of building one from ``config`` (parameter inheritance).
        lr_multipliers: Parameter name -> learning-rate multiplier (default 1 for every parameter).
        write_model_dir: Write ``run_dir/model`` at the end.

    Returns:
        The result; ``result.model`` is the trained network.

    Raises:
        ConfigError: a run directory that already holds a run, or an impossible setting.
        DatasetError: unusable data.
        TrainingInterrupted: after SIGINT/SIGTERM, once the last step's checkpoint is written.

    Example:
        >>> from falsr_zoo.train import make_config, train
        >>> config = make_config("falsr", "FALSR-B", data="DIV2K_train_HR", val="Set5", steps=1000)  # doctest: +SKIP
        >>> result = train(config, "runs/b")                                                   # doctest: +SKIP
    """
    path = Path(run_dir) if run_dir is not None else None
    resolve_architecture(config)  # a bad model or genome fails before any data is read
    main = int(os.environ.get("RANK", "0")) == 0
    if path is not None and (path / CONFIG_FILE).exists():
        raise ConfigError(f"{path} already holds a training run; continue it with: falsr train --resume {path}")
    created = path is not None and not path.exists()
    try:
        run = _Run(config, path, data, progress, net, lr_multipliers, write_model_dir)
    except BaseException:
        if created and main:
            shutil.rmtree(path, ignore_errors=True)  # leave nothing behind for a run that never started
        raise
    if path is not None and main:
        _write_run_config(path, config)
    return run.run()


def resume(run_dir: str | os.PathLike[str], *, progress: Callable[[Progress], None] | None = None,
           overrides: Mapping[str, Any] | None = None, write_model_dir: bool = True) -> TrainResult:
    """Continue the run in ``run_dir`` from its last checkpoint (or start it, if it has none yet).

    Args:
        run_dir: A directory :func:`train` created.
        progress: As for :func:`train`.
        overrides: Settings that may change on resume without changing the result (``device``,
            ``num_workers``, ``val_every``, ``checkpoint_every``, ``log_every``, ``cache_dir``).
        write_model_dir: Write ``run_dir/model`` at the end.

    Raises:
        ConfigError: not a run directory, a changed config, or an override that would change the result.
    """
    path = Path(run_dir)
    if not (path / CONFIG_FILE).is_file():
        raise ConfigError(f"{path} is not a training run directory (no {CONFIG_FILE})")
    document = json.loads((path / CONFIG_FILE).read_text(encoding="utf-8"))
    config = TrainConfig.from_json(document["config"])
    if config.digest() != document["digest"]:
        raise ConfigError(f"{path / CONFIG_FILE} was edited (its digest no longer matches); start a new run instead")
    if overrides:
        changed = replace(config, **overrides)
        if changed.digest() != config.digest():
            raise ConfigError(f"on resume only result-neutral settings may change, not {', '.join(overrides)}")
        config = changed
    run = _Run(config, path, None, progress, None, None, write_model_dir)
    if (path / LAST).is_file():
        run.restore()
    if run.step >= run.total:
        return run._finish(0.0)
    return run.run()
