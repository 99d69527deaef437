"""``cityscan data update``: fetch the pinned, checksummed data sets into the user's data directory.

The manifest (``knowledge/data/data-updates.json``, or a newer one the user names) pins every
external data set: name, version, date, source, and per file its SHA-256 and size. Files are
fetched from a mirror (``--mirror URL``: the project's release files, or a city's own copy) or
from an absolute ``url`` in the manifest, bounded in size and time, checked against the pinned
SHA-256, written atomically, and recorded in ``installed.json``. Nothing is replaced unless
every file of the update checked out; the bundled snapshot stays the offline default.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from scanner.errors import CannotRunError, InputError
from scanner.knowledge.datafiles import INSTALLED, installed, user_data_dir
from scanner.knowledge.paths import data_dir

MANIFEST = "data-updates.json"
MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_MANIFEST_BYTES = 1024 * 1024
TIMEOUT = 30.0


@dataclass(frozen=True)
class PinnedFile:
    name: str
    sha256: str
    size: int | None
    url: str | None     # absolute URL; None: fetched from the mirror as <mirror>/<name>


@dataclass(frozen=True)
class PinnedDataSet:
    name: str
    version: str
    date: str | None
    source: str
    files: tuple[PinnedFile, ...]


def _safe_name(name: str, where: str) -> str:
    """A plain file name: no directories, so a manifest cannot write outside the data directory."""
    if not name or name != Path(name).name or name.startswith(".") or name == INSTALLED:
        raise InputError(f"file name {name!r} is not allowed in a data manifest", where)
    return name


def parse_manifest(text: str, where: str) -> list[PinnedDataSet]:
    try:
        doc: Any = json.loads(text)
    except ValueError as exc:
        raise InputError(f"data manifest is not JSON: {exc}", where) from None
    items = doc.get("datasets") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        raise InputError("data manifest needs a 'datasets' list", where)
    out = []
    for item in items:
        if not isinstance(item, dict) or not item.get("name") or not item.get("version") or not isinstance(item.get("files"), list):
            raise InputError(f"data manifest entry needs name, version and files: {item!r}"[:200], where)
        files = []
        for entry in item["files"]:
            digest = str(entry.get("sha256") or "") if isinstance(entry, dict) else ""
            if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
                raise InputError(f"{item['name']}: every file needs a lowercase hex sha256", where)
            size = entry.get("size")
            files.append(PinnedFile(_safe_name(str(entry.get("name") or ""), where), digest,
                                    int(size) if isinstance(size, int) else None,
                                    str(entry["url"]) if entry.get("url") else None))
        out.append(PinnedDataSet(str(item["name"]), str(item["version"]),
                                 None if item.get("date") is None else str(item["date"]),
                                 str(item.get("source") or ""), tuple(files)))
    return out


def read_manifest(path: Path | None = None) -> list[PinnedDataSet]:
    """The pinned manifest: the shipped one, or ``path``."""
    path = path or data_dir() / MANIFEST
    try:
        if path.stat().st_size > MAX_MANIFEST_BYTES:
            raise InputError(f"data manifest larger than {MAX_MANIFEST_BYTES} bytes", str(path))
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read the data manifest: {exc.strerror}", str(path)) from None
    return parse_manifest(text, str(path))


def _fetch(session: requests.Session, url: str, pinned: PinnedFile, into: Path, timeout: float) -> None:
    """Download ``url`` into ``into``, bounded, and check it against the pinned SHA-256."""
    limit = min(pinned.size or MAX_FILE_BYTES, MAX_FILE_BYTES)
    digest, total = hashlib.sha256(), 0
    try:
        with session.get(url, stream=True, timeout=timeout, allow_redirects=False) as response:
            if response.status_code != 200:
                raise CannotRunError(f"data update: {url}: HTTP {response.status_code}")
            with open(into, "wb") as out:
                for block in response.iter_content(1 << 16):
                    total += len(block)
                    if total > limit:
                        raise InputError(f"larger than the pinned {limit} bytes: refused", url)
                    digest.update(block)
                    out.write(block)
    except requests.RequestException as exc:
        raise CannotRunError(f"data update: {url}: {type(exc).__name__}: {exc}") from None
    if digest.hexdigest() != pinned.sha256:
        raise InputError(f"checksum mismatch for {pinned.name}: got sha256 {digest.hexdigest()[:16]}..., "
                         f"pinned {pinned.sha256[:16]}...; nothing was installed", url)


def update(mirror: str | None, manifest: list[PinnedDataSet], target: Path | None = None,
           only: set[str] | None = None, session: requests.Session | None = None,
           timeout: float = TIMEOUT) -> list[PinnedDataSet]:
    """Fetch every pinned data set (or those named in ``only``) into ``target``; returns what was installed."""
    target = target or user_data_dir()
    chosen = [d for d in manifest if only is None or d.name in only]
    if only and (missing := only - {d.name for d in chosen}):
        raise InputError(f"no data set named {', '.join(sorted(missing))} in the manifest "
                         f"(known: {', '.join(d.name for d in manifest)})")
    for dataset in chosen:
        for pinned in dataset.files:
            if pinned.url is None and not mirror:
                raise InputError(f"{dataset.name}: {pinned.name} has no URL in the manifest; give --mirror URL "
                                 "(or set CITYSCAN_DATA_MIRROR)")
    session = session or requests.Session()
    target.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".update-", dir=target))
    try:
        for dataset in chosen:
            for pinned in dataset.files:
                url = pinned.url or f"{str(mirror).rstrip('/')}/{pinned.name}"
                if not url.startswith(("https://", "http://")):
                    raise InputError(f"only http(s) URLs can be fetched, not {url!r}")
                _fetch(session, url, pinned, staging / pinned.name, timeout)
        for dataset in chosen:   # every file checked out: now install them
            for pinned in dataset.files:
                os.replace(staging / pinned.name, target / pinned.name)
        records = {name: {"name": rec.name, "version": rec.version, "date": rec.date, "source": rec.source,
                          "files": dict(rec.files)} for name, rec in installed(target).items()}
        for dataset in chosen:
            records[dataset.name] = {"name": dataset.name, "version": dataset.version, "date": dataset.date,
                                     "source": dataset.source, "files": {f.name: f.sha256 for f in dataset.files}}
        tmp = staging / INSTALLED
        tmp.write_text(json.dumps({"datasets": sorted(records.values(), key=lambda r: str(r["name"]))}, indent=2) + "\n")
        os.replace(tmp, target / INSTALLED)
    finally:
        for leftover in staging.iterdir():
            leftover.unlink()
        staging.rmdir()
    return chosen
