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


# --- --ot: the OT ports and nmap's read-only identification scripts, only when asked for ------------

OT_PORT_NUMBERS = ("102", "502", "20000", "44818", "47808")


def _port_items(argv: list[str]) -> list[str]:
    spec = argv[argv.index("-p") + 1]
    return [item.split(":")[-1] for item in spec.split(",")]


def _set_privileged(monkeypatch: pytest.MonkeyPatch, value: bool) -> None:
    from scanner import pipeline
    from scanner.cli import scan
    from scanner.collect import nmap

    for module in (pipeline, scan, nmap):
        monkeypatch.setattr(module, "privileged", lambda: value)


def test_without_ot_no_ot_port_or_script_is_named(cli, fake_nmap: Path) -> None:  # type: ignore[no-untyped-def]
    """Some operators forbid any active probing of control systems: the default scan sends nothing to them."""
    run = cli("scan", "198.51.100.5", "--no-store", "-q")
    assert run.code == 0, run.err
    [argv] = calls(fake_nmap)
    assert not set(_port_items(argv)) & set(OT_PORT_NUMBERS)
    assert not any(a.startswith("--script") for a in argv) and "-sU" not in argv
    assert not any(name in " ".join(argv) for name in ("s7-info", "modbus", "bacnet", "enip"))


def test_ot_adds_the_ot_ports_and_only_the_identification_scripts(cli, fake_nmap: Path, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    _set_privileged(monkeypatch, True)
    out = tmp_path / "r.json"
    run = cli("scan", "198.51.100.5", "--ot", "--ports", "80,443", "--no-store", "-q",
              "--format", "json", "--output", str(out))
    assert run.code == 0, run.err
    [argv] = calls(fake_nmap)
    assert argv[argv.index("-p") + 1] == "T:80,443,102,502,20000,44818,U:47808"  # UDP only where meant
    assert "-sS" in argv and "-sU" in argv
    assert argv[argv.index("--script") + 1] == "s7-info,modbus-discover,bacnet-info,enip-info"
    assert [a for a in argv if a.startswith("--script")] == ["--script", "--script-timeout"]  # no --script-args
    assert argv[argv.index("--script-timeout") + 1] == "60s"
    assert argv[-1] == "198.51.100.5/32"
    live = json.loads(out.read_text())["scan"]["inputs"][0]
    assert live["kind"] == "nmap-live" and live["ot"] == "tcp+udp"


def test_ot_unprivileged_scans_tcp_only_and_says_so(cli, fake_nmap: Path, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    _set_privileged(monkeypatch, False)
    out = tmp_path / "r.json"
    run = cli("scan", "198.51.100.5", "--ot", "--no-store", "--format", "json", "--output", str(out))
    assert run.code == 0, run.err
    [argv] = calls(fake_nmap)
    assert "-sU" not in argv and "-sT" in argv and "U:" not in argv[argv.index("-p") + 1]
    assert "47808" not in _port_items(argv) and {"102", "502", "20000", "44818"} <= set(_port_items(argv))
    assert "BACnet (UDP 47808) is not scanned" in run.err
    doc = json.loads(out.read_text())
    assert any("UDP 47808" in e["message"] for e in doc["errors"])
    assert doc["scan"]["inputs"][0]["ot"] == "tcp"


def test_ot_from_the_config_and_the_environment(cli, fake_nmap: Path, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    _set_privileged(monkeypatch, True)
    config = tmp_path / "scan.yaml"
    config.write_text("targets: [198.51.100.5]\not: true\n")
    assert cli("scan", "--config", str(config), "--no-store", "-q").code == 0
    assert "--script" in calls(fake_nmap)[0]
    fake_nmap.unlink()
    assert cli("scan", "--config", str(config), "--no-ot", "--no-store", "-q").code == 0  # the command line wins
    assert "--script" not in calls(fake_nmap)[0]
    fake_nmap.unlink()
    monkeypatch.setenv("CITYSCAN_SCAN_OT", "1")
    assert cli("scan", "198.51.100.5", "--no-store", "-q").code == 0
    assert "s7-info,modbus-discover,bacnet-info,enip-info" in calls(fake_nmap)[0]


def test_config_ot_must_be_a_boolean(cli, fake_nmap: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "scan.yaml"
    config.write_text("targets: [198.51.100.5]\not: 'please'\n")
    run = cli("scan", "--config", str(config), "--no-store")
    assert run.code == 2 and f"{config}:2:" in run.err
    assert calls(fake_nmap) == []


@pytest.mark.parametrize(("ports", "udp", "spec"), [
    (None, True, "T:21,22,23,80,81,443,554,1883,4343,4370,5000,7547,8000,8080,8081,8443,8554,8883,8899,9000,"
                 "16113,37777,102,502,20000,44818,U:47808"),
    ("502,80", True, "T:502,80,102,20000,44818,U:47808"),            # no port twice
    ("80,U:161", True, "T:80,102,502,20000,44818,U:161,47808"),
    ("80,U:161", False, "T:80,102,502,20000,44818"),                 # no UDP scan: no U: items
    ("T:80,U:47808,T:8080", True, "T:80,8080,102,502,20000,44818,U:47808"),
])
def test_ot_port_spec(ports: str | None, udp: bool, spec: str) -> None:
    from scanner.collect.nmap import ot_port_spec, valid_ports

    assert ot_port_spec(ports, udp) == spec
    assert valid_ports(spec)


def test_the_live_demo_scans_the_lab_with_ot(cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """`cityscan demo` shows the lab's OT devices: its scan inside the lab runs with --ot."""
    from scanner.cli import scan
    from scanner.lab.lab import LabState

    seen: list[list[str]] = []
    monkeypatch.setenv(scan.LAB_PASSWORD_ENV, "")  # the demo sets it; undone after the test
    monkeypatch.setattr(scan.os, "geteuid", lambda: 0)
    monkeypatch.setattr(scan.lab_mod, "up", lambda: LabState("x", "x-scan", []))
    monkeypatch.setattr(scan.lab_mod, "down", lambda: [])
    monkeypatch.setattr(scan.lab_mod, "exec_in_scanner", lambda argv: seen.append(argv) or 0)
    monkeypatch.setattr(scan.shutil, "which", lambda name: None)
    assert cli("demo").code == 0
    [argv] = seen
    assert "--ot" in argv and argv[argv.index("scan") + 1] == "198.51.100.0/24"
