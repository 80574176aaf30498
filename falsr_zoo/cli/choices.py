"""What the commands offer as choices, importable without torch: model names (with shell
completion), precisions, backends, output formats.

``falsr --help``, ``falsr upscale --help`` and completion read only this module, the registry and
click. The values mirror the library's own tables (:data:`falsr_zoo.sr.upscale.PRECISIONS`,
:data:`falsr_zoo.runtime.backends.BACKENDS`, ...), which import torch; a test checks that they agree.
"""

from __future__ import annotations

from typing import Any

import click
from click.shell_completion import CompletionItem

from falsr_zoo.zoo.registry import get_entry, list_entries

__all__ = ["BACKEND_CHOICES", "EXTENSIONS", "PRECISION_CHOICES", "SR_TASK", "ModelReference", "model_help"]

SR_TASK = "image-super-resolution"
PRECISION_CHOICES = ("fp32", "bf16", "fp16")
"""The network body's type (``Upscaler(precision=...)``); the colour step is always float32."""
BACKEND_CHOICES = ("torch", "onnxruntime", "tensorrt")
EXTENSIONS = ("auto", "png", "jpg", "webp", "tiff")
"""``falsr upscale --ext``: ``auto`` keeps the input's format where Pillow can write it, else PNG."""


def _names(task: str | None) -> list[str]:
    return [entry.name for entry in list_entries() if task is None or entry.task == task]


def model_help(task: str | None = None, what: str = "Zoo model") -> str:
    """``Zoo model (FALSR-A, FALSR-B, FALSR-C), a model directory (./my-model) or hf-hub:owner/name.``"""
    return f"{what} ({', '.join(_names(task))}), a model directory (./my-model) or hf-hub:owner/name."


class ModelReference(click.ParamType):
    """A zoo name, a model directory or ``hf-hub:owner/name``; completes zoo names (of ``task``)
    and directories. The value is passed on as given: loading checks it (an unknown name is a
    one-line error that suggests the close zoo names)."""

    name = "model"

    def __init__(self, task: str | None = None, *, directories: bool = True) -> None:
        self.task = task
        self.directories = directories

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return "NAME|DIR|hf-hub:OWNER/NAME" if self.directories else "NAME"

    def shell_complete(self, ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
        items = [CompletionItem(name, help=get_entry(name).summary) for name in _names(self.task)
                 if name.lower().startswith(incomplete.lower())]
        if self.directories and not incomplete.startswith("hf-hub:"):
            items.append(CompletionItem(incomplete, type="dir"))  # the shell completes directories
        return items

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        return str(value)
