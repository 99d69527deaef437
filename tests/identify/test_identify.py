from __future__ import annotations

from helpers import HIKVISION_DEVICEINFO, device, result

from scanner.identify import identify_device, oui_org
from scanner.pipeline import identify


def test_vendor_endpoint_gives_vendor_model_firmware_class() -> None:
    dev = identify_device(device(observations=[("http.body", HIKVISION_DEVICEINFO, "/ISAPI/System/deviceInfo")]))
    assert (dev.vendor, dev.model, dev.firmware, dev.device_class) == ("Hikvision", "DS-2CD2386G2-IU", "V5.7.15", "camera")
    assert "video" in dev.capabilities
    assert any("hikvision-isapi-deviceinfo-camera" in e.detail and "fingerprints/hikvision.yaml:" in e.detail
               for e in dev.evidence)


def test_same_body_on_another_path_does_not_count() -> None:
    dev = identify_device(device(observations=[("http.body", HIKVISION_DEVICEINFO, "/index.html")]))
    assert dev.vendor is None and dev.device_class == "unknown"


def test_relabelled_oem_hardware_is_the_firmware_vendor() -> None:
    # An Axis-registered NIC in a device whose firmware answers Hikvision's ISAPI: a Hikvision camera.
    dev = identify_device(device(mac="ac:cc:8e:01:23:45",
                                 observations=[("http.body", HIKVISION_DEVICEINFO, "/ISAPI/System/deviceInfo")]))
    assert oui_org("ac:cc:8e:01:23:45") == "Axis Communications AB"
    assert dev.vendor == "Hikvision"
    assert any("said Axis" in e.detail and "OEM" in e.detail for e in dev.evidence)


def test_mac_oui_alone_names_the_vendor_but_not_the_class() -> None:
    dev = identify_device(device(mac="44:19:b6:12:34:56"))
    assert dev.vendor == "Hikvision" and dev.model is None and dev.device_class == "unknown"
    assert dev.confidence is not None and dev.confidence < 0.9


def test_too_little_evidence_is_unknown_not_a_guess() -> None:
    dev = identify_device(device(mac="02:00:5e:10:00:01", observations=[
        ("ssh.banner", "SSH-2.0-OpenSSH_8.4p1 Debian-5+deb11u1", None), ("http.server", "nginx/1.18.0", "/")]))
    assert (dev.vendor, dev.model, dev.firmware, dev.device_class) == (None, None, None, "unknown")
    assert any(e.detail.startswith("not identified") and "ssh.banner" in e.detail for e in dev.evidence)


def test_identification_is_repeatable() -> None:
    dev = device(mac="44:19:b6:12:34:56", observations=[("http.body", HIKVISION_DEVICEINFO, "/ISAPI/System/deviceInfo")])
    once = identify(result([dev])).devices[0].to_dict()
    assert identify(result([dev])).devices[0].to_dict() == once  # a second run changes nothing
