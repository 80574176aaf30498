"""One table from domain errors to one-line messages and exit statuses.

Exit statuses of ``falsr`` (documented in the README):

* 0 - success;
* 1 - the command ran but failed (bad input file, conversion refused, some files failed, an output
  that cannot be written: read-only file system, no permission, a parent that is a file);
* 2 - usage error: bad options or numbers (``nan``, ``inf``, out of range), unknown model, invalid
  genome or config (click's own usage errors too);
* 3 - weights unavailable or failing their sha256 check;
* 130 - interrupted (SIGINT / SIGTERM); what was written so far is complete (a training run resumes).

Tracebacks are shown only when ``FALSR_ZOO_DEBUG=1``. An ``OSError`` that no library call turned
into a domain error (the operating system refused something the library did not foresee) is one
line too, with exit status 1.
"""

from __future__ import annotations

from falsr_zoo.errors import (
    ChecksumError,
    ConfigError,
    FalsrZooError,
    GenomeError,
    OutputError,
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
    (OutputError, EXIT_FAILURE),
    (FalsrZooError, EXIT_FAILURE),
    (OSError, EXIT_FAILURE),
]
"""First matching class wins; order from specific to general."""


def exit_code(error: BaseException) -> int:
    """The exit status for a domain error."""
    return next((code for cls, code in EXIT_CODES if isinstance(error, cls)), EXIT_FAILURE)


HANDLED: tuple[type[BaseException], ...] = (FalsrZooError, OSError)
"""What the command line reports as one line instead of a traceback."""


def one_line(error: BaseException) -> str:
    """The error as a single line (newlines folded); a bare ``OSError`` as ``FILE: reason``."""
    if isinstance(error, OSError) and not isinstance(error, FalsrZooError) and error.strerror:
        reason = error.strerror[:1].lower() + error.strerror[1:]
        return " ".join((f"{error.filename}: {reason}" if error.filename else reason).split())
    return " ".join(str(error).split()) or type(error).__name__
