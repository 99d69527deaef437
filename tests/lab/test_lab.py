"""Integration: real nmap and the real probes against the emulated lab (root only)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from scanner.knowledge.paths import schema_path
from scanner.lab.devices import load_devices
from scanner.lab.lab import LAB_NETWORK

pytestmark = pytest.mark.lab
SPECS = {d.ip: d for d in load_devices() if not d.hostile}


def scan_in_lab(lab, tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict | None]:  # type: ignore[type-arg,no-untyped-def]
    out = tmp_path / "lab.json"
    proc = subprocess.run(["ip", "netns", "exec", lab.scanner_ns, sys.executable, "-m", "scanner.cli", "scan",
                           *args, "--format", "json", "--output", str(out)], capture_output=True, text=True, timeout=600)
    return proc, (json.loads(out.read_text()) if out.exists() else None)


LAB_PORTS = "21,22,23,80,443,554,8000,8080,8443,16113"
OT_PREFIXES = ("s7.", "modbus.", "bacnet.", "enip.")
OT_PORTS = {102, 502, 20000, 44818, 47808}


@pytest.fixture(scope="module")
def lab_scan(lab, tmp_path_factory: pytest.TempPathFactory) -> dict:  # type: ignore[type-arg,no-untyped-def]
    proc, doc = scan_in_lab(lab, tmp_path_factory.mktemp("lab"), LAB_NETWORK, "--policy", "eu-gdpr-baseline",
                            "--ports", LAB_PORTS)
    assert proc.returncode == 1, proc.stderr  # the lab has banned vendors
    assert doc is not None
    return doc


@pytest.fixture(scope="module")
def lab_scan_ot(lab, tmp_path_factory: pytest.TempPathFactory) -> dict:  # type: ignore[type-arg,no-untyped-def]
    """The same scan with --ot: nmap's read-only OT identification scripts ask the lab's OT devices."""
    proc, doc = scan_in_lab(lab, tmp_path_factory.mktemp("lab-ot"), LAB_NETWORK, "--policy", "eu-gdpr-baseline",
                            "--ports", LAB_PORTS, "--ot")
    assert proc.returncode == 1, proc.stderr
    assert doc is not None
    return doc


def test_lab_scan_validates_and_finds_every_device(lab_scan: dict) -> None:  # type: ignore[type-arg]
    jsonschema.validate(lab_scan, json.loads(schema_path().read_text()))
    assert {d["ip"] for d in lab_scan["devices"]} == set(SPECS)


@pytest.mark.parametrize("ip", sorted(ip for ip, s in SPECS.items() if not s.ot), ids=lambda ip: SPECS[ip].name)
def test_each_lab_device_is_identified_as_the_real_device(lab_scan: dict, ip: str) -> None:  # type: ignore[type-arg]
    _identified_as_expected(lab_scan, ip)


@pytest.mark.parametrize("ip", sorted(ip for ip, s in SPECS.items() if s.ot), ids=lambda ip: SPECS[ip].name)
def test_each_ot_lab_device_is_identified_with_ot(lab_scan_ot: dict, ip: str) -> None:  # type: ignore[type-arg]
    """With --ot the OT devices' own identification (s7-info, modbus-discover, bacnet-info, enip-info)
    names their model and firmware; the scan was privileged, so BACnet over UDP was read too."""
    _identified_as_expected(lab_scan_ot, ip)
    device = next(d for d in lab_scan_ot["devices"] if d["ip"] == ip)
    assert any(o["field"].startswith(OT_PREFIXES) and o["probe"].startswith("nmap-script:")
               for o in device["observations"])
    assert {s["port"] for s in device["services"]} & OT_PORTS


@pytest.mark.parametrize("ip", sorted(ip for ip, s in SPECS.items() if s.ot), ids=lambda ip: SPECS[ip].name)
def test_without_ot_the_ot_devices_are_only_seen_not_asked(lab_scan: dict, ip: str) -> None:  # type: ignore[type-arg]
    """A scan that was not allowed to probe control systems is not failed by them: each OT device is
    found (ARP) and named by its MAC address's registrant at most, with no model, no firmware, no OT
    port and nothing an OT protocol said."""
    device = next(d for d in lab_scan["devices"] if d["ip"] == ip)
    assert device["mac"] == SPECS[ip].mac
    assert device["vendor"] in (None, SPECS[ip].expect["vendor"])
    assert device["model"] is None and device["firmware"] is None
    assert not {s["port"] for s in device["services"]} & OT_PORTS
    assert not any(o["field"].startswith(OT_PREFIXES) for o in device["observations"])


def test_lab_scan_with_ot_validates_and_says_what_it_asked(lab_scan_ot: dict) -> None:  # type: ignore[type-arg]
    jsonschema.validate(lab_scan_ot, json.loads(schema_path().read_text()))
    live = next(i for i in lab_scan_ot["scan"]["inputs"] if i["kind"] == "nmap-live")
    assert live["ot"] == "tcp+udp"
    bacnet = next(d for d in lab_scan_ot["devices"] if d["ip"] == "198.51.100.52")
    assert [(s["port"], s["transport"]) for s in bacnet["services"]] == [(47808, "udp")]


def test_with_ot_the_other_devices_are_identified_as_before(lab_scan: dict, lab_scan_ot: dict) -> None:  # type: ignore[type-arg]
    def identities(doc: dict) -> dict:  # type: ignore[type-arg]
        return {d["ip"]: (d["vendor"], d["model"], d["firmware"], d["device_class"]) for d in doc["devices"]
                if not SPECS[d["ip"]].ot}
    assert identities(lab_scan_ot) == identities(lab_scan)


def _identified_as_expected(doc: dict, ip: str) -> None:  # type: ignore[type-arg]
    device = next(d for d in doc["devices"] if d["ip"] == ip)
    expect = SPECS[ip].expect
    got = {k: device[k] for k in ("vendor", "model", "firmware", "device_class")}
    assert got == {k: expect.get(k) for k in got} | {"device_class": expect.get("device_class", "unknown")}
    assert device["mac"] == SPECS[ip].mac
    for cap in expect.get("capabilities") or []:
        assert cap in device["capabilities"]
    if device["vendor"]:
        assert any(e["detail"].startswith("fingerprint ") for e in device["evidence"])


def test_lab_findings(lab_scan: dict) -> None:  # type: ignore[type-arg]
    banned = {f["device_ip"] for f in lab_scan["findings"] if f["rule"] == "banned-vendor"}
    expected = {ip for ip, s in SPECS.items() if s.expect.get("vendor") in ("Hikvision", "Dahua", "Huawei", "ZTE")}
    assert banned == expected
    unidentified = {f["device_ip"] for f in lab_scan["findings"] if f["rule"] == "unidentified-device"}
    assert unidentified == {ip for ip, s in SPECS.items() if not s.expect.get("vendor")}


def test_each_banned_use_fires_on_its_device(lab_scan: dict) -> None:  # type: ignore[type-arg]
    """The lab's tracking sensor, location-capable controller and licence-plate camera are each seen,
    with the kind of evidence the finding rests on; the people counter and the access point are not
    trackers (near misses)."""
    by = {(f["rule"], f["device_ip"]): f for f in lab_scan["findings"]}
    tracker = by[("wifi-tracking", "198.51.100.20")]
    assert tracker["severity"] == "high" and {e.get("kind") for e in tracker["evidence"]} == {"identity"}
    controller = by[("wifi-tracking", "198.51.100.21")]
    assert controller["severity"] == "low" and controller["port"] == 16113
    assert any(e.get("kind") == "capability" for e in controller["evidence"])
    assert by[("anpr", "198.51.100.23")]["severity"] == "medium"
    assert not {ip for rule, ip in by if rule == "wifi-tracking"} & {"198.51.100.30", "198.51.100.31"}
    assert ("biometric-identification", "198.51.100.23") not in by  # plates are not biometric
    verdicts = {r["id"]: r["status"] for r in lab_scan["rules"]}
    assert verdicts["wifi-tracking"] == verdicts["anpr"] == "findings"
    assert verdicts["data-outside-eea"] == "not-assessable"  # no traffic given to this scan


def test_authenticated_checks_read_what_the_recorder_can_recognise(lab, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """With the lab's audit account (sample_configs/lab-credentials.yaml), the NVR's own capability
    document shows face comparison and capture: biometric identification, from the device's word."""
    from scanner.knowledge.paths import sample_configs_dir
    from scanner.lab.accounts import LAB_PASSWORD, LAB_PASSWORD_ENV

    monkeypatch.setenv(LAB_PASSWORD_ENV, LAB_PASSWORD)
    proc, doc = scan_in_lab(lab, tmp_path, "198.51.100.11", "198.51.100.12", "--policy", "eu-gdpr-baseline",
                            "--ports", "80", "--credentials", str(sample_configs_dir() / "lab-credentials.yaml"))
    assert doc is not None, proc.stderr
    nvr = next(d for d in doc["devices"] if d["ip"] == "198.51.100.12")
    assert nvr["capability_status"]["face-recognition"] == "supported"
    camera = next(d for d in doc["devices"] if d["ip"] == "198.51.100.11")
    assert "face-recognition" not in camera["capabilities"]
    finding = next(f for f in doc["findings"] if f["rule"] == "biometric-identification")
    assert finding["device_ip"] == "198.51.100.12" and "itself reports" in finding["message"]
    assert LAB_PASSWORD not in json.dumps(doc) and LAB_PASSWORD not in proc.stderr


def test_out_of_scope_target_is_refused_in_the_lab(lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    proc, doc = scan_in_lab(lab, tmp_path, "203.0.113.0/24", "--scope", LAB_NETWORK)
    assert proc.returncode == 2 and doc is None
    assert "outside the scope" in proc.stderr and proc.stderr.count("\n") == 1


def test_scope_narrower_than_targets_is_refused(lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    proc, _ = scan_in_lab(lab, tmp_path, LAB_NETWORK, "--scope", "198.51.100.0/28")
    assert proc.returncode == 2 and "outside the scope" in proc.stderr


def test_lab_exec_and_status(lab) -> None:  # type: ignore[no-untyped-def]
    proc = subprocess.run(["ip", "netns", "exec", lab.scanner_ns, "ip", "route"], capture_output=True, text=True)
    assert "default" not in proc.stdout  # the scanner namespace has no route out of the lab
