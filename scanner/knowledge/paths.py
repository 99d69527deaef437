"""Where the shipped data lives (inside the installed package, whichever way it was installed)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def _dir(package: str) -> Path:
    return Path(str(resources.files(package)))


def fingerprints_dir() -> Path:
    return _dir("scanner.fingerprints")


def policies_dir() -> Path:
    return _dir("scanner.sample_configs.policies")


def sample_configs_dir() -> Path:
    return _dir("scanner.sample_configs")


def data_dir() -> Path:
    return _dir("scanner.knowledge.data")


def schema_path() -> Path:
    return _dir("scanner.model") / "scan-result.schema.json"


def lab_devices_dir() -> Path:
    return _dir("scanner.lab") / "devices"


def recorded_scan_path() -> Path:
    """A recorded scan of the demo lab, replayed by ``cityscan demo`` where namespaces are not possible."""
    return _dir("scanner.lab") / "recorded" / "lab-scan.json"
