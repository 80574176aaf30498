"""``python -m falsr_zoo``: the ``falsr`` command."""

from falsr_zoo.cli import main

main(prog_name="falsr")
