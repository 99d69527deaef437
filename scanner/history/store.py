"""History of scans in one SQLite file, so scheduled runs can say what changed since last time.

One row per scan: the full JSON result (the public contract, zlib-compressed) plus the few
columns that listing and picking "the last two scans of these targets" need without
decompressing anything. SQLite's rollback journal makes every save all-or-nothing, even under
``kill -9``; a lock file (``scans.db.lock``, fcntl.flock) keeps two cityscan runs from using one
store at once, and names the holder's pid when the second one gives up.
"""

from __future__ import annotations

import builtins
import contextlib
import fcntl
import json
import os
import sqlite3
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from scanner.errors import CannotRunError, InputError
from scanner.history.results import (
    MAX_RESULT_BYTES,  # decompressed: the same cap as a JSON result file
)
from scanner.model import SEVERITIES, ScanResult
from scanner.runtime.output import is_special

STORE_VERSION = 2
DEFAULT_LOCK_TIMEOUT = 10.0
ZLIB_LEVEL = 6
_POLL = 0.05


def default_store_path() -> Path:
    """``$CITYSCAN_STORE``, else the XDG data directory: where a user's scheduled runs look by default."""
    env = os.environ.get("CITYSCAN_STORE")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "cityscan" / "scans.db"


def targets_key(targets: Iterable[str]) -> str:
    """Sorted targets joined: the same networks in any order are the same series of scans."""
    return ",".join(sorted({t.strip() for t in targets if t.strip()}))


class StoreBusyError(CannotRunError):
    """Another cityscan run holds the store's lock (exit 3: the run could not start)."""

    def __init__(self, path: Path, pid: int | None, waited: float) -> None:
        self.path = path
        self.pid = pid
        holder = f"pid {pid}" if pid else "pid unknown"
        super().__init__(f"{path}: store is in use by another cityscan run ({holder}); gave up after "
                         f"{waited:g} s. The lock frees itself when that process exits.")


# --- schema ------------------------------------------------------------------------------------
# Version 1 is kept exactly as it shipped: a fresh store is built as version 1 and then migrated,
# so the migration path is the one every new store takes (and tests can build a real v1 file).

SCHEMA_V1: tuple[str, ...] = (
    "CREATE TABLE schema_version (version INTEGER NOT NULL)",
    "INSERT INTO schema_version (version) VALUES (1)",
    """CREATE TABLE scans (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        targets_key TEXT NOT NULL,
        policy_name TEXT,
        policy_sha256 TEXT,
        partial INTEGER NOT NULL DEFAULT 0,
        inputs TEXT NOT NULL DEFAULT '[]',
        result BLOB NOT NULL
    )""",
)


def create_v1(conn: sqlite3.Connection) -> None:
    """Create the version-1 schema (the caller owns the transaction)."""
    for statement in SCHEMA_V1:
        conn.execute(statement)


def _summary_columns(doc: dict[str, Any]) -> dict[str, Any]:
    """Counts that ``list()`` shows, computed once at save (v2) instead of per listing."""
    findings = doc.get("findings") or []
    open_counts = {s: 0 for s in SEVERITIES}
    waived = 0
    for f in findings:
        if f.get("waived"):
            waived += 1
        elif f.get("severity") in open_counts:
            open_counts[f["severity"]] += 1
    return {"device_count": len(doc.get("devices") or []),
            "destination_count": len(doc.get("destinations") or []),
            "error_count": len(doc.get("errors") or []),
            "waived_count": waived,
            "open_counts": json.dumps(open_counts)}


