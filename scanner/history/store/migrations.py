"""The store's schema as numbered migrations, one list for both back ends.

Every store, SQLite or PostgreSQL, is built by running these in order from version 1, so the
path a new store takes is the one an old store is upgraded along. Each migration has its SQL
for both dialects (``?`` placeholders; the PostgreSQL back end turns them into ``%s``) and,
where new columns are derived from the stored results, a ``backfill`` that computes them from
each stored JSON document. Shipped migrations are never edited: a change is a new version.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from scanner.model import SEVERITIES


@dataclass(frozen=True)
class Migration:
    """Brings a store from ``version - 1`` to ``version``."""

    version: int
    title: str
    sqlite: tuple[str, ...]
    postgres: tuple[str, ...]
    backfill: Callable[[dict[str, Any]], dict[str, Any]] | None = None


def summary_columns(doc: dict[str, Any]) -> dict[str, Any]:
    """Counts that ``list()`` shows, computed once at save (v2) instead of per listing."""
    findings = doc.get("findings") or []
    open_counts = {s: 0 for s in SEVERITIES}
    waived = 0
    for f in findings:
        if not isinstance(f, dict):
            continue
        if f.get("waived"):
            waived += 1
        elif f.get("severity") in open_counts:
            open_counts[f["severity"]] += 1
    return {"device_count": len(doc.get("devices") or []),
            "destination_count": len(doc.get("destinations") or []),
            "error_count": len(doc.get("errors") or []),
            "waived_count": waived,
            "open_counts": json.dumps(open_counts)}


def _finding_id(f: dict[str, Any]) -> str:
    """:attr:`Finding.id` from the JSON form (every result since schema 1 writes ``id``)."""
    return str(f.get("id") or "")


def site_columns(doc: dict[str, Any], digest: str | None = None) -> dict[str, Any]:
    """The site, the open findings' ids (fleet: "new since the site's previous scan") and a digest (push)."""
    scan = doc.get("scan") if isinstance(doc.get("scan"), dict) else {}
    site = scan.get("site") if isinstance(scan, dict) else None
    ids = sorted({_finding_id(f) for f in doc.get("findings") or []
                  if isinstance(f, dict) and not f.get("waived") and _finding_id(f)})
    return {"site": site if isinstance(site, str) and site else None,
            "open_ids": json.dumps(ids, separators=(",", ":")),
            "digest": digest or document_digest(doc)}


def document_text(doc: dict[str, Any]) -> bytes:
    """The stored form of a result: compact ASCII JSON, in the model's own key order."""
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def document_digest(doc: dict[str, Any]) -> str:
    """sha256 of the stored JSON text: the same result pushed twice is recognised as one scan.

    ``to_dict`` writes keys in the model's order and the store keeps that order, so a result
    read back from a file or from the store hashes the same as when it was first saved.
    """
    return hashlib.sha256(document_text(doc)).hexdigest()


# Version 1 is kept exactly as it shipped (SQLite); PostgreSQL's version 1 is its twin.
_V1_SQLITE = (
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
_V1_POSTGRES = (
    "CREATE TABLE schema_version (version INTEGER NOT NULL)",
    "INSERT INTO schema_version (version) VALUES (1)",
    """CREATE TABLE scans (
        id BIGSERIAL PRIMARY KEY,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        targets_key TEXT NOT NULL,
        policy_name TEXT,
        policy_sha256 TEXT,
        partial INTEGER NOT NULL DEFAULT 0,
        inputs TEXT NOT NULL DEFAULT '[]',
        result BYTEA NOT NULL
    )""",
    # The result is zlib-compressed already: TOAST compressing it again only costs CPU.
    "ALTER TABLE scans ALTER COLUMN result SET STORAGE EXTERNAL",
)

_V2_COLUMNS = ("device_count INTEGER NOT NULL DEFAULT 0", "destination_count INTEGER NOT NULL DEFAULT 0",
               "error_count INTEGER NOT NULL DEFAULT 0", "waived_count INTEGER NOT NULL DEFAULT 0",
               "open_counts TEXT NOT NULL DEFAULT '{}'")
_V2_INDEXES = ("CREATE INDEX scans_by_targets ON scans (targets_key, partial, started_at, id)",
               "CREATE INDEX scans_by_time ON scans (started_at, id)")

_V3_COLUMNS = ("site TEXT", "open_ids TEXT NOT NULL DEFAULT '[]'", "digest TEXT")
_V3_INDEXES = ("CREATE INDEX scans_by_site ON scans (site, partial, started_at, id)",
               "CREATE INDEX scans_by_digest ON scans (digest)")

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "scans and their results", _V1_SQLITE, _V1_POSTGRES),
    Migration(2, "summary columns (listing without decompressing) and indexes (the last two scans fast)",
              tuple(f"ALTER TABLE scans ADD COLUMN {c}" for c in _V2_COLUMNS) + _V2_INDEXES,
              tuple(f"ALTER TABLE scans ADD COLUMN {c}" for c in _V2_COLUMNS) + _V2_INDEXES,
              summary_columns),
    Migration(3, "sites (one store for many sensors), open finding ids (fleet summary), result digest (push)",
              tuple(f"ALTER TABLE scans ADD COLUMN {c}" for c in _V3_COLUMNS) + _V3_INDEXES,
              tuple(f"ALTER TABLE scans ADD COLUMN {c}" for c in _V3_COLUMNS) + _V3_INDEXES,
              site_columns),
)

STORE_VERSION = MIGRATIONS[-1].version
assert [m.version for m in MIGRATIONS] == list(range(1, STORE_VERSION + 1))
