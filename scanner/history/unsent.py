"""Results the store could not take: kept as JSON files so that nothing collected is lost.

When the database is out of reach (or the disk of a SQLite store is full) after a scan, the scan
command writes the result here and says so; ``cityscan store push FILE`` saves it later (a
result pushed twice is recognised and stored once). The directory is private, like the store:
a scan result maps the city's network.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from scanner.model import ScanResult
from scanner.runtime.output import write_atomic


def unsent_dir() -> Path:
    """``$CITYSCAN_UNSENT``, else ``unsent/`` beside the default store in the XDG data directory."""
    env = os.environ.get("CITYSCAN_UNSENT")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "cityscan" / "unsent"


def keep_unsent(result: ScanResult, directory: Path | None = None) -> Path:
    """Write ``result`` as a JSON result file (0600, in a 0700 directory) named by site and start time."""
    target_dir = unsent_dir() if directory is None else directory
    target_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    stamp = re.sub(r"[^0-9A-Za-z]", "", result.scan.started_at or "") or "unknown"
    site = re.sub(r"[^0-9A-Za-z._-]", "_", result.scan.site or "")[:60]
    name = f"cityscan-{site + '-' if site else ''}{stamp}"
    path = target_dir / f"{name}.json"
    n = 1
    while path.exists():
        n += 1
        path = target_dir / f"{name}-{n}.json"
    write_atomic(path, json.dumps(result.to_dict(), indent=2, ensure_ascii=True) + "\n", mode=0o600)
    return path
