"""SQLite trial store: the single source of truth of a study, durable across kills.

One file per run (``runs/out/<name>/study.sqlite``), stdlib :mod:`sqlite3` in WAL journal mode with
``synchronous=FULL``: every state change is committed (and fsynced) before the method returns, so a
SIGKILL at any moment loses nothing that was reported finished, and a reader (``nago report``) can
open the file while the study writes. The study driver is the only writer; writes run in
``BEGIN IMMEDIATE`` transactions, so a second writer gets a clean "database is locked" error instead
of silently interleaving.

Trial life cycle (checked on every write)::

    create -> WAITING --mark_running--> RUNNING --complete--> COMPLETE
                 ^                         |  \\--fail------> FAILED
                 +------requeue_running----+
    WAITING --complete/fail--> COMPLETE/FAILED   (e.g. a table look-up or a config rejected up front)

Config, metrics, per-sample metrics and info are JSON columns; NaN and +-inf round-trip (Python's
``json`` writes them as ``NaN``/``Infinity``), numpy and torch scalars are stored as plain numbers.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

from nago.errors import NagoError, check_fail_kind
from nago.study.trial import Trial, TrialState

SCHEMA_VERSION = 1
STORE_FILE = "study.sqlite"  # a study directory's store

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
)""",
    """CREATE TABLE IF NOT EXISTS trials (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    state          TEXT NOT NULL,
    config         TEXT NOT NULL,
    seed           INTEGER NOT NULL,
    fidelity       REAL,
    fail_kind      TEXT,
    message        TEXT,
    metrics        TEXT NOT NULL,
    sample_metrics TEXT NOT NULL,
    info           TEXT NOT NULL,
    started        REAL,
    finished       REAL
)""",
    "CREATE INDEX IF NOT EXISTS trials_state ON trials (state)",
)
_COLUMNS = "id, state, config, seed, fidelity, fail_kind, message, metrics, sample_metrics, info, started, finished"
_RESERVED_META = ("schema_version",)


def _plain(obj: Any) -> Any:
    """``json.dumps`` fallback: numpy/torch scalars and arrays become plain numbers and lists."""
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if hasattr(obj, "item"):
        return obj.item()
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def _dumps(value: Any, what: str) -> str:
    try:
        return json.dumps(value, default=_plain, allow_nan=True)
    except (TypeError, ValueError) as exc:
        raise NagoError(f"{what}: cannot store {value!r} as JSON ({exc}); use numbers, strings, lists and dicts") from exc


