"""The embedded store: one SQLite file, the default, with no set-up.

SQLite's rollback journal makes every save all-or-nothing, even under ``kill -9``; a lock file
(``scans.db.lock``, fcntl.flock) keeps two cityscan runs from writing one store at once, and
names the holder's pid when the second one gives up. Readers open the file read-only (SQLite's
``mode=ro``) and take no lock, so ``history`` works while a scan saves and never writes.
"""

from __future__ import annotations

import builtins
import contextlib
import fcntl
import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

from scanner.errors import CannotRunError, InputError
from scanner.history.store.base import (
    DEFAULT_LOCK_TIMEOUT,
    Store,
    StoreBusyError,
    default_store_path,
    sqlite_uri,
)
from scanner.history.store.migrations import MIGRATIONS, Migration
from scanner.runtime.output import is_special

_POLL = 0.05
MIN_FREE_BYTES = 4 * 1024 * 1024  # below this a save of a city-sized result would fail half-way


def create_v1(conn: sqlite3.Connection) -> None:
    """Create the version-1 schema (the caller owns the transaction): how stores shipped at first."""
    for statement in MIGRATIONS[0].sqlite:
        conn.execute(statement)


class SQLiteStore(Store):
    """The scan store in one SQLite file."""

    DB_ERRORS: ClassVar[tuple[type[BaseException], ...]] = (sqlite3.Error,)
    path: Path

    def __init__(self, location: str | Path | None = None, *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
                 readonly: bool = False) -> None:
        target = default_store_path() if location is None else location
        self.path = Path(target).expanduser() if isinstance(target, str) else target
        self.location = str(self.path)
        self.lock_timeout = max(0.0, float(lock_timeout))
        self.readonly = readonly
        self._conn: sqlite3.Connection | None = None
        self._lock_fd: int | None = None

    @property
    def lock_path(self) -> Path:
        return self.path.with_name(self.path.name + ".lock")

    @property
    def is_open(self) -> bool:
        return self._conn is not None

    # --- connecting ------------------------------------------------------------------------------

    def _connect(self) -> None:
        """Check the path, take the lock (writers), open SQLite (readers: read-only)."""
        self._check_path()
        if not self.readonly:
            self._lock()
            self._create_private()
        try:
            # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE ... COMMIT) below.
            if self.readonly:
                conn = sqlite3.connect(sqlite_uri(self.path), uri=True, timeout=self.lock_timeout,
                                       isolation_level=None)
            else:
                conn = sqlite3.connect(str(self.path), timeout=self.lock_timeout, isolation_level=None)
        except sqlite3.Error as exc:
            raise InputError(f"cannot open the store ({exc})", self.location) from None
        self._conn = conn
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self.lock_timeout * 1000)}")
            if not self.readonly:
                conn.execute("PRAGMA synchronous = FULL")  # a committed scan survives a power cut
        except sqlite3.Error as exc:
            raise self._error(exc, "open") from None

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
            raise InputError("is a directory, not a cityscan store", self.location)
        if is_special(self.path):
            raise InputError("not a regular file: the store is a SQLite file (or a new path)", self.location)
        if self.readonly and not self.path.exists():
            raise InputError("no such store (no scan has been saved there yet)", self.location)

    def _create_private(self) -> None:
        if self.path.exists():
            return
        try:  # private from the start: a scan history maps the city's network
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            pass
        except OSError as exc:
            raise InputError(f"cannot create the store: {exc.strerror}", self.location) from None

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

    # --- what the base class needs ---------------------------------------------------------------

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError("the store is not open (use it as a context manager)")
        return self._conn

    def _run(self, sql: str, params: Sequence[Any] = ()) -> builtins.list[tuple[Any, ...]]:
        return [tuple(row) for row in self._db().execute(sql, tuple(params)).fetchall()]

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE (the write lock up front), COMMIT, or ROLLBACK on anything."""
        conn = self._db()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _insert(self, row: dict[str, Any]) -> int:
        names = ", ".join(row)
        cursor = self._db().execute(f"INSERT INTO scans ({names}) VALUES ({', '.join('?' for _ in row)})",
                                    tuple(row.values()))
        return int(cursor.lastrowid or 0)

    def _tables(self) -> set[str]:
        return {str(row[0]) for row in self._run("SELECT name FROM sqlite_master WHERE type = 'table'")
                if not str(row[0]).startswith("sqlite_")}

    def _version(self) -> int:
        tables = self._tables()
        if not tables:
            return 0
        if not {"schema_version", "scans"} <= tables:
            shown = ", ".join(sorted(tables)[:5])
            raise InputError(f"not a cityscan store (it holds other tables: {shown})", self.location)
        return self._stored_version()

    def _migration_sql(self, migration: Migration) -> tuple[str, ...]:
        return migration.sqlite

    def _error(self, exc: BaseException, doing: str) -> Exception:
        """A damaged file is bad input (exit 2); a full disk, a read-only file or a stuck lock is exit 3."""
        if isinstance(exc, sqlite3.OperationalError):
            return CannotRunError(f"{self.location}: cannot {doing} the store ({exc})")
        return InputError(f"not a cityscan store ({exc})", self.location)

    def _check_writable(self) -> None:
        for target in (self.path, self.path.parent):
            if not os.access(target, os.W_OK):
                raise CannotRunError(f"{target}: cannot write to the store (no write permission, or a "
                                     "read-only file system)")
        try:
            stat = os.statvfs(self.path.parent)
        except OSError:
            stat = None
        if stat is not None and stat.f_bavail * stat.f_frsize < MIN_FREE_BYTES:
            raise CannotRunError(f"{self.location}: cannot write to the store (the disk is full)")
        conn = self._db()
        conn.execute("BEGIN IMMEDIATE")  # takes SQLite's write lock, as a save will
        conn.execute("ROLLBACK")


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        return int(text) if text.isdigit() else None
    except OSError:
        return None