def _migrate_1_to_2(conn: sqlite3.Connection) -> None:
    """Summary columns (listing without decompressing) and indexes (finding the last two fast)."""
    for column in ("device_count INTEGER NOT NULL DEFAULT 0", "destination_count INTEGER NOT NULL DEFAULT 0",
                   "error_count INTEGER NOT NULL DEFAULT 0", "waived_count INTEGER NOT NULL DEFAULT 0",
                   "open_counts TEXT NOT NULL DEFAULT '{}'"):
        conn.execute(f"ALTER TABLE scans ADD COLUMN {column}")
    conn.execute("CREATE INDEX scans_by_targets ON scans (targets_key, partial, started_at, id)")
    conn.execute("CREATE INDEX scans_by_time ON scans (started_at, id)")
    for row_id, blob in conn.execute("SELECT id, result FROM scans").fetchall():
        try:
            doc = _decode(blob)
        except ValueError:
            continue  # a damaged row keeps zero counts; load() reports the damage
        cols = _summary_columns(doc)
        conn.execute("UPDATE scans SET device_count = :device_count, destination_count = :destination_count, "
                     "error_count = :error_count, waived_count = :waived_count, open_counts = :open_counts "
                     "WHERE id = :id", {**cols, "id": row_id})


MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {1: _migrate_1_to_2}


def _encode(doc: dict[str, Any]) -> bytes:
    return zlib.compress(json.dumps(doc, separators=(",", ":"), ensure_ascii=True).encode("ascii"), ZLIB_LEVEL)