def _float_metrics(metrics: Mapping[str, Any] | None, what: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for key, value in (metrics or {}).items():
        try:
            if isinstance(value, (str, bytes)):
                raise TypeError
            out[str(key)] = float(value)
        except (TypeError, ValueError):
            raise NagoError(f"{what}[{key!r}] = {value!r}: metrics must be numbers (NaN and inf allowed)") from None
    return out


class TrialStore:
    """Trials and run metadata in one SQLite file.

    Args:
        path: the database file; created with its tables when missing (parent folders too).

    Raises:
        NagoError: the file is not a nago store, or was written by a newer nago (unknown schema).
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        # isolation_level=None: we issue BEGIN/COMMIT ourselves; check_same_thread=False + the lock let
        # executor callback threads report through the one connection.
        self._conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
        try:
            self._open()
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise NagoError(f"{self.path}: not a nago trial store (SQLite said: {exc})") from exc
        except NagoError:
            self._conn.close()
            raise

    def _open(self) -> None:
        conn = self._conn
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if tables and "meta" not in tables:
            raise NagoError(f"{self.path}: an SQLite file without nago's 'meta' table (tables: {sorted(tables)})")
        if "meta" in tables:
            row = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            version = json.loads(row[0]) if row else None
            if version != SCHEMA_VERSION:
                raise NagoError(
                    f"{self.path}: trial store schema_version={version!r}, this nago reads version "
                    f"{SCHEMA_VERSION}; open it with the nago release that wrote it (or a newer one)"
                )
            return
        with self._tx():  # DDL is transactional in SQLite: tables and version appear together
            for statement in _SCHEMA:
                conn.execute(statement)
            conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)", (json.dumps(SCHEMA_VERSION),))

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, committed (durably) on success, rolled back on any error."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise
            if self._conn.in_transaction:
                self._conn.execute("COMMIT")

    # ----------------------------------------------------------------------------------- writes
    def create(self, *, config: dict, seed: int, fidelity: float | None = None, info: dict | None = None) -> Trial:
        """Add a WAITING trial; ids count 1, 2, ... in creation order."""
        row = (
            TrialState.WAITING.value,
            _dumps(dict(config), "config"),
            int(seed),
            None if fidelity is None else float(fidelity),
            "{}",
            "[]",
            _dumps(dict(info or {}), "info"),
        )
        with self._tx() as conn:
            cur = conn.execute(
                "INSERT INTO trials (state, config, seed, fidelity, metrics, sample_metrics, info) VALUES (?, ?, ?, ?, ?, ?, ?)",
                row,
            )
            trial_id = int(cur.lastrowid)
        return self.get(trial_id)

    def mark_running(self, trial_id: int) -> Trial:
        """WAITING -> RUNNING; ``started`` = now (UNIX seconds)."""
        return self._transition(trial_id, (TrialState.WAITING,), TrialState.RUNNING, started=time.time())

    def complete(self, trial_id: int, *, metrics: dict[str, float], sample_metrics: list[dict] | None = None) -> Trial:
        """WAITING | RUNNING -> COMPLETE with its metrics; ``finished`` = now."""
        return self._finish(trial_id, TrialState.COMPLETE, None, None, metrics, sample_metrics)

    def fail(
        self,
        trial_id: int,
        *,
        kind: str,
        message: str,
        metrics: dict | None = None,
        sample_metrics: list[dict] | None = None,
    ) -> Trial:
        """WAITING | RUNNING -> FAILED; ``kind`` is one of :data:`nago.study.trial.FAIL_KINDS`.

        ``metrics`` may hold what was measured before the failure (e.g. ``params`` of a net that OOMed).
        """
        try:
            check_fail_kind(kind)
        except ValueError as e:
            raise NagoError(f"trial {trial_id}: {e}") from None
        return self._finish(trial_id, TrialState.FAILED, kind, str(message), metrics, sample_metrics)

    def _finish(self, trial_id, state, kind, message, metrics, sample_metrics) -> Trial:
        samples = [_float_metrics(s, f"sample_metrics of trial {trial_id}") for s in (sample_metrics or [])]
        return self._transition(
            trial_id,
            (TrialState.WAITING, TrialState.RUNNING),
            state,
            fail_kind=kind,
            message=message,
            metrics=_dumps(_float_metrics(metrics, f"metrics of trial {trial_id}"), "metrics"),
            sample_metrics=_dumps(samples, "sample_metrics"),
            finished=time.time(),
        )

    def _transition(self, trial_id: int, allowed: tuple[TrialState, ...], new: TrialState, **columns: Any) -> Trial:
        columns["state"] = new.value
        assignments = ", ".join(f"{name} = ?" for name in columns)
        with self._tx() as conn:
            row = conn.execute("SELECT state FROM trials WHERE id = ?", (int(trial_id),)).fetchone()
            if row is None:
                raise self._missing(trial_id)
            if TrialState(row[0]) not in allowed:
                raise NagoError(
                    f"trial {trial_id} is {row[0]}: cannot become {new.value} "
                    f"(only from {', '.join(s.value for s in allowed)})"
                )
            conn.execute(f"UPDATE trials SET {assignments} WHERE id = ?", (*columns.values(), int(trial_id)))
        return self.get(trial_id)

    def requeue_running(self) -> list[Trial]:
        """RUNNING -> WAITING for every running trial (on resume after a kill); returns them, by id.

        ``started`` is cleared and ``info["requeued"]`` counts how often a trial was put back.
        """
        with self._tx() as conn:
            rows = conn.execute(f"SELECT {_COLUMNS} FROM trials WHERE state = ? ORDER BY id", (TrialState.RUNNING.value,)).fetchall()
            for row in rows:
                info = json.loads(row[9])
                info["requeued"] = int(info.get("requeued", 0)) + 1
                conn.execute(
                    "UPDATE trials SET state = ?, started = NULL, info = ? WHERE id = ?",
                    (TrialState.WAITING.value, _dumps(info, "info"), row[0]),
                )
        return [self.get(row[0]) for row in rows]

    def requeue(self, trial_id: int, *, reason: str) -> Trial:
        """RUNNING -> WAITING for one trial (its worker died); ``info["requeued"]`` counts put-backs and
        ``info["requeue_reasons"]`` keeps why."""
        with self._tx() as conn:
            row = conn.execute("SELECT state, info FROM trials WHERE id = ?", (int(trial_id),)).fetchone()
            if row is None:
                raise self._missing(trial_id)
            if row[0] != TrialState.RUNNING.value:
                raise NagoError(f"trial {trial_id} is {row[0]}: cannot be re-queued (only from running)")
            info = json.loads(row[1])
            info["requeued"] = int(info.get("requeued", 0)) + 1
            info["requeue_reasons"] = [*info.get("requeue_reasons", []), reason]
            conn.execute("UPDATE trials SET state = ?, started = NULL, info = ? WHERE id = ?",
                         (TrialState.WAITING.value, _dumps(info, "info"), int(trial_id)))
        return self.get(trial_id)

    def set_meta(self, key: str, value: Any) -> None:
        """Store a JSON-encodable run-level value (objectives, reference point, run name, ...)."""
        if key in _RESERVED_META:
            raise NagoError(f"meta key {key!r} is reserved by the store")
        with self._tx() as conn:
            conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (str(key), _dumps(value, f"meta {key!r}")))

    # ------------------------------------------------------------------------------------ reads
    def get_meta(self, key: str, default: Any = None) -> Any:
        with self._lock:
            row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (str(key),)).fetchone()
        return default if row is None else json.loads(row[0])

    def get(self, trial_id: int) -> Trial:
        with self._lock:
            row = self._conn.execute(f"SELECT {_COLUMNS} FROM trials WHERE id = ?", (int(trial_id),)).fetchone()
        if row is None:
            raise self._missing(trial_id)
        return _trial(row)

    def trials(self, states: Iterable[TrialState] | None = None) -> list[Trial]:
        """All trials (or those in ``states``), ordered by id."""
        query, args = f"SELECT {_COLUMNS} FROM trials", ()
        if states is not None:
            args = tuple(TrialState(s).value for s in states)
            if not args:
                return []
            query += f" WHERE state IN ({', '.join('?' * len(args))})"
        with self._lock:
            rows = self._conn.execute(query + " ORDER BY id", args).fetchall()
        return [_trial(row) for row in rows]

    def count(self, state: TrialState | None = None) -> int:
        with self._lock:
            if state is None:
                return int(self._conn.execute("SELECT COUNT(*) FROM trials").fetchone()[0])
            return int(self._conn.execute("SELECT COUNT(*) FROM trials WHERE state = ?", (TrialState(state).value,)).fetchone()[0])

    def _missing(self, trial_id: int) -> NagoError:
        n = self.count()
        have = f"ids 1..{n}" if n else "no trials yet"
        return NagoError(f"trial {trial_id} is not in {self.path} ({have})")

    # -------------------------------------------------------------------------------- lifecycle
    def close(self) -> None:
        """Close the connection (a WAL checkpoint folds the log back into the main file)."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> "TrialStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"TrialStore({str(self.path)!r})"


def _trial(row: tuple) -> Trial:
    fidelity = row[4]
    return Trial(
        id=int(row[0]),
        state=TrialState(row[1]),
        config=json.loads(row[2]),
        seed=int(row[3]),
        fidelity=None if fidelity is None else float(fidelity),
        fail_kind=row[5],
        message=row[6],
        metrics=json.loads(row[7]),
        sample_metrics=json.loads(row[8]),
        info=json.loads(row[9]),
        started=row[10],
        finished=row[11],
    )
