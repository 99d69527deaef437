"""What every store does, whatever holds it: the API, the queries, the migrations, the row format.

A back end (SQLite, PostgreSQL) only connects, runs SQL and maps its errors; saving, listing,
picking the last two scans, the fleet summary and migrating are written once here, so both
stores answer the same questions the same way. One row per scan: the full JSON result (the
public contract, zlib-compressed) plus the columns that listing, ``last_two`` and the fleet
summary need without decompressing anything.
"""

from __future__ import annotations

import builtins
import contextlib
import hashlib
import json
import os
import re
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from scanner.errors import CannotRunError, InputError
from scanner.history.results import (
    MAX_RESULT_BYTES,  # decompressed: the same cap as a JSON result file
)
from scanner.history.store.migrations import (
    MIGRATIONS,
    STORE_VERSION,
    Migration,
    document_digest,
    document_text,
    site_columns,
    summary_columns,
)
from scanner.model import SEVERITIES, ScanResult

DEFAULT_LOCK_TIMEOUT = 10.0
ZLIB_LEVEL = 6
URL_SCHEMES = ("postgresql://", "postgres://")
_BACKFILL_BATCH = 100


def default_store_path() -> Path | str:
    """``$CITYSCAN_STORE`` (a path or a PostgreSQL URL), else the XDG data directory's SQLite file."""
    env = os.environ.get("CITYSCAN_STORE")
    if env:
        return env if is_url(env) else Path(env).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "cityscan" / "scans.db"


def is_url(location: str | Path) -> bool:
    """A PostgreSQL URL (``postgresql://...``) rather than a SQLite path."""
    return isinstance(location, str) and location.lower().startswith(URL_SCHEMES)


def mask_url(url: str) -> str:
    """The URL with its password (in the user part or a ``password=`` parameter) replaced by ``***``.

    Every message, listing and log line names the store by this: a scheduled job's log is read
    by more people than the database's password should be.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return "postgresql://***"
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, hosts = netloc.rsplit("@", 1)
        if ":" in userinfo:
            userinfo = userinfo.split(":", 1)[0] + ":***"
        netloc = f"{userinfo}@{hosts}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, "***" if k.lower() == "password" else v) for k, v in pairs], safe="/*:@,")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def targets_key(targets: Iterable[str]) -> str:
    """Sorted targets joined: the same networks in any order are the same series of scans."""
    return ",".join(sorted({t.strip() for t in targets if t.strip()}))


class StoreBusyError(CannotRunError):
    """Another cityscan run holds the store's lock (exit 3: the run could not start)."""

    def __init__(self, path: Path | str, pid: int | None, waited: float) -> None:
        self.path = path
        self.pid = pid
        holder = f"pid {pid}" if pid else "pid unknown"
        super().__init__(f"{path}: store is in use by another cityscan run ({holder}); gave up after "
                         f"{waited:g} s. The lock frees itself when that process exits.")


def encode(doc: dict[str, Any]) -> bytes:
    return zlib.compress(document_text(doc), ZLIB_LEVEL)


def decode(blob: bytes | memoryview) -> dict[str, Any]:
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


def _counts(text: Any) -> dict[str, int]:
    try:
        return {str(k): int(v) for k, v in json.loads(text or "{}").items()}
    except (ValueError, TypeError, AttributeError):
        return {}


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
    site: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SiteSummary:
    """One site as ``cityscan fleet`` shows it: its newest complete scan and what is new since the one before.

    ``new_findings`` counts open findings of the newest complete scan that the site's previous
    complete scan of the same targets did not have; None when there is no previous scan.
    """

    site: str | None
    scans: int
    last_started_at: str
    last_partial: bool          # the newest scan of the site was interrupted
    scan_id: int | None         # the newest complete scan (None: only partial scans so far)
    started_at: str | None
    targets_key: str | None
    devices: int
    open_findings: dict[str, int]
    new_findings: int | None
    previous_id: int | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_SUMMARY_COLUMNS = ("id, started_at, finished_at, targets_key, policy_name, policy_sha256, partial, "
                    "device_count, destination_count, error_count, waived_count, open_counts, site")
