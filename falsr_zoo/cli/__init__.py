"""The ``falsr`` command line: thin click commands over the library.

Each command parses and checks its options, calls one library function and prints. Domain
errors become one-line messages and exit statuses through :mod:`falsr_zoo.cli.exit_codes`.
Commands are named by dotted path in :data:`COMMANDS` and imported only when run (click's
lazy-loading pattern), so ``falsr --version`` does not load what ``falsr upscale`` needs.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import click

from falsr_zoo._plugins import resolve
from falsr_zoo._version import __version__
from falsr_zoo.cli.exit_codes import exit_code, one_line
from falsr_zoo.errors import FalsrZooError
from falsr_zoo.runtime.perf import tune_allocator

__all__ = ["COMMANDS", "main"]

COMMANDS: dict[str, str] = {
    "models": "falsr_zoo.cli.zoo_commands:models_command",
    "info": "falsr_zoo.cli.zoo_commands:info_command",
    "cards": "falsr_zoo.cli.zoo_commands:cards_command",
    "convert": "falsr_zoo.cli.convert_command:convert_command",
    "upscale": "falsr_zoo.cli.upscale_command:upscale_command",
    "eval": "falsr_zoo.cli.eval_command:eval_command",
    "export": "falsr_zoo.cli.export_command:export_command",
    "bench": "falsr_zoo.cli.bench_command:bench_command",
    "push": "falsr_zoo.cli.push_command:push_command",
    "train": "falsr_zoo.cli.train_command:train_command",
}
"""Command name -> dotted path of its click command, in the order ``--help`` lists them."""


class LazyGroup(click.Group):
    """A click group that loads its commands from a name table on first use and turns domain
    errors into one line on stderr and an exit status."""

    def __init__(self, *args: Any, lazy_commands: dict[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands = lazy_commands

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*self.lazy_commands, *(name for name in super().list_commands(ctx) if name not in self.lazy_commands)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_commands:
            return resolve(self.lazy_commands[cmd_name])
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except FalsrZooError as error:
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
