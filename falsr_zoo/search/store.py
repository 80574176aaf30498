"""The run store: one SQLite database per search run, the single source of truth for resuming.

``<run dir>/search.sqlite`` (standard-library ``sqlite3``, write-ahead log, ``synchronous=FULL``)
holds, under a versioned schema:

* ``meta``: the schema version, the config (JSON) and its sha256, the data folders;
* ``candidates``: every proposal - genome, generation, the operator that made it, its parents,
  its costs - and its evaluation: status (``pending``, ``running``, ``done``, ``failed``,
  ``untrained``), the family's score (FALSR: PSNR in dB; RENAS: top-1 in per cent) and every
  metric measured (JSON), constraint violation, timings, the worker, attempts, the error;
* ``states``: after every ask and every tell, the algorithm's whole state (population, every
  generator's state, what it has seen) and the controller's checkpoint.

Every change is one transaction: a crash leaves the database at the last committed step. On
resume, candidates left ``running`` (or ``pending``) are re-queued, finished evaluations are
kept, and the algorithm continues from its last state, so nothing finished is lost or
recomputed (Optuna's lesson: crashed trials must not stay "running" forever).

``generation`` is the algorithm's step: a generation of NSGA-II for FALSR; for the RENAS
evolution, 0 is the initial population and every later step holds its few children.
Schema version 2 replaced version 1's ``psnr`` / ``ssim`` columns with ``score`` / ``metrics``;
version 3 (the searches as the papers wrote them) changed the algorithms' stored states and
added an index on genomes, for the results a repeated genome reuses (``worker`` is then
``reused:<id>``).

**One process at a time.** A run directory is driven by the one process that holds its lock
(:class:`RunLock`: ``fcntl.flock`` on ``<run dir>/search.lock``, held for the life of the run).
The kernel releases it when the process ends in any way, kill -9 included, so a lock is never
stale; a second ``run`` or ``resume`` of a live run is refused with the holder's process id.
Reading a run (status, front, export) takes no lock.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from falsr_zoo.errors import ConfigError, RunBusyError

__all__ = ["LOCK_FILE", "SCHEMA_VERSION", "STORE_FILE", "Candidate", "RunLock", "RunStore"]

SCHEMA_VERSION = 3
STORE_FILE = "search.sqlite"
LOCK_FILE = "search.lock"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS candidates (
    id INTEGER PRIMARY KEY,
    genome TEXT NOT NULL,
    generation INTEGER NOT NULL,
    operator TEXT NOT NULL,
    parents TEXT NOT NULL,
    mult_adds INTEGER NOT NULL,
    params INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done', 'failed', 'untrained')),
    score REAL,
    metrics TEXT,
    violation REAL,
    seconds REAL,
    worker TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    created REAL NOT NULL,
    finished REAL
);
CREATE INDEX IF NOT EXISTS candidates_generation ON candidates (generation);
CREATE INDEX IF NOT EXISTS candidates_genome ON candidates (genome);
CREATE TABLE IF NOT EXISTS states (
    seq INTEGER PRIMARY KEY,
    generation INTEGER NOT NULL,
    phase TEXT NOT NULL CHECK (phase IN ('asked', 'told')),
    state TEXT NOT NULL,
    controller BLOB,
    report TEXT NOT NULL,
    created REAL NOT NULL
);
"""


@dataclass(frozen=True)
class Candidate:
    """One row of ``candidates``."""

    id: int
    genome: str
    generation: int
    operator: str
    parents: tuple[int, ...]
    mult_adds: int
    params: int
    status: str
    score: float | None = None
    metrics: dict[str, float] | None = None
    violation: float | None = None
    seconds: float | None = None
    worker: str | None = None
    attempts: int = 0
    error: str | None = None

    @property
    def evaluated(self) -> bool:
        return self.status in ("done", "untrained")

    @property
    def reused_from(self) -> int | None:
        """The candidate whose stored result this one reuses, if any."""
        return int(self.worker.split(":", 1)[1]) if self.worker and self.worker.startswith("reused:") else None


_COLUMNS = ("id", "genome", "generation", "operator", "parents", "mult_adds", "params", "status", "score", "metrics",
            "violation", "seconds", "worker", "attempts", "error")


