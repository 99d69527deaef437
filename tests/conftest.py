"""Shared fixtures: run the CLI in-process, and the emulated lab (root only)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from scanner.cli import main

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).parent.parent
LAB_PREFIX = f"cst{os.getpid() % 1000}"


@pytest.fixture(autouse=True)
def _private_store(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test's scans go to a store of its own, never to the user's scan history."""
    path = tmp_path_factory.mktemp("store") / "scans.db"
    monkeypatch.setenv("CITYSCAN_STORE", str(path))
    return path


@dataclass
class Run:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """Run ``cityscan ARGS`` in-process; returns exit code, stdout and stderr."""

    def run(*args: str) -> Run:
        capsys.readouterr()
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run


def lab_available() -> str | None:
    """Why the lab cannot run here, or None when it can."""
    if os.geteuid() != 0:
        return "the lab needs root (network namespaces)"
    if not shutil.which("ip"):
        return "iproute2 is not installed"
    if not shutil.which("nmap"):
        return "nmap is not installed"
    return None


@pytest.fixture(scope="session")
def lab() -> Iterator[object]:
    """The full emulated lab, created once for the session and removed afterwards."""
    reason = lab_available()
    if reason:
        pytest.skip(reason)
    from scanner.lab import lab as lab_mod

    state = lab_mod.up(prefix=LAB_PREFIX)
    try:
        yield state
    finally:
        lab_mod.down(LAB_PREFIX)
