"""Each rule: a hit, a near miss, and its parameters. Every finding carries evidence and a reference."""

from __future__ import annotations

from pathlib import Path

from helpers import HIKVISION_DEVICEINFO, device, http, policy, result

from scanner.judge.evaluate import evaluate
from scanner.model import Destination, Device, Service
from scanner.pipeline import identify


def run(tmp_path: Path, rules: str, devices: list[Device], destinations: list[Destination] = ()) -> list:  # type: ignore[assignment,type-arg]
    res = result(devices, list(destinations))
    for dev in res.devices:
        if dev.vendor is None:  # devices given with an identity keep it
            identify(result([dev]))
    findings = evaluate(res, policy(tmp_path, "name: t\nrules:\n" + rules)).findings
    for f in findings:
        assert f.evidence, f"{f.rule} without evidence"
        if f.rule == "banned-vendor" and not f.references:  # no law cited: the finding says it is a choice
            assert any("procurement choice" in e.detail for e in f.evidence), f.evidence
            continue
        assert f.references and f.references[0].url.startswith("http"), f"{f.rule} without a reference"
    return findings


def hik(ip: str = "198.51.100.11", mac: str | None = None) -> Device:
    return device(ip, mac, [("http.body", HIKVISION_DEVICEINFO, "/ISAPI/System/deviceInfo")])


# banned-vendor ------------------------------------------------------------------------------

def test_banned_vendor_hit_on_identified_vendor(tmp_path: Path) -> None:
    found = run(tmp_path, "  banned-vendor: {vendors: [Hikvision]}\n", [hik()])
    assert [(f.rule, f.device_ip, f.severity) for f in found] == [("banned-vendor", "198.51.100.11", "high")]
    assert "fingerprint hikvision-isapi-deviceinfo-camera" in found[0].evidence[0].detail


def test_banned_vendor_near_miss(tmp_path: Path) -> None:
    assert run(tmp_path, "  banned-vendor: {vendors: [Dahua]}\n", [hik()]) == []


def test_banned_vendor_covers_subsidiaries_and_oem_brands_unless_disabled(tmp_path: Path) -> None:
    ezviz = device("198.51.100.21", "58:8f:cf:00:00:01")  # OUI registered to Hangzhou Ezviz Software
    lts = device("198.51.100.22", "14:2f:fd:00:00:01")    # OUI registered to LT Security (Hikvision OEM)
    found = run(tmp_path, "  banned-vendor: {vendors: [Hikvision]}\n", [ezviz, lts])
    assert [f.device_ip for f in found] == ["198.51.100.21", "198.51.100.22"]
    assert "EZVIZ is a subsidiary of Hikvision" in found[0].message
    assert "an OEM brand of Hikvision" in found[1].message
    assert run(tmp_path, "  banned-vendor: {vendors: [Hikvision], include_related: false, match_oui: false}\n",
               [ezviz, lts]) == []


def test_banned_vendor_nic_in_other_hardware_is_reported_when_match_oui(tmp_path: Path) -> None:
    # Axis firmware answers, but the NIC is registered to Hikvision.
    axis_body = ("root.Brand.Brand=AXIS\nroot.Brand.ProdFullName=AXIS M1065-LW Network Camera\n"
                 "root.Brand.ProdNbr=M1065-LW\nroot.Brand.ProdShortName=AXIS M1065-LW\n"
                 "root.Brand.ProdType=Network Camera\nroot.Brand.ProdVariant=\nroot.Brand.WebURL=http://www.axis.com\n")
    dev = device("198.51.100.30", "44:19:b6:00:00:09",
                 [("http.body", axis_body, "/axis-cgi/param.cgi?action=list&group=root.Brand")])
    found = run(tmp_path, "  banned-vendor: {vendors: [Hikvision]}\n", [dev])
    assert found and "network interface is registered to" in found[0].message
    assert run(tmp_path, "  banned-vendor: {vendors: [Hikvision], match_oui: false}\n", [dev]) == []


# wifi-tracking / biometric ------------------------------------------------------------------

def test_wifi_tracking_by_capability_and_class(tmp_path: Path) -> None:
    tracker = Device("198.51.100.40", vendor="X", device_class="people-counter", capabilities=["wifi-probe-capture"])
    counter = Device("198.51.100.41", vendor="X", device_class="people-counter", capabilities=["people-counting"])
    found = run(tmp_path, "  wifi-tracking: {}\n", [tracker, counter])
    assert [f.device_ip for f in found] == ["198.51.100.40"]
    found = run(tmp_path, "  wifi-tracking: {capabilities: [people-counting], device_classes: []}\n", [tracker, counter])
    assert [f.device_ip for f in found] == ["198.51.100.41"]


def test_biometric_identification(tmp_path: Path) -> None:
    face = Device("198.51.100.41", vendor="X", model="F1", device_class="camera",
                  capabilities=["video", "face-recognition"], confidence=0.9)
    capture = Device("198.51.100.44", vendor="X", model="C1", device_class="camera", capabilities=["face-capture"])
    anpr = Device("198.51.100.42", vendor="X", model="A1", device_class="camera",
                  capabilities=["video", "licence-plate-recognition"])
    detect = Device("198.51.100.43", vendor="X", model="D1", device_class="camera",
                    capabilities=["video", "face-detection", "people-counting"])
    found = run(tmp_path, "  biometric-identification: {severity: critical}\n", [face, capture, anpr, detect])
    # face recognition at the policy's severity; face capture asks for review; plates and detection: no
    assert [(f.device_ip, f.severity) for f in found] == [("198.51.100.41", "critical"), ("198.51.100.44", "medium")]
    assert all(e.kind for f in found for e in f.evidence) and found[0].confidence
    assert "supported" in found[0].message and "not read" in found[0].message


