"""The systemd service and timer: read as systemd reads them (repeated keys kept), the sandbox and
the capabilities they promise, the scan's exit 1 tolerated and 2/3 not (the ExecStart line run
with a stand-in for cityscan), `systemd-analyze verify` and `security` where systemd is installed."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from deploy_helpers import ROOT, cityscan_calls, subcommands, unknown_options

SERVICE = ROOT / "deploy" / "systemd" / "cityscan.service"
TIMER = ROOT / "deploy" / "systemd" / "cityscan.timer"
MAX_EXPOSURE = 3.0  # systemd-analyze security: 0 (locked down) .. 10 (unprotected); this unit scores 1.9


def parse_unit(text: str, name: str = "unit") -> dict[str, list[tuple[str, str]]]:
    """Sections and their (key, value) lines in order; systemd allows repeated keys (ExecStart=)."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
        elif "=" in line and current is not None:
            key, _, value = line.partition("=")
            current.append((key.strip(), value.strip()))
        else:
            raise ValueError(f"{name}:{number}: not a section header or key=value line: {line[:60]!r}")
    return sections


def values(unit: dict[str, list[tuple[str, str]]], section: str, key: str) -> list[str]:
    return [v for k, v in unit.get(section, []) if k == key]


def service_problems(text: str) -> list[str]:
    """What the service does not promise, by issue 20's list; empty when it promises all."""
    unit = parse_unit(text, "cityscan.service")
    found = []

    def one(key: str) -> str | None:
        got = values(unit, "Service", key)
        return got[-1] if got else None

    required = {"Type": "oneshot", "ProtectSystem": "strict", "StateDirectory": "cityscan", "PrivateTmp": "yes",
                "NoNewPrivileges": "yes", "ProtectHome": "yes"}
    for key, expected in required.items():
        if one(key) != expected:
            found.append(f"{key}={one(key)}, expected {expected}")
    if one("DynamicUser") != "yes" and one("User") in (None, "root", "0"):
        found.append("runs as root: neither DynamicUser=yes nor a User=")
    ambient = set((one("AmbientCapabilities") or "").split())
    bounding = set((one("CapabilityBoundingSet") or "").split())
    if "CAP_NET_RAW" not in ambient:
        found.append("AmbientCapabilities lacks CAP_NET_RAW: nmap gets no raw sockets")
    if not ambient <= {"CAP_NET_RAW", "CAP_NET_ADMIN"}:
        found.append(f"AmbientCapabilities grants {sorted(ambient - {'CAP_NET_RAW', 'CAP_NET_ADMIN'})}")
    if not bounding or bounding.isdisjoint({"CAP_NET_RAW"}) or not bounding <= {"CAP_NET_RAW", "CAP_NET_ADMIN"}:
        found.append(f"CapabilityBoundingSet={' '.join(sorted(bounding))}: not limited to the network capabilities")
    families = set((one("RestrictAddressFamilies") or "").split())
    if not families or any(f.startswith("~") for f in families):
        found.append("RestrictAddressFamilies is not an allow-list")
    elif not {"AF_INET", "AF_INET6", "AF_PACKET"} <= families:
        found.append("RestrictAddressFamilies misses what nmap needs (AF_INET, AF_INET6, AF_PACKET for ARP)")
    env = dict(v.split("=", 1) for v in values(unit, "Service", "Environment"))
    if env.get("NMAP_PRIVILEGED") != "1":
        found.append("NMAP_PRIVILEGED=1 missing: nmap would not use its capability")
    if not env.get("CITYSCAN_STORE", "").startswith("%S/cityscan/"):
        found.append("CITYSCAN_STORE is not in the state directory")
    starts = values(unit, "Service", "ExecStart")
    if not starts or "cityscan scan" not in starts[0]:
        found.append("the first ExecStart is not the scan")
    elif "-le 1" not in starts[0]:
        found.append("the scan's exit 1 (findings) would fail the unit")
    return found


def test_service_promises() -> None:
    assert service_problems(SERVICE.read_text()) == []


@pytest.mark.parametrize(("change", "expected"), [
    (("DynamicUser=yes\n", ""), "runs as root"),
    (("AmbientCapabilities=CAP_NET_RAW", "AmbientCapabilities=CAP_NET_RAW CAP_SYS_ADMIN"), "grants ['CAP_SYS_ADMIN']"),
    (("CapabilityBoundingSet=CAP_NET_RAW", "CapabilityBoundingSet=~CAP_SYS_ADMIN"), "not limited"),
    (("ProtectSystem=strict", "ProtectSystem=full"), "ProtectSystem=full"),
    (("NoNewPrivileges=yes", "NoNewPrivileges=no"), "NoNewPrivileges=no"),
    (("PrivateTmp=yes\n", ""), "PrivateTmp=None"),
    (("AF_NETLINK AF_PACKET", "AF_NETLINK"), "AF_PACKET"),
    (("Environment=NMAP_PRIVILEGED=1\n", ""), "NMAP_PRIVILEGED"),
    (("; [ $$? -le 1 ]", ""), "exit 1"),
])
def test_each_missing_promise_is_caught(change: tuple[str, str], expected: str) -> None:
    text = SERVICE.read_text()
    assert change[0] in text, change[0]
    found = service_problems(text.replace(change[0], change[1], 1))
    assert any(expected in p for p in found), found


