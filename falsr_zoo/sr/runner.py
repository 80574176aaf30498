"""Upscaling many files: input collection, output naming, a pipelined, resumable run.

Inputs are files, folders (optionally recursive) and glob patterns. Each input gets a target
``<stem><suffix><ext>`` beside it, or under an output folder (mirroring sub-folders of a
scanned folder), or a single output file. A run never overwrites an input, skips or refuses
existing outputs unless told otherwise, reports unreadable files and goes on, and writes every
output atomically, so an interrupted run leaves only complete images and a re-run with
``skip_existing`` finishes the rest.

Decoding the next file and encoding the previous result run in background threads while the
network works on the current one (Pillow, zlib and PyTorch release the GIL).
"""

from __future__ import annotations

import glob
import logging
import os
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from PIL import Image

from falsr_zoo._files import check_writable
from falsr_zoo.errors import FalsrZooError, ImageError, OutputError, OutputExistsError
from falsr_zoo.imageio import (
    Picture,
    output_path,
    output_suffix,
    read_picture,
    readable_suffixes,
    register_format_plugins,
    stale_partials,
    write_picture,
)

__all__ = ["Job", "RunReport", "check_targets", "collect_inputs", "plan_jobs", "run_jobs",
           "suffix_for", "unreadable_inputs"]

logger = logging.getLogger(__name__)

_GLOB_CHARS = set("*?[")


def suffix_for(outscale: float) -> str:
    """The output name suffix: ``_x2``, ``_x4``, ``_x3.5``."""
    return f"_x{outscale:g}"


@dataclass(frozen=True)
class Job:
    """One file to upscale and where its result goes."""

    source: Path
    target: Path


@dataclass
class RunReport:
    """What a run did, file by file.

    Attributes:
        done, skipped: The jobs written, and those left alone because their output existed.
        failed: ``(source, one-line reason)``.
        notes: ``(source, note)`` for conversions made while reading.
        seconds: Source -> seconds its upscale took (decoding and encoding run beside it).
        wall_s: The whole run, from the first read to the last write.
    """

    done: list[Job] = field(default_factory=list)
    skipped: list[Job] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    notes: list[tuple[Path, str]] = field(default_factory=list)
    seconds: dict[Path, float] = field(default_factory=dict)
    wall_s: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        parts = [f"{len(self.done)} upscaled"]
        if self.skipped:
            parts.append(f"{len(self.skipped)} skipped (output exists)")
        if self.failed:
            parts.append(f"{len(self.failed)} failed")
        return ", ".join(parts)

    def to_json(self, jobs: Sequence[Job] = (), refused: Sequence[tuple[Path, str]] = ()) -> dict[str, Any]:
        """Per file (in the order of ``jobs``, then the ``refused`` inputs) its status, target, times
        and error; the counts; the wall time. ``falsr upscale --json`` prints it."""
        done = {job.source: job for job in self.done}
        skipped = {job.source: job for job in self.skipped}
        errors = dict(self.failed) | dict(refused)
        notes: dict[Path, list[str]] = {}
        for source, note in self.notes:
            notes.setdefault(source, []).append(note)
        files = []
        for source, target in [*((job.source, job.target) for job in jobs), *((s, None) for s, _ in refused)]:
            status = "done" if source in done else "skipped" if source in skipped else "failed"
            record: dict[str, Any] = {"source": str(source), "target": str(target) if target else None,
                                      "status": status, "upscale_s": self.seconds.get(source)}
            if status == "failed":
                record["error"] = errors.get(source, "not processed")
            if source in notes:
                record["notes"] = notes[source]
            files.append(record)
        counts = {status: sum(f["status"] == status for f in files) for status in ("done", "skipped", "failed")}
        return {"files": files, **counts, "wall_s": self.wall_s}


def _is_previous_output(path: Path, suffix: str, suffixes: frozenset[str]) -> bool:
    """``photo_x2.png`` beside ``photo.*``: an output of an earlier run, not an input."""
    if not suffix or not path.stem.endswith(suffix):
        return False
    original = path.stem[: -len(suffix)]
    return any(p.suffix.lower() in suffixes for p in path.parent.glob(f"{glob.escape(original)}.*"))


