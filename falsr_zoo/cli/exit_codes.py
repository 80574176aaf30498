"""One table from domain errors to one-line messages and exit statuses.

Exit statuses of ``falsr`` (documented in the README):

* 0 - success;
* 1 - the command ran but failed (bad input file, conversion refused, some files failed);
* 2 - usage error: bad options, unknown model, invalid genome or config (click's own usage errors too);
* 3 - weights unavailable or failing their sha256 check;
* 130 - interrupted (SIGINT / SIGTERM); what was written so far is complete (a training run resumes).

Tracebacks are shown only when ``FALSR_ZOO_DEBUG=1``.
"""

from __future__ import annotations

from falsr_zoo.errors import (
    ChecksumError,
    ConfigError,
    FalsrZooError,
    GenomeError,
    UnknownFamilyError,
    UnknownModelError,
    WeightsNotFoundError,
)

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_WEIGHTS = 3
EXIT_INTERRUPTED = 130

EXIT_CODES: list[tuple[type[BaseException], int]] = [
    (GenomeError, EXIT_USAGE),
    (UnknownModelError, EXIT_USAGE),
    (UnknownFamilyError, EXIT_USAGE),
    (ConfigError, EXIT_USAGE),
    (WeightsNotFoundError, EXIT_WEIGHTS),
    (ChecksumError, EXIT_WEIGHTS),
    (FalsrZooError, EXIT_FAILURE),
]
"""First matching class wins; order from specific to general."""


def exit_code(error: BaseException) -> int:
    """The exit status for a domain error."""
    return next((code for cls, code in EXIT_CODES if isinstance(error, cls)), EXIT_FAILURE)


def one_line(error: BaseException) -> str:
    """The error as a single line (newlines folded)."""
    return " ".join(str(error).split()) or type(error).__name__
