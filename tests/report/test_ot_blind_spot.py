"""Reports say when control systems were not asked: a live scan without --ot, or --ot without UDP."""

from __future__ import annotations

from scanner.history.results import load_result
from scanner.knowledge.paths import recorded_scan_path
from scanner.report.common import blind_spots


def _spots(**live: str) -> list[str]:
    result = load_result(str(recorded_scan_path()))
    result.scan.inputs = [{"kind": "nmap-live", "targets": "198.51.100.0/24", "mode": "privileged", **live}]
    return blind_spots(result)


def test_a_live_scan_without_ot_says_control_systems_were_not_asked() -> None:
    assert any(s.startswith("Control systems were not asked (no --ot)") for s in _spots())
    assert not any("--ot" in s or "BACnet" in s for s in _spots(ot="tcp+udp"))
    assert any(s.startswith("BACnet (UDP 47808) was not scanned") for s in _spots(ot="tcp"))


def test_an_import_says_nothing_about_ot() -> None:
    result = load_result(str(recorded_scan_path()))
    result.scan.inputs = [{"kind": "nmap-xml", "path": "x.xml", "nmap_version": "7.93"}]
    assert not any("--ot" in s for s in blind_spots(result))