def _scan(folder: Path, recursive: bool, suffix: str) -> list[Path]:
    """The images of ``folder``: files whose suffix the installed Pillow reads (AVIF, JPEG 2000, QOI
    and, with the ``heif`` extra, HEIC included), earlier outputs and hidden files left out."""
    pattern = "**/*" if recursive else "*"
    suffixes = readable_suffixes()
    return sorted(
        p for p in folder.glob(pattern)
        if p.is_file() and p.suffix.lower() in suffixes and not p.name.startswith(".")
        and not _is_previous_output(p, suffix, suffixes)
    )


def collect_inputs(inputs: Iterable[str | os.PathLike[str]], *, recursive: bool = False, suffix: str = "_x2"
                   ) -> tuple[list[tuple[Path, Path | None]], list[tuple[Path, str]]]:
    """Expand files, folders and globs into ``(file, folder it was found in or None)`` pairs.

    Returns:
        The inputs in a stable order, and ``(path, reason)`` for inputs that match nothing.
    """
    found: list[tuple[Path, Path | None]] = []
    missing: list[tuple[Path, str]] = []
    for raw in inputs:
        path = Path(raw)
        if path.is_dir():
            files = _scan(path, recursive, suffix)
            if not files:
                missing.append((path, "no images in this folder" + ("" if recursive else " (use --recursive for sub-folders)")))
            found += [(f, path) for f in files]
        elif path.exists():
            found.append((path, None))
        elif _GLOB_CHARS & set(str(raw)):
            matches = sorted(Path(m) for m in glob.glob(str(raw), recursive=recursive) if Path(m).is_file())
            if not matches:
                missing.append((path, "no file matches this pattern"))
            found += [(m, None) for m in matches]
        else:
            missing.append((path, "no such file or folder"))
    unique: dict[Path, tuple[Path, Path | None]] = {}
    for file, root in found:
        unique.setdefault(file.resolve(), (file, root))
    return list(unique.values()), missing


def plan_jobs(inputs: Sequence[tuple[Path, Path | None]], output: Path | None, suffix: str, ext: str = "auto"
              ) -> tuple[list[Job], list[tuple[Path, str]]]:
    """Assign targets; refuse any target that is an input or another job's target.

    Args:
        inputs: From :func:`collect_inputs`.
        output: A folder, a file (one input) or ``None`` (beside each input).
        suffix: Appended to each stem (``_x2``; may be empty when ``output`` is another folder).
        ext: The outputs' format (``png``, ``jpg``, ``webp``, ``tiff``), or ``auto``: the input's
            where it can be written, else PNG. An explicit output file keeps its own suffix.
    """
    sources = {source.resolve() for source, _ in inputs}
    many = len(inputs) > 1 or any(root is not None for _, root in inputs)
    jobs, refused, taken = [], [], {}
    for source, root in inputs:
        try:
            target = output_path(source, output, suffix, many=many, ext=output_suffix(source, ext),
                                 relative=source.relative_to(root) if root is not None and output is not None else None)
        except OutputExistsError as err:
            refused.append((source, str(err)))
            continue
        key = target.resolve()
        if key in sources:
            refused.append((source, f"refusing to overwrite the input {target}"))
        elif key in taken:
            refused.append((source, f"{target} is also the output of {taken[key]}"))
        else:
            taken[key] = source
            jobs.append(Job(source, target))
    return jobs, refused


def check_targets(jobs: Sequence[Job], *, skip_existing: bool = False) -> tuple[list[Job], list[tuple[Path, str]]]:
    """Refuse, before any work, the jobs whose output cannot be written (read-only file system, no
    permission, a file where a folder is needed).

    Returns:
        The jobs that can run, and ``(source, one-line reason naming the target)`` for the others.
        A job that ``skip_existing`` leaves alone writes nothing and is kept.
    """
    kept, refused = [], []
    for job in jobs:
        try:
            if not (skip_existing and job.target.exists()):
                check_writable(job.target)
        except OutputError as error:
            refused.append((job.source, str(error)))
        else:
            kept.append(job)
    return kept, refused


