"""Scheduled scans against the real lab: what changed between two scans, and a stopped scan kept.

Each test builds its own small lab (own namespace prefix), changes it or stops a scan in it, and
takes it down again; root only, like every lab test.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from conftest import lab_available

from scanner.history.store import Store
from scanner.knowledge.paths import sample_configs_dir
from scanner.lab import lab
from scanner.lab.devices import DeviceSpec, load_device, load_devices
from scanner.lab.lab import LAB_NETWORK

pytestmark = pytest.mark.lab
SPECS = {s.name: s for s in load_devices()}


@pytest.fixture
def lab_prefix() -> str:
    reason = lab_available()
    if reason:
        pytest.skip(reason)
    return f"csd{os.getpid() % 1000}"


def scan_argv(state: lab.LabState, store: Path, *extra: str) -> list[str]:
    return ["ip", "netns", "exec", state.scanner_ns, sys.executable, "-m", "scanner.cli", "scan", LAB_NETWORK,
            "--config", str(sample_configs_dir() / "scan-lab.yaml"), "--store", str(store), "--fail-on", "none",
            "--quiet", *extra]


def bumped(spec: DeviceSpec, old: str, new: str, tmp_path: Path) -> DeviceSpec:
    """The same device after a firmware update: every place its firmware version shows."""
    path = tmp_path / Path(spec.file).name
    text = Path(spec.file).read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    return load_device(path)


def test_diff_across_two_lab_scans_where_the_lab_changed(lab_prefix: str, tmp_path: Path) -> None:
    store = tmp_path / "scans.db"
    axis, hik, dahua = SPECS["axis-camera"], SPECS["hikvision-camera"], SPECS["dahua-camera"]
    old_fw = str(axis.expect["firmware"])
    try:
        state = lab.up(devices=[axis, hik], prefix=lab_prefix)
        first = subprocess.run(scan_argv(state, store, "--capture", "eth0", "--capture-seconds", "12"),
                               capture_output=True, text=True, timeout=300)
        assert first.returncode == 0, first.stderr
        # A week later: Axis updated its camera, a Dahua camera was added (and talks to its cloud).
        state = lab.up(devices=[bumped(axis, old_fw, "9.80.3", tmp_path), hik, dahua], prefix=lab_prefix)
        second = subprocess.run(scan_argv(state, store, "--capture", "eth0", "--capture-seconds", "12"),
                                capture_output=True, text=True, timeout=300)
        assert second.returncode == 0, second.stderr
    finally:
        lab.down(lab_prefix)
    proc = subprocess.run([sys.executable, "-m", "scanner.cli", "diff", "--store", str(store), "--format", "json",
                           "--fail-on-new", "high"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1, proc.stderr  # a banned vendor's camera is new: exit 1 for the alert
    changes = json.loads(proc.stdout)
    assert [d["ip"] for d in changes["new_devices"]] == [dahua.ip]
    assert changes["new_devices"][0]["vendor"] == "Dahua"
    assert [(c["ip"], [(x["field"], x["old"], x["new"]) for x in c["changes"]]) for c in changes["identity_changes"]] \
        == [(axis.ip, [("firmware", old_fw, "9.80.3")])]
    new_dests = {(d["device_ip"], d["host"]) for d in changes["new_destinations"] if d["ip"]}
    assert (dahua.ip, "openapi.easy4ip.com") in new_dests  # observed in the capture, named by its DNS answer
    assert {(f["rule"], f["device_ip"]) for f in changes["new_findings"]} >= {("banned-vendor", dahua.ip)}
    assert not changes["gone_devices"]
    # 9.10.1 was below Axis's supported line (firmware.yaml: 9.80); the update resolved that finding
    assert {(f["rule"], f["device_ip"]) for f in changes["resolved_findings"]} == {("outdated-firmware", axis.ip)}


@pytest.mark.parametrize("phase", ["discovering", "capturing"])
def test_sigterm_keeps_a_partial_scan_and_stops_nmap_and_tcpdump(lab_prefix: str, tmp_path: Path, phase: str) -> None:
    """Stopped while nmap runs: nothing found yet, but nmap stops too; stopped while capturing: all is kept."""
    store, out = tmp_path / "scans.db", tmp_path / "partial.json"
    prefix = lab_prefix + "i"
    try:
        state = lab.up(devices=[SPECS["hikvision-camera"], SPECS["axis-camera"]], prefix=prefix)
        argv = [a for a in scan_argv(state, store, "--capture", "eth0", "--capture-seconds", "600", "--verbose",
                                     "--format", "json", "--output", str(out)) if a != "--quiet"]
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        watchdog = threading.Timer(180, proc.kill)
        watchdog.start()
        seen = []
        try:
            assert proc.stderr is not None
            for line in proc.stderr:  # -v: one line per step; wait until the probes are done
                seen.append(line)
                if phase in line:
                    proc.send_signal(signal.SIGTERM)
                    break
            _, rest = proc.communicate(timeout=60)
        finally:
            watchdog.cancel()
        assert proc.returncode == 143, "".join(seen) + rest
        assert "interrupted by SIGTERM" in rest and "partial scan 1 saved" in rest
        left = subprocess.run(["ip", "netns", "pids", state.scanner_ns], capture_output=True, text=True).stdout.split()
        what = subprocess.run(["ps", "-o", "pid,stat,etimes,args", "-p", ",".join(left)], capture_output=True,
                              text=True).stdout if left else ""
        assert left == [], what  # neither nmap nor tcpdump outlives the scan
    finally:
        lab.down(prefix)
    doc = json.loads(out.read_text())  # the report files are written for a partial scan too
    assert doc["scan"]["partial"] is True
    if phase == "discovering":
        assert doc["devices"] == [] and any("SIGTERM" in e["message"] for e in doc["errors"])
        return
    assert {d["ip"]: d["vendor"] for d in doc["devices"]} == {"198.51.100.11": "Hikvision", "198.51.100.14": "Axis"}
    assert any(i["kind"] == "capture" for i in doc["scan"]["inputs"])  # read up to the signal
    with Store(store, readonly=True) as history:
        [summary] = history.list()
        assert summary.partial and summary.devices == 2
        assert history.last_two() is None  # a partial scan is not a base for diff by default
