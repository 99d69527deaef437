"""The scan store: a SQLite file (the embedded default) or a PostgreSQL database shared by many sensors.

``Store(location)`` picks the back end from the location: a path is SQLite, a ``postgresql://``
URL is PostgreSQL. Both have the same schema (``migrations.py``, versioned, run on a writer's
open or by ``cityscan store migrate``) and the same API (``base.py``).
"""

from __future__ import annotations

from scanner.history.store.base import (
    DEFAULT_LOCK_TIMEOUT,
    ScanSummary,
    SiteSummary,
    Store,
    StoreBusyError,
    default_store_path,
    is_url,
    mask_url,
    targets_key,
)
from scanner.history.store.migrations import MIGRATIONS, STORE_VERSION, Migration
from scanner.history.store.sqlite import SQLiteStore, create_v1

__all__ = ["DEFAULT_LOCK_TIMEOUT", "MIGRATIONS", "STORE_VERSION", "Migration", "SQLiteStore", "ScanSummary",
           "SiteSummary", "Store", "StoreBusyError", "create_v1", "default_store_path", "is_url", "mask_url",
           "targets_key"]
