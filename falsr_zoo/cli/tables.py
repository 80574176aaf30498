"""Plain-text tables and sizes, as the ``falsr`` commands print them (standard library only)."""

from __future__ import annotations

import math

__all__ = ["format_size", "format_table"]

_UNITS = ("B", "kB", "MB", "GB", "TB")


def format_table(rows: list[list[str]], header: list[str]) -> str:
    """Left-aligned columns under a header and a rule."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: "  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip()  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


def format_size(num_bytes: int) -> str:
    """``512 B``, ``1.3 MB`` (decimal units, as ``hf cache ls``)."""
    if num_bytes < 1000:
        return f"{num_bytes} B"
    exponent = min(int(math.log10(num_bytes)) // 3, len(_UNITS) - 1)
    return f"{num_bytes / 1000 ** exponent:.1f} {_UNITS[exponent]}"