_SUMMARY_SELECT = f"SELECT {_SUMMARY_COLUMNS} FROM scans"


def _summary(row: Sequence[Any]) -> ScanSummary:
    return ScanSummary(id=int(row[0]), started_at=row[1], finished_at=row[2], targets_key=row[3],
                       policy_name=row[4], policy_sha256=row[5], partial=bool(row[6]), devices=int(row[7]),
                       destinations=int(row[8]), errors=int(row[9]), waived_findings=int(row[10]),
                       open_findings=_counts(row[11]), site=row[12])


def _site_clause(site: str | None) -> tuple[str, list[Any]]:
    """Equality that also matches scans without a site (NULL), in SQL both dialects index."""
    return ("site IS NULL", []) if site is None else ("site = ?", [site])


class Store:
    """The scan store: a SQLite file (default) or a PostgreSQL database, chosen by ``location``.

    ``Store(location)`` returns the back end's subclass. Use it as a context manager. A writer
    migrates the schema on open; ``readonly=True`` (history, diff, fleet) writes nothing at all:
    no lock file, no directory, no migration, and it refuses a store that does not exist yet.
    """

    DB_ERRORS: ClassVar[tuple[type[BaseException], ...]] = ()
    location: str       # for messages: the path, or the URL with its password masked
    path: Path | str    # the SQLite path; for PostgreSQL the masked URL (older callers print it)
    readonly: bool
    lock_timeout: float

    def __new__(cls, location: str | Path | None = None, *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
                readonly: bool = False) -> Store:
        impl: type[Store] = cls
        if cls is Store:
            target = default_store_path() if location is None else location
            if is_url(target):
                from scanner.history.store.postgres import PostgresStore
                impl = PostgresStore
            else:
                from scanner.history.store.sqlite import SQLiteStore
                impl = SQLiteStore
        return object.__new__(impl)

    def __init__(self, location: str | Path | None = None, *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
                 readonly: bool = False) -> None:
        raise TypeError("Store() picks its back end itself; do not subclass without overriding __init__")

    def __enter__(self) -> Store:
        self.open()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # --- what a back end provides ----------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        raise NotImplementedError

    def _connect(self) -> None:
        """Connect (and for SQLite: check the path, take the writer's lock)."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def _run(self, sql: str, params: Sequence[Any] = ()) -> builtins.list[tuple[Any, ...]]:
        """Run one statement (``?`` placeholders); its rows, or [] for a statement without any."""
        raise NotImplementedError

    def _transaction(self) -> contextlib.AbstractContextManager[None]:
        """One all-or-nothing write: committed on leaving, rolled back on any exception."""
        raise NotImplementedError

    def _insert(self, row: dict[str, Any]) -> int:
        raise NotImplementedError

    def _version(self) -> int:
        """0 for a store with no cityscan tables yet; the stored version; InputError for something else."""
        raise NotImplementedError

    def _stored_version(self) -> int:
        """The version a cityscan store records (its tables are there), checked on either database."""
        rows = self._run("SELECT max(version) FROM schema_version")
        if not rows or not isinstance(rows[0][0], int) or rows[0][0] < 1:
            raise InputError("not a cityscan store (no schema version)", self.location)
        if rows[0][0] > STORE_VERSION:
            raise InputError(f"store version {rows[0][0]} is newer than this cityscan understands "
                             f"({STORE_VERSION}); upgrade cityscan", self.location)
        return int(rows[0][0])

    def _serialise(self, key: str) -> None:
        """Inside a transaction: wait for other writers doing the same ``key`` (migrate, push)."""

    def _migration_sql(self, migration: Migration) -> tuple[str, ...]:
        raise NotImplementedError

    def _error(self, exc: BaseException, doing: str) -> Exception:
        raise NotImplementedError

    def _check_writable(self) -> None:
        """On an open writer: prove a write would succeed, without writing a scan."""
        raise NotImplementedError

    # --- opening and migrating -------------------------------------------------------------------

    def open(self) -> None:
        """Connect; a writer migrates to the current version, a reader only checks it."""
        if self.is_open:
            return
        try:
            self._connect()
            with self._guard("open"):
                version = self._version()
                if self.readonly:
                    self._check_readable(version)
                elif version < STORE_VERSION:
                    self._apply_migrations()
        except BaseException:
            self.close()
            raise

    def _check_readable(self, version: int) -> None:
        if version == 0:
            raise InputError("no cityscan store here yet (no scan has been saved there)", self.location)
        if version < STORE_VERSION:
            raise CannotRunError(f"{self.location}: the store is at version {version}, this cityscan reads "
                                 f"version {STORE_VERSION}; run `cityscan store migrate --store ...` (or "
                                 "let the next scan do it) first")

    def migrate(self) -> builtins.list[Migration]:
        """Run the pending migrations explicitly (``cityscan store migrate``); returns those applied."""
        if self.readonly:
            raise RuntimeError("the store was opened read-only")
        if not self.is_open:
            self._connect()
        try:
            with self._guard("migrate"):
                return self._apply_migrations()
        except BaseException:
            self.close()
            raise

    def _apply_migrations(self) -> builtins.list[Migration]:
        applied: builtins.list[Migration] = []
        with self._transaction():
            self._serialise("migrate")
            version = self._version()  # again, under the lock: another writer may have migrated
            for migration in MIGRATIONS:
                if migration.version <= version:
                    continue
                for statement in self._migration_sql(migration):
                    self._run(statement)
                if migration.backfill is not None:
                    self._backfill(migration)
                if migration.version > 1:
                    self._run("UPDATE schema_version SET version = ?", (migration.version,))
                applied.append(migration)
        return applied

    def _backfill(self, migration: Migration) -> None:
        """Compute a migration's new columns from each stored result, a batch of rows at a time."""
        assert migration.backfill is not None
        last = 0
        while True:
            rows = self._run("SELECT id, result FROM scans WHERE id > ? ORDER BY id LIMIT ?", (last, _BACKFILL_BATCH))
            if not rows:
                return
            for row_id, blob in rows:
                last = int(row_id)
                try:
                    doc = decode(blob)
                except ValueError:
                    continue  # a damaged row keeps the defaults; load() reports the damage
                cols = migration.backfill(doc)
                names = ", ".join(f"{k} = ?" for k in cols)
                self._run(f"UPDATE scans SET {names} WHERE id = ?", (*cols.values(), last))

    @property
    def version(self) -> int:
        """The schema version of the open store."""
        with self._guard("read"):
            return self._version()

    @contextlib.contextmanager
    def _guard(self, doing: str) -> Iterator[None]:
        """The back end's own errors become one line naming the store (exit 2 or 3), never a traceback."""
        try:
            yield
        except self.DB_ERRORS as exc:
            raise self._error(exc, doing) from None

    def _require_open(self) -> None:
        if not self.is_open:
            raise RuntimeError("the store is not open (use it as a context manager)")

    # --- writing ---------------------------------------------------------------------------------

    def check_writable(self) -> None:
        """Before a scan: fail now (exit 2/3, one line) if saving its result later would fail.

        Opens as a writer (creating and migrating the store as a save would), proves a write
        transaction can start, and closes again unless the store was already open.
        """
        if self.readonly:
            raise RuntimeError("the store was opened read-only")
        was_open = self.is_open
        self.open()
        try:
            with self._guard("write to"):
                self._check_writable()
        finally:
            if not was_open:
                self.close()

    @staticmethod
    def _row(doc: dict[str, Any]) -> dict[str, Any]:
        scan = doc.get("scan") if isinstance(doc.get("scan"), dict) else {}
        assert isinstance(scan, dict)
        policy = scan.get("policy") if isinstance(scan.get("policy"), dict) else {}
        assert isinstance(policy, dict)
        text = document_text(doc)  # serialised once: compressed for the row, hashed for push
        return {"started_at": str(scan.get("started_at") or ""), "finished_at": scan.get("finished_at"),
                "targets_key": targets_key(str(t) for t in scan.get("targets") or []),
                "policy_name": policy.get("name"), "policy_sha256": policy.get("sha256"),
                "partial": int(bool(scan.get("partial"))),
                "inputs": json.dumps(scan.get("inputs") or [], ensure_ascii=True),
                "result": zlib.compress(text, ZLIB_LEVEL),
                **summary_columns(doc), **site_columns(doc, hashlib.sha256(text).hexdigest())}

    def save(self, result: ScanResult) -> int:
        """Store a scan (complete or partial) in one transaction; returns its id.

        Nobody sees the row before the commit, and a failed or interrupted save leaves no trace.
        """
        if self.readonly:
            raise RuntimeError("the store was opened read-only")
        self._require_open()
        row = self._row(result.to_dict())
        with self._guard("write to"), self._transaction():
            return self._insert(row)

    def push(self, result: ScanResult) -> tuple[int, bool]:
        """Save a result written earlier (``store push``): (id, True), or (existing id, False) if already stored."""
        if self.readonly:
            raise RuntimeError("the store was opened read-only")
        self._require_open()
        row = self._row(result.to_dict())
        with self._guard("write to"), self._transaction():
            self._serialise("push:" + row["digest"])
            found = self._run("SELECT id FROM scans WHERE digest = ? ORDER BY id LIMIT 1", (row["digest"],))
            if found:
                return int(found[0][0]), False
            return self._insert(row), True

    # --- reading ---------------------------------------------------------------------------------

    def load(self, scan_id: int) -> ScanResult:
        """The stored result, exactly as ``ScanResult.from_dict`` reads the JSON contract."""
        self._require_open()
        with self._guard("read"):
            rows = self._run("SELECT result FROM scans WHERE id = ?", (int(scan_id),))
        if not rows:
            raise InputError(f"no scan {scan_id} in this store", self.location)
        try:
            return ScanResult.from_dict(decode(rows[0][0]))
        except (ValueError, TypeError, AttributeError) as exc:
            raise InputError(f"scan {scan_id} is damaged ({exc})", self.location) from None

    def list(self, limit: int | None = None, targets_key: str | None = None,
             site: str | None = None) -> builtins.list[ScanSummary]:
        """Stored scans, newest first, from the summary columns only (``site``: that site's only)."""
        self._require_open()
        where, params = _series([], targets_key, site)
        sql = _SUMMARY_SELECT + (" WHERE " + " AND ".join(where) if where else "")
        sql += " ORDER BY started_at DESC, id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        with self._guard("read"):
            return [_summary(row) for row in self._run(sql, params)]

    def last_two(self, targets_key: str | None = None, include_partial: bool = False,
                 site: str | None = None) -> tuple[ScanSummary, ScanSummary] | None:
        """(older, newer): the two latest scans of one series: one site's scans of one set of targets.

        The series is the newest scan's that matches ``targets_key`` and ``site`` where given: two
        sites scanning the same private range are two networks, never compared with each other.
        Partial scans are skipped unless asked: an interrupted run would show every device it did
        not reach as "gone" and every finding on them as "resolved".
        """
        self._require_open()
        where, params = _series([] if include_partial else ["partial = 0"], targets_key, site)
        clause = " WHERE " + " AND ".join(where) if where else ""
        with self._guard("read"):
            newest = self._run(f"SELECT targets_key, site FROM scans{clause} ORDER BY started_at DESC, id DESC "
                               "LIMIT 1", params)
            if not newest:
                return None
            series_key, series_site = str(newest[0][0]), newest[0][1]
            site_sql, site_params = _site_clause(series_site)
            partial_sql = "" if include_partial else " AND partial = 0"
            rows = self._run(f"{_SUMMARY_SELECT} WHERE targets_key = ? AND {site_sql}{partial_sql} "
                             "ORDER BY started_at DESC, id DESC LIMIT 2", [series_key, *site_params])
        if len(rows) < 2:
            return None
        return _summary(rows[1]), _summary(rows[0])

    def sites(self) -> builtins.list[str | None]:
        """Every site with a stored scan (None: scans saved without one)."""
        self._require_open()
        with self._guard("read"):
            return [row[0] for row in self._run("SELECT DISTINCT site FROM scans ORDER BY site")]

    def fleet(self, site: str | None = None) -> builtins.list[SiteSummary]:
        """Per site: its newest complete scan, open findings by severity, and new since its previous scan.

        Three index-backed queries whatever the history's length: the sites' counts, the newest
        two complete scans of each site's newest series (window functions, ids only), then the
        summary columns of those rows.
        """
        self._require_open()
        site_filter, site_params = ("", []) if site is None else (" WHERE site = ?", [site])
        with self._guard("read"):
            totals = self._run(f"SELECT site, count(*), max(started_at) FROM scans{site_filter} GROUP BY site",
                               site_params)
            ranked = self._run(
                "WITH ranked AS (SELECT id, site, targets_key, "
                "row_number() OVER (PARTITION BY site ORDER BY started_at DESC, id DESC) AS site_rank, "
                "row_number() OVER (PARTITION BY site, targets_key ORDER BY started_at DESC, id DESC) AS series_rank "
                f"FROM scans WHERE partial = 0{' AND site = ?' if site is not None else ''}) "
                "SELECT id, site, targets_key, site_rank, series_rank FROM ranked "
                "WHERE site_rank = 1 OR series_rank = 2", site_params)
            latest = {r[1]: r for r in ranked if r[3] == 1}
            previous = {r[1]: int(r[0]) for r in ranked if r[4] == 2 and r[1] in latest and r[2] == latest[r[1]][2]}
            wanted = [int(r[0]) for r in latest.values()] + builtins.list(previous.values())
            details: dict[int, tuple[Any, ...]] = {}
            for chunk in range(0, len(wanted), 500):
                ids = wanted[chunk:chunk + 500]
                marks = ", ".join("?" for _ in ids)
                for found in self._run(f"SELECT {_SUMMARY_COLUMNS}, open_ids FROM scans WHERE id IN ({marks})", ids):
                    details[int(found[0])] = found
        out: builtins.list[SiteSummary] = []
        for site_name, count, last_started in totals:
            top = latest.get(site_name)
            row = details.get(int(top[0])) if top is not None else None
            prev_id = previous.get(site_name)
            new: int | None = None
            if row is not None and prev_id is not None and prev_id in details:
                new = len(set(_ids(row[13])) - set(_ids(details[prev_id][13])))
            out.append(SiteSummary(
                site=site_name, scans=int(count), last_started_at=str(last_started),
                last_partial=row is None or str(row[1]) < str(last_started),
                scan_id=int(row[0]) if row else None, started_at=row[1] if row else None,
                targets_key=row[3] if row else None, devices=int(row[7]) if row else 0,
                open_findings=_counts(row[11]) if row else {s: 0 for s in SEVERITIES},
                new_findings=new, previous_id=prev_id))
        out.sort(key=lambda s: (s.site is None, s.site or ""))
        return out