def test_a_garbled_unit_is_refused() -> None:
    with pytest.raises(ValueError, match=r"cityscan.service:2: not a section header"):
        parse_unit("[Service]\nExecStart /bin/true\n", "cityscan.service")


def _exec_line(tmp_path: Path, scan_exit: int) -> int:
    """Run the service's first ExecStart as systemd would, with a stand-in cityscan that exits
    SCAN_EXIT: the unit's result is what this returns."""
    line = values(parse_unit(SERVICE.read_text()), "Service", "ExecStart")[0]
    line = line.replace("%S", str(tmp_path)).replace("$$", "$")  # systemd's specifier and $ escape
    stub = tmp_path / "cityscan"
    stub.write_text(f"#!/bin/sh\nexit {scan_exit}\n")
    stub.chmod(stub.stat().st_mode | stat.S_IXUSR)
    argv = shlex.split(line)
    argv = [a.replace("/opt/cityscan/bin/cityscan", str(stub)) for a in argv]
    return subprocess.run(argv, timeout=30).returncode


@pytest.mark.parametrize(("scan_exit", "unit_fails"), [(0, False), (1, False), (2, True), (3, True), (143, True)])
def test_findings_do_not_fail_the_unit_but_a_failed_scan_does(tmp_path: Path, scan_exit: int, unit_fails: bool) -> None:
    assert (_exec_line(tmp_path, scan_exit) != 0) == unit_fails


def test_exec_lines_use_options_cityscan_has() -> None:
    unit = parse_unit(SERVICE.read_text())
    calls = [c for line in values(unit, "Service", "ExecStart") for c in cityscan_calls(line)]
    assert [sub for sub, _ in calls] == ["scan", "diff"]
    for sub, words in calls:
        assert sub in subcommands()
        assert unknown_options(sub, words) == [], (sub, words)


def test_timer() -> None:
    timer = parse_unit(TIMER.read_text(), "cityscan.timer")
    assert values(timer, "Install", "WantedBy") == ["timers.target"]
    assert values(timer, "Timer", "Persistent") == ["true"]
    assert values(timer, "Timer", "Unit") in ([], ["cityscan.service"])  # default: the service of the same name
    calendar = values(timer, "Timer", "OnCalendar")
    assert len(calendar) == 1
    if shutil.which("systemd-analyze"):
        proc = subprocess.run(["systemd-analyze", "calendar", calendar[0]], capture_output=True, text=True, timeout=30)
        assert proc.returncode == 0, proc.stderr


def _analyze() -> str:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed (Debian package systemd)")
    return tool


def _verify(tool: str, *units: Path) -> tuple[int, list[str]]:
    proc = subprocess.run([tool, "verify", *map(str, units)], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "SYSTEMD_LOG_COLOR": "0"})
    lines = [line for line in (proc.stdout + proc.stderr).splitlines() if line.strip()]
    # Our ExecStart binary need not exist on the test machine: everything else counts.
    lines = [line for line in lines if "/opt/cityscan/bin/cityscan" not in line]
    return proc.returncode, lines


def test_systemd_analyze_verify() -> None:
    tool = _analyze()
    code, lines = _verify(tool, SERVICE, TIMER)
    assert lines == [] and code == 0, lines


def test_systemd_analyze_verify_catches_a_bad_key(tmp_path: Path) -> None:
    """The near miss: one misspelt key, and verify says so (so the clean result above means something)."""
    tool = _analyze()
    bad = tmp_path / "cityscan.service"
    bad.write_text(SERVICE.read_text().replace("ProtectSystem=strict", "ProtectSytem=strict"))
    shutil.copy(TIMER, tmp_path / "cityscan.timer")
    _, lines = _verify(tool, bad, tmp_path / "cityscan.timer")
    assert any("ProtectSytem" in line for line in lines), lines


def test_systemd_analyze_security() -> None:
    """The exposure score systemd gives the unit, printed, and held below MAX_EXPOSURE."""
    tool = _analyze()
    proc = subprocess.run([tool, "security", "--offline=true", "--no-pager", str(SERVICE)],
                          capture_output=True, text=True, timeout=120)
    if "--offline" in proc.stderr and "unrecognized" in proc.stderr:
        pytest.skip("this systemd-analyze has no --offline (systemd < 252)")
    match = re.search(r"Overall exposure level for cityscan\.service: (\d+(?:\.\d+)?)", proc.stdout)
    assert match, proc.stdout[-1000:] + proc.stderr[-1000:]
    print(f"\nsystemd-analyze security: exposure {match.group(1)} (0 = locked down, 10 = unprotected)")
    assert float(match.group(1)) <= MAX_EXPOSURE, proc.stdout
