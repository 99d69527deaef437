"""The shared store: one PostgreSQL database for many sensors (psycopg 3).

Every scan is one INSERT in its own transaction, so many scanners can write at once and nobody
ever sees half a scan (MVCC, no application lock). Migrations run in one transaction under an
advisory lock, so eight sensors starting together on an empty database build the schema once.
The tables live in their own schema, ``cityscan``, so a database shared with other programs is
never confused with ours. The URL's password never appears in a message: the store is named
by :func:`mask_url` everywhere, and libpq's own messages are scrubbed of it as well.
"""

from __future__ import annotations

import builtins
import contextlib
import hashlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit

import psycopg
from psycopg import errors as pg_errors
from psycopg.conninfo import conninfo_to_dict

from scanner.errors import CannotRunError, InputError
from scanner.history.store.base import (
    DEFAULT_LOCK_TIMEOUT,
    Store,
    default_store_path,
    first_line,
    mask_url,
)
from scanner.history.store.migrations import Migration

SCHEMA = "cityscan"
CONNECT_TIMEOUT = 10          # seconds, unless the URL says otherwise
STATEMENT_TIMEOUT_MS = 300_000  # a bounded wait for any one query, even on a sick server
_LOCK_NAMESPACE = 0x43495459  # "CITY": the advisory locks of this program


def _lock_key(key: str) -> int:
    """A signed 64-bit advisory-lock key for ``key`` (migrate, push of one digest)."""
    digest = hashlib.sha256(f"{_LOCK_NAMESPACE}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class PostgresStore(Store):
    """The scan store in a PostgreSQL database, named by a ``postgresql://`` URL."""

    DB_ERRORS: ClassVar[tuple[type[BaseException], ...]] = (psycopg.Error,)

    def __init__(self, location: str | Path | None = None, *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
                 readonly: bool = False) -> None:
        target = default_store_path() if location is None else location
        self.url = str(target)
        self.location = mask_url(self.url)
        self.path = self.location  # what older callers print; never the password
        self.lock_timeout = max(0.0, float(lock_timeout))
        self.readonly = readonly
        self._conn: psycopg.Connection[Any] | None = None
        self._secrets: builtins.list[str] = []

    @property
    def is_open(self) -> bool:
        return self._conn is not None

    # --- connecting ------------------------------------------------------------------------------

    def _params(self) -> dict[str, Any]:
        """The URL checked by libpq's own parser; a bad URL is an input error that does not echo it."""
        try:  # the password as written and as decoded: libpq's messages may quote either
            raw = urlsplit(self.url).password
        except ValueError:
            raw = None
        if raw:
            self._secrets += [raw, unquote(raw)]
        try:
            params = conninfo_to_dict(self.url)
        except psycopg.Error:  # libpq's own text can quote the whole URL: say only that it is not one
            raise InputError("not a valid PostgreSQL URL (check its form: postgresql://user@host:port/database)",
                             self.location) from None
        for port in str(params.get("port") or "").split(","):
            if port and not (port.isdigit() and 0 < int(port) < 65536):
                raise InputError(f"not a valid PostgreSQL URL (port {port[:20]!r} is not a number from 1 to 65535)",
                                 self.location)
        password = params.get("password")
        if password:
            self._secrets.append(str(password))
        return params

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            if len(secret) >= 3:
                text = text.replace(secret, "***")
        return text

    def _connect(self) -> None:
        params = self._params()
        extra: dict[str, Any] = {"autocommit": True, "application_name": "cityscan"}
        if "connect_timeout" not in params:
            extra["connect_timeout"] = CONNECT_TIMEOUT
        try:
            conn = psycopg.connect(self.url, **extra)
        except psycopg.Error as exc:
            raise CannotRunError(f"{self.location}: cannot connect to the PostgreSQL store "
                                 f"({self._scrub(first_line(str(exc)))})") from None
        self._conn = conn
        with self._guard("open"):
            conn.execute("SELECT set_config('statement_timeout', %s, false), set_config('lock_timeout', %s, false), "
                         "set_config('search_path', %s, false)",
                         (str(STATEMENT_TIMEOUT_MS), str(int(self.lock_timeout * 1000)), SCHEMA))
            if self.readonly:  # the server itself refuses any write on this connection
                conn.execute("SET default_transaction_read_only = on")

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None

    # --- what the base class needs ---------------------------------------------------------------

    def _db(self) -> psycopg.Connection[Any]:
        if self._conn is None:
            raise RuntimeError("the store is not open (use it as a context manager)")
        return self._conn

    def _run(self, sql: str, params: Sequence[Any] = ()) -> builtins.list[tuple[Any, ...]]:
        cursor = self._db().execute(sql.replace("?", "%s"), tuple(params) if params else None)
        return [tuple(row) for row in cursor.fetchall()] if cursor.description else []

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        with self._db().transaction():
            yield

    def _insert(self, row: dict[str, Any]) -> int:
        names = ", ".join(row)
        marks = ", ".join("%s" for _ in row)
        cursor = self._db().execute(f"INSERT INTO scans ({names}) VALUES ({marks}) RETURNING id", tuple(row.values()))
        fetched = cursor.fetchone()
        assert fetched is not None
        return int(fetched[0])

    def _serialise(self, key: str) -> None:
        self._db().execute("SELECT pg_advisory_xact_lock(%s)", (_lock_key(key),))

    def _version(self) -> int:
        tables = {str(r[0]) for r in self._run("SELECT table_name FROM information_schema.tables "
                                              "WHERE table_schema = ?", (SCHEMA,))}
        if not tables & {"schema_version", "scans"}:
            return 0
        if not {"schema_version", "scans"} <= tables:
            raise InputError(f"not a cityscan store (schema {SCHEMA} holds {', '.join(sorted(tables)[:5])})",
                             self.location)
        return self._stored_version()

    def _migration_sql(self, migration: Migration) -> tuple[str, ...]:
        if migration.version == 1:
            return (f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}", *migration.postgres)
        return migration.postgres

    def _error(self, exc: BaseException, doing: str) -> Exception:
        """Every database failure here is 'cannot run' (exit 3), one line, without the password."""
        message = self._scrub(first_line(str(exc)))
        if isinstance(exc, pg_errors.InsufficientPrivilege):
            return CannotRunError(f"{self.location}: no permission to {doing} the store ({message})")
        if isinstance(exc, pg_errors.ReadOnlySqlTransaction):
            return CannotRunError(f"{self.location}: cannot {doing} the store: the database is read-only ({message})")
        if isinstance(exc, pg_errors.LockNotAvailable):
            return CannotRunError(f"{self.location}: the store is busy (another cityscan is migrating it); "
                                  f"gave up after {self.lock_timeout:g} s")
        if isinstance(exc, psycopg.OperationalError):
            return CannotRunError(f"{self.location}: lost the PostgreSQL store while trying to {doing} it ({message})")
        return CannotRunError(f"{self.location}: cannot {doing} the store ({message})")

    def _check_writable(self) -> None:
        rows = self._run("SELECT pg_is_in_recovery(), current_setting('transaction_read_only'), "
                         "has_table_privilege('scans', 'INSERT'), "
                         "has_sequence_privilege('scans_id_seq', 'USAGE')")
        recovery, read_only, can_insert, can_number = rows[0]
        if recovery or read_only == "on":
            raise CannotRunError(f"{self.location}: cannot write to the store: the database is read-only "
                                 "(a standby, or default_transaction_read_only)")
        if not (can_insert and can_number):
            raise CannotRunError(f"{self.location}: no permission to write to the store (INSERT on "
                                 f"{SCHEMA}.scans and USAGE on its id sequence are needed)")
