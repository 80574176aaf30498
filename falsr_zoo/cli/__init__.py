"""The ``falsr`` command line: thin click commands over the library.

Each command parses and checks its options, calls one library function and prints. Domain
errors become one-line messages and exit statuses through :mod:`falsr_zoo.cli._errors`.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import click

from falsr_zoo import __version__
from falsr_zoo.cli._errors import exit_code, one_line
from falsr_zoo.errors import FalsrZooError
from falsr_zoo.perf import tune_allocator

__all__ = ["main"]


class _Group(click.Group):
    """A click group that turns domain errors into one line on stderr and an exit status."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except FalsrZooError as error:
            if os.environ.get("FALSR_ZOO_DEBUG") == "1":
                raise
            click.echo(f"Error: {one_line(error)}", err=True)
            ctx.exit(exit_code(error))


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="falsr")
@click.option("-v", "--verbose", is_flag=True, help="Log progress to stderr.")
def main(verbose: bool) -> None:
    """FALSR model zoo: convert the official weights, upscale, evaluate, inspect, export, benchmark."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    tune_allocator()


def _register() -> None:
    from falsr_zoo.cli import bench, convert, evaluate, export, upscale, zoo

    for module in (zoo, convert, upscale, evaluate, export, bench):
        for command in module.COMMANDS:
            main.add_command(command)


_register()
