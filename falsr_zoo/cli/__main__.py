"""``python -m falsr_zoo.cli``: the ``falsr`` command."""

from falsr_zoo.cli import main

main()
