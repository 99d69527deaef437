"""User text never becomes an nmap option or target: checked with a fake nmap that records its argv.

The fake answers like nmap with no host up, so nothing is probed and no packet leaves this machine.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from conftest import DATA

FAKE_NMAP = """#!/bin/sh
# Records its arguments, one per line (NUL-separated), then answers like nmap with no host up.
for arg in "$@"; do printf '%s\\0' "$arg"; done >> "$FAKE_NMAP_LOG"
printf '<?xml version="1.0"?>\\n<nmaprun scanner="nmap" args="nmap" version="7.93"><runstats><finished/></runstats></nmaprun>\\n'
"""


@pytest.fixture
def fake_nmap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    nmap = bindir / "nmap"
    nmap.write_text(FAKE_NMAP)
    nmap.chmod(nmap.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    log = tmp_path / "argv.log"
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("FAKE_NMAP_LOG", str(log))
    return log


def calls(log: Path) -> list[list[str]]:
    if not log.exists():
        return []
    args = log.read_bytes().split(b"\0")[:-1]
    return [[a.decode() for a in args]]


@pytest.mark.parametrize("ports", [
    "80 203.0.113.9",             # a second target smuggled into the port list
    "80 --script=x.nse",          # an NSE script, which nmap would run as root
    "80,--script=x.nse",
    "80;id",
    "-p80",
    "80,,443",
    "0",
    "70000",
    "443-80",
])
def test_bad_ports_are_refused_before_nmap_runs(cli, fake_nmap: Path, ports: str) -> None:  # type: ignore[no-untyped-def]
    run = cli("scan", "198.51.100.5", "--ports", ports, "--no-store")
    assert run.code == 2, run.err
    assert "is not a port list" in run.err and run.err.count("\n") == 1
    assert calls(fake_nmap) == []


def test_nmap_gets_one_argument_per_element(cli, fake_nmap: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "r.json"
    run = cli("scan", "198.51.100.5", "198.51.100.64/30", "--ports", "80,443,T:8000-8100,U:161",
              "--no-store", "--format", "json", "--output", str(out))
    assert run.code == 0, run.err
    [argv] = calls(fake_nmap)
    assert argv[:2] == ["-oX", "-"]
    assert argv[argv.index("-p") + 1] == "80,443,T:8000-8100,U:161"
    assert argv[-2:] == ["198.51.100.5/32", "198.51.100.64/30"]  # each target its own element, last
    assert not any(a.startswith("--script") for a in argv)
    assert json.loads(out.read_text())["devices"] == []


def test_config_ports_are_checked_with_file_and_line(cli, fake_nmap: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "scan.yaml"
    config.write_text("targets: [198.51.100.5]\nports: '80 --script=x.nse'\n")
    run = cli("scan", "--config", str(config), "--no-store")
    assert run.code == 2 and f"{config}:2:" in run.err
    assert calls(fake_nmap) == []


def test_a_failing_nmap_is_one_line_and_exit_3(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    bindir = tmp_path / "bin"
    bindir.mkdir()
    nmap = bindir / "nmap"
    nmap.write_text("#!/bin/sh\necho 'You requested a scan type which requires root privileges.' >&2\n"
                    "echo 'QUITTING!' >&2\nexit 1\n")
    nmap.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")
    run = cli("scan", "198.51.100.5", "--no-store")
    assert run.code == 3 and "requires root" in run.err and "CAP_NET_RAW" in run.err
    assert run.err.count("\n") == 1


def test_lab_xml_import_is_unaffected(cli) -> None:  # type: ignore[no-untyped-def]
    run = cli("scan", "--nmap-xml", str(DATA / "lab-nmap.xml"), "--no-store", "--format", "json")
    assert run.code in (0, 1) and json.loads(run.out)["devices"]


def test_privileged_means_root_or_nmap_privileged(monkeypatch: pytest.MonkeyPatch) -> None:
    from scanner.collect import nmap

    monkeypatch.delenv("NMAP_PRIVILEGED", raising=False)
    monkeypatch.setattr(nmap.os, "geteuid", lambda: 1000)
    assert not nmap.privileged()
    monkeypatch.setenv("NMAP_PRIVILEGED", "1")
    assert nmap.privileged()
    monkeypatch.delenv("NMAP_PRIVILEGED")
    monkeypatch.setattr(nmap.os, "geteuid", lambda: 0)
    assert nmap.privileged()


def test_an_unprivileged_scan_says_so_before_and_in_the_result(cli, fake_nmap: Path, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from scanner import pipeline
    from scanner.cli import scan
    from scanner.collect import nmap

    for module in (pipeline, scan, nmap):
        monkeypatch.setattr(module, "privileged", lambda: False)
    out = tmp_path / "r.json"
    run = cli("scan", "198.51.100.5", "--no-store", "--format", "json", "--output", str(out))
    assert run.code == 0, run.err
    assert run.err.startswith("cityscan: notice: not root") and "no MAC address" in run.err
    [argv] = calls(fake_nmap)
    assert "-sT" in argv and "-sS" not in argv
    doc = json.loads(out.read_text())
    assert doc["scan"]["inputs"][0]["mode"] == "unprivileged"
    assert any("CAP_NET_RAW" in e["message"] for e in doc["errors"])
    for module in (pipeline, scan, nmap):  # privileged; the fake nmap stays on PATH
        monkeypatch.setattr(module, "privileged", lambda: True)
    run = cli("scan", "198.51.100.5", "--no-store", "--format", "json", "--output", str(out), "-q")
    assert "notice" not in run.err and json.loads(out.read_text())["errors"] == []
    assert "-sS" in calls(fake_nmap)[0]