def _ids(text: Any) -> builtins.list[str]:
    try:
        value = json.loads(text or "[]")
    except (ValueError, TypeError):
        return []
    return [str(v) for v in value] if isinstance(value, builtins.list) else []


def sqlite_uri(path: Path) -> str:
    """``file:`` URI opening an existing SQLite file read-only: SQLite itself then never writes."""
    return "file:" + quote(str(path.resolve())) + "?mode=ro"


def first_line(text: str, limit: int = 300) -> str:
    """A driver's message as one bounded line (libpq's come with hints on further lines)."""
    return re.sub(r"\s+", " ", text).strip()[:limit]


__all__ = ["DEFAULT_LOCK_TIMEOUT", "STORE_VERSION", "ScanSummary", "SiteSummary", "Store", "StoreBusyError",
           "decode", "default_store_path", "document_digest", "encode", "is_url", "mask_url", "targets_key"]


def _series(where: builtins.list[str], targets_key: str | None, site: str | None) -> tuple[builtins.list[str],
                                                                                            builtins.list[Any]]:
    """WHERE conditions and parameters that pick one series of scans: a set of targets, a site."""
    params: builtins.list[Any] = []
    if targets_key is not None:
        where.append("targets_key = ?")
        params.append(targets_key)
    if site is not None:
        where.append("site = ?")
        params.append(site)
    return where, params

