"""The ``falsr`` command line: thin click commands over the library.

Each command parses and checks its options, calls one library function and prints. Domain
errors become one-line messages and exit statuses through :mod:`falsr_zoo.cli.exit_codes`.
Commands are named by dotted path in :data:`COMMANDS`, with their one-line help, and imported
only when run or completed (click's lazy-loading pattern): ``falsr --help``, ``--version`` and the
group's completion import no command module. The command modules import nothing heavy at module
level either (torch, the export machinery, the training engine load inside the command's body),
so ``falsr upscale --help`` and completing ``falsr upscale --model <TAB>`` stay light too; a test
checks that none of them imports torch.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import click

from falsr_zoo._plugins import resolve
from falsr_zoo._version import __version__
from falsr_zoo.cli.exit_codes import HANDLED, exit_code, one_line
from falsr_zoo.runtime.perf import tune_allocator

__all__ = ["COMMANDS", "main"]

COMMANDS: dict[str, tuple[str, str]] = {
    "models": ("falsr_zoo.cli.zoo_commands:models_command", "List the zoo."),
    "info": ("falsr_zoo.cli.zoo_commands:info_command",
             "Show one model (zoo name, model directory, hf-hub:): genome, costs, weights, metrics."),
    "cards": ("falsr_zoo.cli.zoo_commands:cards_command", "Render the model cards from the registry."),
    "convert": ("falsr_zoo.cli.convert_command:convert_command",
                "Convert FALSR-*.pb graphs (or release directories) into safetensors."),
    "upscale": ("falsr_zoo.cli.upscale_command:upscale_command", "Upscale images, folders or globs with a FALSR model."),
    "eval": ("falsr_zoo.cli.eval_command:eval_command",
             "Y-PSNR / SSIM of a model (and of bicubic) on a test set, with the release's protocol."),
    "compare": ("falsr_zoo.cli.compare_command:compare_command",
                "Side-by-side picture: LR, bicubic and each model, with a zoomed crop."),
    "export": ("falsr_zoo.cli.export_command:export_command",
               "Export a model to ONNX, a TensorRT engine or a spandrel file."),
    "bench": ("falsr_zoo.cli.bench_command:bench_command",
              "Time the whole x2 upscale of an H x W image (latency, MP/s, peak RSS)."),
    "push": ("falsr_zoo.cli.push_command:push_command", "Upload a model directory to the Hugging Face Hub."),
    "cache": ("falsr_zoo.cli.cache_command:cache_group", "List or remove the weights in the local store."),
    "train": ("falsr_zoo.cli.train_command:train_command", "Train or fine-tune a genome or zoo model."),
}
"""Command name -> (dotted path of its click command, its one-line help), in the order ``--help``
lists them. The help is kept here so that ``falsr --help`` imports no command module."""


class LazyGroup(click.Group):
    """A click group that loads its commands from a name table on first use and turns domain
    errors into one line on stderr and an exit status."""

    def __init__(self, *args: Any, lazy_commands: dict[str, tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands = lazy_commands

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*self.lazy_commands, *(name for name in super().list_commands(ctx) if name not in self.lazy_commands)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_commands:
            return resolve(self.lazy_commands[cmd_name][0])
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The commands section of ``--help`` from the table, without importing a command."""
        rows = [(name, help_text) for name, (_, help_text) in self.lazy_commands.items()]
        eager = [name for name in super().list_commands(ctx) if name not in self.lazy_commands]
        rows += [(name, super(LazyGroup, self).get_command(ctx, name).get_short_help_str()) for name in eager]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def shell_complete(self, ctx: click.Context, incomplete: str) -> list[Any]:
        """Complete command names from the table (click's default would import every command)."""
        from click.shell_completion import CompletionItem

        if incomplete.startswith("-"):
            return super().shell_complete(ctx, incomplete)
        return [CompletionItem(name, help=help_text) for name, (_, help_text) in self.lazy_commands.items()
                if name.startswith(incomplete)]

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except HANDLED as error:
            if os.environ.get("FALSR_ZOO_DEBUG") == "1":
                raise
            click.echo(f"Error: {one_line(error)}", err=True)
            ctx.exit(exit_code(error))


@click.group(cls=LazyGroup, lazy_commands=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="falsr")
@click.option("-v", "--verbose", is_flag=True, help="Log progress to stderr.")
def main(verbose: bool) -> None:
    """FALSR model zoo: convert the official weights, upscale, evaluate, inspect, export, benchmark, share, train."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    # huggingface_hub prints its records through a handler of its own: passed on to the root
    # handler too, each of its warnings would appear twice.
    logging.getLogger("huggingface_hub").propagate = False
    tune_allocator()
