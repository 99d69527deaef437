"""The hostile lab: devices built to hurt scanners. cityscan must finish, lose nothing and say what happened."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from conftest import ROOT, lab_available

from scanner.config import load_config
from scanner.lab.devices import load_devices
from scanner.lab.lab import LAB_NETWORK

pytestmark = pytest.mark.lab
CONFIG = ROOT / "sample_configs" / "scan-lab.yaml"
SPECS = {d.ip: d for d in load_devices()}
EXPECTED_BEHAVIOUR = {
    "hostile-stall": ["http 80 GET /: no answer within", "rtsp 554 OPTIONS: no answer within"],
    "hostile-drip": ["answer still incomplete", "dripping"],
    "hostile-endless": ["truncated (an endless body?)"],
    "hostile-headers": ["response headers larger than"],
    "hostile-xml": ["onvif 80: refused unsafe XML", "upnp description: refused unsafe XML"],
    "hostile-redirect": ["redirect loop", "another host: not followed"],
    "hostile-snmp-tls": ["malformed SNMP answer", "certificate expired", "oversized certificate"],
}


@pytest.fixture(scope="module")
def hostile_scan(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict, str, float]]:  # type: ignore[type-arg]
    reason = lab_available()
    if reason:
        pytest.skip(reason)
    from scanner.lab import lab

    prefix = f"csh{os.getpid() % 1000}"  # unique: two test runs must not share a lab
    state = lab.up(prefix=prefix, hostile=True)
    out = tmp_path_factory.mktemp("hostile") / "scan.json"
    try:
        started = time.monotonic()
        proc = subprocess.run(["ip", "netns", "exec", state.scanner_ns, sys.executable, "-m", "scanner.cli", "scan",
                               LAB_NETWORK, "--config", str(CONFIG), "--format", "json", "--output", str(out),
                               "--fail-on", "none", "--ot"],  # the OT devices too: every normal device identified
                              capture_output=True, text=True, timeout=900)
        elapsed = time.monotonic() - started
        assert proc.returncode == 0, proc.stderr
        table = subprocess.run([sys.executable, "-m", "scanner.cli", "report", str(out), "--fail-on", "none"],
                               capture_output=True, text=True).stdout
        yield json.loads(out.read_text()), table, elapsed
    finally:
        lab.down(prefix)


def test_finishes_within_its_configured_timeouts(hostile_scan) -> None:  # type: ignore[no-untyped-def]
    _, _, elapsed = hostile_scan
    cfg = load_config(CONFIG)
    # nmap's per-host timeout, plus for one device (they are probed in parallel) every probe
    # timing out: GET /, RTSP, a banner, ONVIF, TLS, SNMP and SSDP.
    bound = cfg.timing.host_timeout + cfg.timing.probe_timeout * 7 + 30
    assert elapsed < bound, f"hostile scan took {elapsed:.0f} s (bound {bound:.0f} s)"


def test_normal_devices_are_identified_as_before(hostile_scan) -> None:  # type: ignore[no-untyped-def]
    doc, _, _ = hostile_scan
    by_ip = {d["ip"]: d for d in doc["devices"]}
    for ip, spec in SPECS.items():
        if spec.hostile:
            continue
        got = by_ip[ip]
        assert (got["vendor"], got["model"], got["firmware"]) == (
            spec.expect.get("vendor"), spec.expect.get("model"), spec.expect.get("firmware")), spec.name


@pytest.mark.parametrize("name", sorted(EXPECTED_BEHAVIOUR))
def test_each_hostile_behaviour_is_reported(hostile_scan, name: str) -> None:  # type: ignore[no-untyped-def]
    doc, _, _ = hostile_scan
    ip = next(ip for ip, s in SPECS.items() if s.name == name)
    messages = " | ".join(e["message"] for e in doc["errors"] if e["target"] == ip)
    for expected in EXPECTED_BEHAVIOUR[name]:
        assert expected in messages, f"{name}: {expected!r} not in {messages!r}"
    device = next(d for d in doc["devices"] if d["ip"] == ip)
    assert device["vendor"] is None  # nothing useful: not guessed


def test_report_strings_from_devices_are_defused(hostile_scan) -> None:  # type: ignore[no-untyped-def]
    doc, table, _ = hostile_scan
    strings = next(d for d in doc["devices"] if d["ip"] == "198.51.100.206")
    assert strings["vendor"] == "Hikvision" and strings["model"].startswith("=HYPERLINK")
    assert "\x1b" in strings["firmware"]  # kept as data in JSON (escaped by the encoder) ...
    assert "\x1b" not in table and "\x07" not in table  # ... but never reaches a terminal raw
    assert "\\x1b[31m" in table
    banner = next(o for o in strings["observations"] if o["field"] == "ssh.banner")
    assert "\\xfd" in banner["value"] and "\\xff" in banner["value"]  # invalid UTF-8 kept visible
