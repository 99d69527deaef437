"""Signals that disagree: an OEM's hardware (its MAC OUI) with another maker's firmware (web UI).

The device is reported as the firmware's maker, with the OUI's word kept as evidence and the
reasoning ("outweighed ... OEM NIC"), so a ban on the maker is not escaped by a relabelled NIC;
weak evidence alone never yields a vendor. Real strings: the IEEE registry's entry 14-2F-FD
"LT SECURITY INC" (LTS sells Hikvision OEM cameras) and Hikvision's ISAPI deviceInfo document.
"""

from __future__ import annotations

from pathlib import Path

from helpers import HIKVISION_DEVICEINFO, device, policy, result

from scanner.judge.evaluate import evaluate
from scanner.pipeline import identify

LTS_MAC = "14:2f:fd:12:34:56"   # IEEE MA-L 14-2F-FD: LT SECURITY INC


def test_oem_nic_with_hikvision_firmware_is_hikvision_with_both_and_the_reasoning(tmp_path: Path) -> None:
    camera = device("198.51.100.60", LTS_MAC, [("http.body", HIKVISION_DEVICEINFO, "/ISAPI/System/deviceInfo")])
    identify(result([camera]))
    assert (camera.vendor, camera.model) == ("Hikvision", "DS-2CD2386G2-IU")
    details = [e.detail for e in camera.evidence]
    assert any("matched http.body" in d and "hikvision" in d for d in details)
    assert any("said LTS, outweighed by evidence for Hikvision (hardware relabelled: OEM NIC)" in d for d in details)
    judged = evaluate(result([camera]), policy(tmp_path, "name: ban\nrules:\n  banned-vendor:\n    vendors: [Hikvision]\n"))
    [ban] = [f for f in judged.findings if f.rule == "banned-vendor"]
    assert ban.device_ip == "198.51.100.60" and any("OEM NIC" in e.detail for e in camera.evidence)


def test_the_oem_brand_alone_is_that_brand_and_still_caught_as_related(tmp_path: Path) -> None:
    """Only the OUI speaks: the device is an LTS device (not invented as Hikvision), and a
    Hikvision ban still names it, as an OEM brand of Hikvision."""
    box = device("198.51.100.61", LTS_MAC)
    identify(result([box]))
    assert box.vendor == "LTS" and box.model is None
    judged = evaluate(result([box]), policy(tmp_path, "name: ban\nrules:\n  banned-vendor:\n    vendors: [Hikvision]\n"))
    [ban] = [f for f in judged.findings if f.rule == "banned-vendor"]
    assert "OEM brand of Hikvision" in ban.message or any("OEM brand of Hikvision" in e.detail for e in ban.evidence)


def test_weak_or_generic_evidence_gives_no_vendor() -> None:
    """A generic web server and a title every embedded box could show name no maker."""
    box = device("198.51.100.62", "02:00:00:12:34:56", [("http.server", "lighttpd/1.4.35", None),
                                                      ("http.title", "Login", None)])
    identify(result([box]))
    assert box.vendor is None and box.device_class == "unknown"
    assert any(e.detail.startswith("not identified") for e in box.evidence)