def _decode(blob: bytes) -> dict[str, Any]:
    """The stored JSON document; ValueError when damaged or larger than the result cap."""
    try:
        inflater = zlib.decompressobj()
        raw = inflater.decompress(bytes(blob), MAX_RESULT_BYTES)
        if inflater.unconsumed_tail:
            raise ValueError(f"larger than {MAX_RESULT_BYTES} bytes")
        doc = json.loads(raw)
    except (zlib.error, TypeError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(str(exc)) from None
    if not isinstance(doc, dict):
        raise ValueError("not a JSON object")
    return doc


@dataclass(frozen=True)
class ScanSummary:
    """One stored scan as ``history`` lists it, read from columns only (no decompression)."""

    id: int
    started_at: str
    finished_at: str | None
    targets_key: str
    policy_name: str | None
    policy_sha256: str | None
    partial: bool
    devices: int
    destinations: int
    errors: int
    waived_findings: int
    open_findings: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_SUMMARY_SELECT = ("SELECT id, started_at, finished_at, targets_key, policy_name, policy_sha256, partial, "
                   "device_count, destination_count, error_count, waived_count, open_counts FROM scans")


def _summary(row: tuple[Any, ...]) -> ScanSummary:
    try:
        counts = {str(k): int(v) for k, v in json.loads(row[11] or "{}").items()}
    except (ValueError, TypeError, AttributeError):
        counts = {}
    return ScanSummary(id=row[0], started_at=row[1], finished_at=row[2], targets_key=row[3], policy_name=row[4],
                       policy_sha256=row[5], partial=bool(row[6]), devices=row[7], destinations=row[8],
                       errors=row[9], waived_findings=row[10], open_findings=counts)


class Store:
    """The scan store. Use as a context manager; a writer holds the lock until it leaves.

    ``readonly=True`` (history, diff) takes no lock, so it works while a long scan holds one,
    and refuses to create a missing store; SQLite's own locking keeps its reads consistent.
    """

    def __init__(self, path: str | Path | None = None, *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
                 readonly: bool = False) -> None:
        self.path = default_store_path() if path is None else Path(path)
        self.lock_timeout = max(0.0, float(lock_timeout))
        self.readonly = readonly
        self._conn: sqlite3.Connection | None = None
        self._lock_fd: int | None = None

    @property
    def lock_path(self) -> Path:
        return self.path.with_name(self.path.name + ".lock")

    def __enter__(self) -> Store:
        self.open()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # --- opening ---------------------------------------------------------------------------------

    def open(self) -> None:
        """Check the path, take the lock (writers), open SQLite and migrate to the current version."""
        if self._conn is not None:
            return
        self._check_path()
        try:
            if not self.readonly:
                self._lock()
            self._connect()
            self._prepare()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Close SQLite, then release the lock (empty lock file = nobody holds it)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._lock_fd is not None:
            try:
                os.ftruncate(self._lock_fd, 0)
            except OSError:
                pass
            os.close(self._lock_fd)  # closing releases the flock
            self._lock_fd = None

    def _check_path(self) -> None:
        directory = self.path.parent
        if not self.readonly:  # a scheduled job's first run must not fail on a missing /var/lib/cityscan
            try:
                directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            except OSError as exc:
                raise InputError(f"cannot create the store directory: {exc.strerror}", str(directory)) from None
        if not directory.is_dir():
            raise InputError("store directory does not exist", str(directory))
        if self.path.is_dir():
            raise InputError("is a directory, not a cityscan store", str(self.path))
        if is_special(self.path):
            raise InputError("not a regular file: the store is a SQLite file (or a new path)", str(self.path))
        if self.readonly and not self.path.exists():
            raise InputError("no such store (no scan has been saved there yet)", str(self.path))

    def _lock(self) -> None:
        """Exclusive flock on ``<store>.lock``, polled until ``lock_timeout``; our pid goes in the file."""
        try:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise InputError(f"cannot open the store's lock file: {exc.strerror}", str(self.lock_path)) from None
        deadline = time.monotonic() + self.lock_timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    pid = _read_pid(fd)
                    os.close(fd)
                    raise StoreBusyError(self.path, pid, self.lock_timeout) from None
                time.sleep(_POLL)
            except OSError as exc:
                os.close(fd)
                raise CannotRunError(f"{self.lock_path}: cannot lock the store: {exc.strerror}") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._lock_fd = fd

    def _connect(self) -> None:
        if not self.path.exists():  # private from the start: a scan history maps the city's network
            try:
                os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            except FileExistsError:
                pass
            except OSError as exc:
                raise InputError(f"cannot create the store: {exc.strerror}", str(self.path)) from None
        try:
            # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE ... COMMIT) below.
            conn = sqlite3.connect(str(self.path), timeout=self.lock_timeout, isolation_level=None)
        except sqlite3.Error as exc:
            raise InputError(f"cannot open the store ({exc})", str(self.path)) from None
        self._conn = conn
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self.lock_timeout * 1000)}")
            conn.execute("PRAGMA synchronous = FULL")  # a committed scan survives a power cut
        except sqlite3.Error as exc:
            raise self._error(exc, "open") from None

    def _tables(self, conn: sqlite3.Connection) -> set[str]:
        return {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
                if not str(row[0]).startswith("sqlite_")}

    def _version(self, conn: sqlite3.Connection, tables: set[str]) -> int:
        """0 for an empty database; the stored version for a cityscan store; InputError otherwise."""
        if not tables:
            return 0
        if not {"schema_version", "scans"} <= tables:
            shown = ", ".join(sorted(tables)[:5])
            raise InputError(f"not a cityscan store (it holds other tables: {shown})", str(self.path))
        row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
        if not row or not isinstance(row[0], int) or row[0] < 1:
            raise InputError("not a cityscan store (no schema version)", str(self.path))
        if row[0] > STORE_VERSION:
            raise InputError(f"store version {row[0]} is newer than this cityscan understands "
                             f"({STORE_VERSION}); upgrade cityscan", str(self.path))
        return int(row[0])

    def _prepare(self) -> None:
        conn = self._db()
        try:
            if self._version(conn, self._tables(conn)) == STORE_VERSION:
                return
            with _transaction(conn):
                version = self._version(conn, self._tables(conn))  # again: another run may have migrated
                if version == 0:
                    create_v1(conn)
                    version = 1
                while version < STORE_VERSION:
                    MIGRATIONS[version](conn)
                    version += 1
                conn.execute("UPDATE schema_version SET version = ?", (version,))
        except sqlite3.Error as exc:
            raise self._error(exc, "open") from None

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError("the store is not open (use it as a context manager)")
        return self._conn

    def _error(self, exc: sqlite3.Error, doing: str) -> Exception:
        """A damaged file is bad input (exit 2); a full disk or a stuck lock is 'cannot run' (exit 3)."""
        if isinstance(exc, sqlite3.OperationalError):
            return CannotRunError(f"{self.path}: cannot {doing} the store ({exc})")
        return InputError(f"not a cityscan store ({exc})", str(self.path))

    # --- API -------------------------------------------------------------------------------------

    def save(self, result: ScanResult) -> int:
        """Store a scan (complete or partial) in one transaction; returns its id."""
        if self.readonly:
            raise RuntimeError("the store was opened read-only")
        conn = self._db()
        doc = result.to_dict()
        policy = result.scan.policy or {}
        row = {"started_at": result.scan.started_at or "", "finished_at": result.scan.finished_at,
               "targets_key": targets_key(result.scan.targets), "policy_name": policy.get("name"),
               "policy_sha256": policy.get("sha256"), "partial": int(bool(result.scan.partial)),
               "inputs": json.dumps(result.scan.inputs, ensure_ascii=True), "result": _encode(doc),
               **_summary_columns(doc)}
        names = ", ".join(row)
        try:
            with _transaction(conn):
                cursor = conn.execute(f"INSERT INTO scans ({names}) VALUES ({', '.join(':' + k for k in row)})", row)
        except sqlite3.Error as exc:
            raise self._error(exc, "write to") from None
        return int(cursor.lastrowid or 0)

    def load(self, scan_id: int) -> ScanResult:
        """The stored result, exactly as ``ScanResult.from_dict`` reads the JSON contract."""
        try:
            row = self._db().execute("SELECT result FROM scans WHERE id = ?", (int(scan_id),)).fetchone()
        except sqlite3.Error as exc:
            raise self._error(exc, "read") from None
        if row is None:
            raise InputError(f"no scan {scan_id} in this store", str(self.path))
        try:
            return ScanResult.from_dict(_decode(row[0]))
        except (ValueError, TypeError, AttributeError) as exc:
            raise InputError(f"scan {scan_id} is damaged ({exc})", str(self.path)) from None

    def last_two(self, targets_key: str | None = None,
                 include_partial: bool = False) -> tuple[ScanSummary, ScanSummary] | None:
        """(older, newer): the two latest scans of ``targets_key`` (default: the newest scan's targets).

        Partial scans are skipped unless asked: an interrupted run would show every device it did
        not reach as "gone" and every finding on them as "resolved".
        """
        where = "" if include_partial else " WHERE partial = 0"
        try:
            conn = self._db()
            if targets_key is None:
                newest = conn.execute(f"SELECT targets_key FROM scans{where} ORDER BY started_at DESC, id DESC "
                                      "LIMIT 1").fetchone()
                if newest is None:
                    return None
                targets_key = str(newest[0])
            clause = " AND partial = 0" if not include_partial else ""
            rows = conn.execute(f"{_SUMMARY_SELECT} WHERE targets_key = ?{clause} ORDER BY started_at DESC, id DESC "
                                "LIMIT 2", (targets_key,)).fetchall()
        except sqlite3.Error as exc:
            raise self._error(exc, "read") from None
        if len(rows) < 2:
            return None
        return _summary(rows[1]), _summary(rows[0])

    def list(self, limit: int | None = None, targets_key: str | None = None) -> builtins.list[ScanSummary]:
        """Stored scans, newest first, from the summary columns only."""
        sql = _SUMMARY_SELECT
        params: builtins.list[Any] = []
        if targets_key is not None:
            sql += " WHERE targets_key = ?"
            params.append(targets_key)
        sql += " ORDER BY started_at DESC, id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        try:
            return [_summary(row) for row in self._db().execute(sql, params).fetchall()]
        except sqlite3.Error as exc:
            raise self._error(exc, "read") from None


@contextlib.contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """One all-or-nothing write: BEGIN IMMEDIATE (the write lock up front), COMMIT, or ROLLBACK on anything."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        return int(text) if text.isdigit() else None
    except OSError:
        return None