class RunLock:
    """The exclusive right to drive a run directory, for as long as this object is open.

    Args:
        run_dir: The run directory (created if missing).

    Raises:
        RunBusyError: another live process holds the run (the message names its pid).
    """

    def __init__(self, run_dir: str | os.PathLike[str]) -> None:
        self.path = Path(run_dir) / LOCK_FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fd: int | None = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(self.fd, 64, 0).decode(errors="replace").strip() or "unknown"
            self.close()
            raise RunBusyError(f"{Path(run_dir)} is being run by process {holder}; wait for it to end, or stop it "
                               f"(kill {holder}) and resume") from None
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, f"{os.getpid()}\n".encode(), 0)

    def close(self) -> None:
        """Release the run (closing the descriptor drops the lock)."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class RunStore:
    """Access to a run's database.

    Args:
        path: The database file.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.db = sqlite3.connect(self.path, isolation_level=None, timeout=60)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("PRAGMA foreign_keys=ON")

    @classmethod
    def create(cls, run_dir: Path, config: dict[str, Any], digest: str, extra: dict[str, str]) -> RunStore:
        """A new store in ``run_dir``.

        Raises:
            ConfigError: if ``run_dir`` already holds a run.
        """
        path = run_dir / STORE_FILE
        if path.exists():
            raise ConfigError(f"{run_dir} already holds a search run; continue it with: falsr-search resume {run_dir}")
        run_dir.mkdir(parents=True, exist_ok=True)
        store = cls(path)
        store.db.executescript(_SCHEMA)  # executescript commits on its own
        with store.transaction() as db:
            rows = {"schema_version": str(SCHEMA_VERSION), "config": json.dumps(config, sort_keys=True),
                    "config_digest": digest, "created": str(time.time()), **extra}
            db.executemany("INSERT INTO meta VALUES (?, ?)", sorted(rows.items()))
        return store

    @classmethod
    def open(cls, run_dir: Path) -> RunStore:
        """The store of an existing run.

        Raises:
            ConfigError: if ``run_dir`` is not a search run, or of another schema version.
        """
        path = Path(run_dir) / STORE_FILE
        if not path.is_file():
            raise ConfigError(f"{run_dir} is not a search run directory (no {STORE_FILE})")
        store = cls(path)
        try:
            version = store.meta("schema_version")
        except sqlite3.DatabaseError as err:
            raise ConfigError(f"{path}: not a search run database ({err})") from None
        if version != str(SCHEMA_VERSION):
            raise ConfigError(f"{path} has schema version {version}; this falsr-zoo reads version {SCHEMA_VERSION}")
        return store

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic unit of change (``BEGIN IMMEDIATE`` ... ``COMMIT``; rolled back on error)."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # -- meta --------------------------------------------------------------------------------

    def meta(self, key: str) -> str:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        if row is None:
            raise ConfigError(f"{self.path}: no {key!r} recorded")
        return row[0]

    def config(self) -> dict[str, Any]:
        return json.loads(self.meta("config"))

    # -- candidates --------------------------------------------------------------------------

    def add_generation(self, generation: int, proposals: Sequence[tuple[str, str, tuple[int, ...], int, int, str]],
                       state: dict[str, Any], controller: bytes | None) -> list[int]:
        """Insert a generation's proposals ``(genome, operator, parents, mult-adds, params, status)``
        and the algorithm's state after the ask, in one transaction; returns their ids."""
        now = time.time()
        ids = []
        with self.transaction() as db:
            for genome, operator, parents, macs, params, status in proposals:
                cursor = db.execute(
                    "INSERT INTO candidates (genome, generation, operator, parents, mult_adds, params, status, created,"
                    " finished) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (genome, generation, operator, json.dumps(list(parents)), macs, params, status, now,
                     now if status == "untrained" else None))
                ids.append(int(cursor.lastrowid))
            self._save_state(db, generation, "asked", state, controller, {"ids": ids})
        return ids

    def mark_running(self, ids: Sequence[int], worker: str) -> None:
        with self.transaction() as db:
            db.executemany("UPDATE candidates SET status = 'running', worker = ?, attempts = attempts + 1 "
                           "WHERE id = ? AND status IN ('pending', 'running')", [(worker, i) for i in ids])

    def finish(self, id: int, *, score: float | None, metrics: Mapping[str, float] | None, violation: float,
               seconds: float, worker: str, error: str | None = None) -> None:
        """Record one evaluation (its own transaction)."""
        status = "failed" if error else "done"
        encoded = json.dumps(dict(metrics), sort_keys=True) if metrics is not None else None
        with self.transaction() as db:
            db.execute("UPDATE candidates SET status = ?, score = ?, metrics = ?, violation = ?, seconds = ?,"
                       " worker = ?, error = ?, finished = ? WHERE id = ?",
                       (status, score, encoded, violation, seconds, worker, error, time.time(), id))

    def trained(self, id: int) -> Candidate:
        """Candidate ``id``, which must have a trained evaluation (for exports and retraining).

        Raises:
            ConfigError: no such candidate, or one that was not trained or failed.
        """
        candidate = self.candidate(id)
        if candidate.status != "done":
            raise ConfigError(f"candidate {id} has no trained evaluation (status {candidate.status})")
        return candidate

    def finished_like(self, genome: str) -> Candidate | None:
        """The earliest candidate with this genome whose evaluation finished (done or failed)."""
        found = self._select(" WHERE genome = ? AND status IN ('done', 'failed')", [genome])
        return found[0] if found else None

    def reuse(self, id: int, source: int) -> None:
        """Give candidate ``id`` the stored result of ``source`` (same genome; its own transaction)."""
        with self.transaction() as db:
            db.execute("UPDATE candidates SET (status, score, metrics, violation, error) = (SELECT status, score, "
                       "metrics, violation, error FROM candidates WHERE id = ?), seconds = 0, worker = ?, "
                       "finished = ? WHERE id = ?", (source, f"reused:{source}", time.time(), id))

    def set_violation(self, id: int, violation: float) -> None:
        with self.transaction() as db:
            db.execute("UPDATE candidates SET violation = ? WHERE id = ?", (violation, id))

    def requeue_interrupted(self) -> int:
        """Put candidates left ``running`` by a crash back to ``pending``; returns how many."""
        with self.transaction() as db:
            return db.execute("UPDATE candidates SET status = 'pending' WHERE status = 'running'").rowcount

    def candidates(self, generation: int | None = None, status: str | None = None) -> list[Candidate]:
        """The run's candidates in id order, optionally of one generation and/or one status."""
        clauses, args = [], []
        for column, value in (("generation", generation), ("status", status)):
            if value is not None:
                clauses.append(f"{column} = ?")
                args.append(value)
        return self._select(" WHERE " + " AND ".join(clauses) if clauses else "", args)

    def _select(self, where: str, args: list[Any]) -> list[Candidate]:
        rows = self.db.execute(f"SELECT {', '.join(_COLUMNS)} FROM candidates{where} ORDER BY id", args).fetchall()
        return [Candidate(*row[:4], tuple(json.loads(row[4])), *row[5:9], json.loads(row[9]) if row[9] else None,
                          *row[10:]) for row in rows]

    def candidate(self, id: int) -> Candidate:
        found = self._select(" WHERE id = ?", [id])
        if not found:
            raise ConfigError(f"{self.path}: no candidate {id}")
        return found[0]

    # -- algorithm states ------------------------------------------------------------------------

    @staticmethod
    def _save_state(db: sqlite3.Connection, generation: int, phase: str, state: dict[str, Any],
                    controller: bytes | None, report: dict[str, Any]) -> None:
        db.execute("INSERT INTO states (generation, phase, state, controller, report, created) VALUES (?, ?, ?, ?, ?, ?)",
                   (generation, phase, json.dumps(state, sort_keys=True), controller,
                    json.dumps(report, sort_keys=True), time.time()))

    def save_told(self, generation: int, state: dict[str, Any], controller: bytes | None,
                  report: dict[str, Any]) -> None:
        """The algorithm's state after a tell, in one transaction."""
        with self.transaction() as db:
            self._save_state(db, generation, "told", state, controller, report)

    def last_state(self) -> tuple[int, str, dict[str, Any], bytes | None, dict[str, Any]] | None:
        """``(generation, phase, state, controller blob, report)`` of the last saved step, or ``None``."""
        row = self.db.execute("SELECT generation, phase, state, controller, report FROM states "
                              "ORDER BY seq DESC LIMIT 1").fetchone()
        if row is None:
            return None
        return row[0], row[1], json.loads(row[2]), row[3], json.loads(row[4])

    def reports(self) -> list[tuple[int, dict[str, Any]]]:
        """``(generation, report)`` of every tell, in order."""
        return [(g, json.loads(r)) for g, r in
                self.db.execute("SELECT generation, report FROM states WHERE phase = 'told' ORDER BY seq")]

    def snapshot(self) -> dict[str, Any]:
        """The run's outcome without timings or workers (what an interrupted and an uninterrupted
        run with the same seed must agree on)."""
        fields = ("id", "genome", "generation", "operator", "parents", "mult_adds", "params", "status", "score",
                  "metrics", "violation")
        rows = self.db.execute(f"SELECT {', '.join(fields)} FROM candidates ORDER BY id").fetchall()
        states = self.db.execute("SELECT generation, phase, state, controller, report FROM states ORDER BY seq").fetchall()
        return {"candidates": [dict(zip(fields, row)) for row in rows], "states": states}