def test_licence_plates_are_anpr_not_biometric(tmp_path: Path) -> None:
    anpr = Device("198.51.100.42", vendor="X", model="A1", device_class="camera",
                  capabilities=["licence-plate-recognition"], capability_status={"licence-plate-recognition": "enabled"})
    off = Device("198.51.100.45", vendor="X", model="A2", device_class="camera",
                 capabilities=["licence-plate-recognition"], capability_status={"licence-plate-recognition": "disabled"})
    found = run(tmp_path, "  anpr: {}\n", [anpr, off])
    assert [(f.rule, f.device_ip, f.severity) for f in found] == [("anpr", "198.51.100.42", "medium")]
    assert "read it switched on" in found[0].message
    assert run(tmp_path, "  biometric-identification: {}\n", [anpr]) == []


# outdated-firmware --------------------------------------------------------------------------

def test_outdated_firmware_against_policy_minimum(tmp_path: Path) -> None:
    rules = "  outdated-firmware:\n    minimums:\n      - {vendor: Hikvision, model_pattern: '^DS-2CD', version: V5.7.16}\n"
    found = run(tmp_path, rules, [hik()])
    assert found and "V5.7.15" in found[0].message and "V5.7.16" in found[0].message
    near = "  outdated-firmware:\n    minimums:\n      - {vendor: Hikvision, model_pattern: '^DS-2CD', version: V5.7.15}\n"
    assert run(tmp_path, near, [hik()]) == []
    other_model = "  outdated-firmware:\n    minimums:\n      - {vendor: Hikvision, model_pattern: '^DS-7', version: V9}\n"
    assert run(tmp_path, other_model, [hik()]) == []


# unidentified-device / cleartext-management -------------------------------------------------

def test_unidentified_device_and_ignore(tmp_path: Path) -> None:
    silent = device("198.51.100.49", "02:00:5e:10:00:01", services=[Service(8000, "tcp")])
    found = run(tmp_path, "  unidentified-device: {}\n", [silent, hik()])
    assert [f.device_ip for f in found] == ["198.51.100.49"] and "8000/tcp" in found[0].message
    assert run(tmp_path, "  unidentified-device: {ignore: [198.51.100.48/30]}\n", [silent]) == []


def test_cleartext_management(tmp_path: Path) -> None:
    dev = hik()
    dev.services = [http(80), Service(23, "tcp", "telnet", method="probed"), Service(443, "tcp", "https"),
                    Service(8000, "tcp", "http-alt", method="table")]
    found = run(tmp_path, "  cleartext-management: {}\n", [dev])
    # 8000 is only nmap's guess from the port number: nothing proved it speaks HTTP.
    assert sorted(f.message.split(" offers ")[1] for f in found) == ["Telnet on 23/tcp", "plain HTTP on 80/tcp"]
    assert len(run(tmp_path, "  cleartext-management: {services: [telnet]}\n", [dev])) == 1
    # One device, two services: two findings that waivers, diffs and SARIF can tell apart.
    assert sorted(f.port for f in found) == [23, 80] and len({f.id for f in found}) == 2


# destinations -------------------------------------------------------------------------------

def dest(country: str | None, jurisdictions: list[str], host: str = "cloud.example") -> Destination:
    return Destination("198.51.100.11", host=host, ip="203.0.113.9", port=443, transport="tcp", country=country,
                       company="Example Cloud", parent_company="Example Corp", jurisdictions=jurisdictions,
                       sources=["test"])


def test_data_outside_eea(tmp_path: Path) -> None:
    dests = [dest("CN", ["CN"]), dest("DE", ["DE", "US"]), dest("JP", ["JP"]), dest("US", ["US"]), dest(None, [])]
    found = run(tmp_path, "  data-outside-eea: {}\n", [hik()], dests)
    assert sorted(f.destination["country"] for f in found) == ["CN", "US"]  # JP adequate, US only partially
    found = run(tmp_path, "  data-outside-eea: {accept_adequacy: [all, US]}\n", [hik()], dests)
    assert [f.destination["country"] for f in found] == ["CN"]
    found = run(tmp_path, "  data-outside-eea: {accept_adequacy: []}\n", [hik()], dests)
    assert sorted(f.destination["country"] for f in found) == ["CN", "JP", "US"]


def test_foreign_jurisdiction_reaches_eu_servers_of_foreign_parents(tmp_path: Path) -> None:
    dests = [dest("DE", ["DE", "US"], "eu.cloud.example"), dest("NL", ["NL"], "local.example"), dest("IE", ["IE", "CN"])]
    found = run(tmp_path, "  foreign-jurisdiction: {}\n", [hik()], dests)
    assert sorted(f.destination["host"] for f in found) == ["cloud.example", "eu.cloud.example"]
    assert any("CLOUD Act" in f.message for f in found)
    found = run(tmp_path, "  foreign-jurisdiction: {laws: [prc-national-intelligence-law]}\n", [hik()], dests)
    assert [f.destination["jurisdictions"] for f in found] == [["IE", "CN"]]
