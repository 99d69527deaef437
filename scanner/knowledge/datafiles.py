"""Which copy of a data file to read: the one ``cityscan data update`` installed, else the bundled one.

The bundled snapshot (``scanner/knowledge/data``) is the offline default and never changes at
run time. ``cityscan data update`` installs newer pinned, checksummed files into the user's data
directory (``$CITYSCAN_DATA_DIR``, else ``$XDG_DATA_HOME/cityscan/data``, else
``~/.local/share/cityscan/data``) and records them in ``installed.json`` there; a file is taken
from there only while its SHA-256 still matches that record, so a half-written or edited file
falls back to the bundled one instead of giving wrong answers.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scanner.knowledge.paths import data_dir

INSTALLED = "installed.json"


def user_data_dir() -> Path:
    """Where ``cityscan data update`` puts the data sets it fetched."""
    explicit = os.environ.get("CITYSCAN_DATA_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "cityscan" / "data"


@dataclass(frozen=True)
class Installed:
    """One data set ``cityscan data update`` installed: what it is and where it came from."""

    name: str
    version: str
    date: str | None
    source: str
    files: dict[str, str]   # file name -> sha256


def installed(directory: Path | None = None) -> dict[str, Installed]:
    """The data sets recorded in the user's ``installed.json`` (empty when there is none or it is unreadable)."""
    path = (directory or user_data_dir()) / INSTALLED
    try:
        doc: Any = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    out: dict[str, Installed] = {}
    for item in doc.get("datasets", []) if isinstance(doc, dict) else []:
        if isinstance(item, dict) and isinstance(item.get("files"), dict) and item.get("name"):
            out[str(item["name"])] = Installed(str(item["name"]), str(item.get("version") or ""),
                                               None if item.get("date") is None else str(item["date"]),
                                               str(item.get("source") or ""),
                                               {str(k): str(v) for k, v in item["files"].items()})
    return out


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def find(name: str, dataset: str, directory: Path | None = None) -> tuple[Path, Installed | None]:
    """The file ``name`` of ``dataset`` to read, and the update record it came from (None: bundled)."""
    where = directory or user_data_dir()
    record = installed(where).get(dataset)
    if record is not None and name in record.files:
        candidate = where / name
        try:
            if candidate.is_file() and sha256_file(candidate) == record.files[name]:
                return candidate, record
        except OSError:
            pass
    return data_dir() / name, None