def unreadable_inputs(jobs: Sequence[Job], *, until_readable: bool = False) -> list[tuple[Path, str]]:
    """The jobs whose input is not an image, found by reading each file's header only (no pixels
    decoded), with the message :func:`~falsr_zoo.imageio.read_picture` gives for it.

    Args:
        jobs: From :func:`plan_jobs`.
        until_readable: Stop at the first input that opens: enough to know whether a run has
            anything to do (a command can then report a run of only unreadable files before it
            loads a model), without a pass over every header of a large folder.

    Returns:
        ``(source, one-line reason)`` in job order.
    """
    register_format_plugins()
    failures = []
    for job in jobs:
        if not _opens(job.source):
            try:
                read_picture(job.source)  # fails the same way, with the message (and plugin hint) a run gives
            except ImageError as err:
                failures.append((job.source, " ".join(str(err).split())))
                continue
        if until_readable:
            break
    return failures


def _opens(path: Path) -> bool:
    """Whether Pillow recognises ``path`` as an image from its header."""
    try:
        with Image.open(path):
            return True
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return False


def run_jobs(
    jobs: Sequence[Job],
    upscale: Callable[[Picture], Picture],
    *,
    quality: int = 95,
    skip_existing: bool = False,
    overwrite: bool = False,
    on_progress: Callable[[Job, str], None] | None = None,
) -> RunReport:
    """Upscale every job, pipelined: decode ahead and encode behind the network.

    Args:
        jobs: From :func:`plan_jobs`.
        upscale: Picture in, picture out (e.g. :meth:`Upscaler.upscale_picture`).
        quality: JPEG / WebP quality of the outputs.
        skip_existing: Leave existing outputs alone and count them as skipped.
        overwrite: Replace existing outputs (inputs are never replaced).
        on_progress: Called with ``(job, "done" | "skipped" | "failed")`` after each job.

    Returns:
        The report; a failed file never stops the run.
    """
    report = RunReport()
    started = time.perf_counter()
    progress = on_progress or (lambda job, status: None)
    pending = [job for job in jobs if not _skip(job, report, skip_existing, overwrite, progress)]
    with ThreadPoolExecutor(1, thread_name_prefix="falsr-read") as reader, \
            ThreadPoolExecutor(1, thread_name_prefix="falsr-write") as writer:
        reads = [reader.submit(read_picture, job.source) for job in pending[:2]]
        writes: list[tuple[Job, Future]] = []
        for index, job in enumerate(pending):
            if index + 2 < len(pending):
                reads.append(reader.submit(read_picture, pending[index + 2].source))
            try:
                picture = reads[index].result()
                begun = time.perf_counter()
                result = upscale(picture)
                report.seconds[job.source] = time.perf_counter() - begun
            except (FalsrZooError, ValueError) as err:
                _fail(report, job, err, progress)
                continue
            reads[index] = None  # type: ignore[call-overload]  # free the decoded input
            report.notes += [(job.source, note) for note in picture.notes]
            writes.append((job, writer.submit(_write, result, job.target, quality)))
            writes = _drain(writes, report, progress, block=False)
        _drain(writes, report, progress, block=True)
    report.wall_s = time.perf_counter() - started
    return report


def _skip(job: Job, report: RunReport, skip_existing: bool, overwrite: bool, progress: Callable[[Job, str], None]) -> bool:
    if not job.target.exists():
        return False
    if skip_existing:
        report.skipped.append(job)
        progress(job, "skipped")
        return True
    if overwrite:
        return False
    _fail(report, job, OutputExistsError(f"{job.target} exists; pass --overwrite or --skip-existing"), progress)
    return True


def _write(picture: Picture, target: Path, quality: int) -> None:
    for partial in stale_partials(target):  # left by a run that was killed mid-write
        partial.unlink(missing_ok=True)
    write_picture(picture, target, quality)


def _drain(writes: list[tuple[Job, Future]], report: RunReport, progress: Callable[[Job, str], None],
           block: bool) -> list[tuple[Job, Future]]:
    remaining = []
    for job, future in writes:
        if not block and not future.done():
            remaining.append((job, future))
            continue
        try:
            future.result()
        except (FalsrZooError, OSError) as err:
            _fail(report, job, err, progress)
        else:
            report.done.append(job)
            progress(job, "done")
    return remaining


def _fail(report: RunReport, job: Job, error: BaseException, progress: Callable[[Job, str], None]) -> None:
    message = " ".join(str(error).split()) or type(error).__name__
    if isinstance(error, ImageError) and str(job.source) not in message:
        message = f"{job.source}: {message}"
    report.failed.append((job.source, message))
    progress(job, "failed")
