"""The data model's JSON round trip (the public contract) and finding identity."""

from __future__ import annotations

import json

from scanner.history.results import load_result
from scanner.judge.policy import load_policy
from scanner.knowledge.paths import recorded_scan_path
from scanner.model import Destination, Evidence, Finding, ScanResult
from scanner.pipeline import judge


def full_result() -> ScanResult:
    """The recorded lab scan, judged: devices, services, observations, destinations, findings, errors."""
    result = judge(load_result(str(recorded_scan_path())), load_policy("eu-gdpr-baseline"))
    assert result.devices and result.destinations and result.findings and result.errors
    return result


def test_json_round_trip_is_exact() -> None:
    result = full_result()
    doc = result.to_dict()
    again = ScanResult.from_dict(json.loads(json.dumps(doc))).to_dict()
    assert again == doc
    assert [f["id"] for f in doc["findings"]] == [f.id for f in result.findings]


def test_to_dict_shares_nothing_with_the_model() -> None:
    """A renderer or the store may change the dict it got; the scan result must not change with it."""
    result = full_result()
    before = json.dumps(result.to_dict(), sort_keys=True)
    doc = result.to_dict()
    doc["scan"]["inputs"].append({"kind": "x"})
    doc["scan"]["policy"]["name"] = "changed"
    doc["devices"][0]["services"][0]["port"] = 1
    doc["devices"][0]["capabilities"].append("x")
    doc["destinations"][0]["jurisdictions"].append("XX")
    doc["findings"][0]["references"].append({"title": "x", "url": "x"})
    if doc["findings"][0]["destination"] is not None:
        doc["findings"][0]["destination"]["host"] = "changed"
    assert json.dumps(result.to_dict(), sort_keys=True) == before


def test_unknown_keys_are_ignored_for_forward_compatibility() -> None:
    doc = full_result().to_dict()
    doc["devices"][0]["added_in_a_later_version"] = 1
    doc["findings"][0]["also_new"] = True
    assert ScanResult.from_dict(doc).devices[0].ip == doc["devices"][0]["ip"]


def finding(host: str | None, ip: str | None, port: int | None = None) -> Finding:
    return Finding("data-outside-eea", "high", "t", "198.51.100.11", "m",
                   destination={"host": host, "ip": ip, "port": 443}, port=port)


def test_finding_id_follows_the_host_name_not_its_current_address() -> None:
    assert finding("api.hik-connect.com", "203.0.113.100").id == finding("API.hik-connect.com.", "203.0.113.7").id
    assert finding(None, "203.0.113.100").id != finding(None, "203.0.113.7").id
    assert finding("a.example", None).id != finding("b.example", None).id
    assert finding("a.example", None, port=23).id != finding("a.example", None, port=80).id
    assert Finding.from_dict(finding("a.example", None, port=23).to_dict()).port == 23


def test_destination_evidence_round_trip() -> None:
    dest = Destination("198.51.100.11", host="h", evidence=[Evidence("flows", "x")], sources=["flows"])
    assert Destination.from_dict(json.loads(json.dumps(dest.to_dict()))) == dest


def test_every_class_and_capability_is_defined_in_the_docs_and_the_schema() -> None:
    import json

    from conftest import ROOT

    from scanner.knowledge.paths import schema_path
    from scanner.model.vocabulary import (
        CAPABILITY_DEFINITIONS,
        CLASS_DEFINITIONS,
        DEVICE_CLASSES,
    )

    docs = (ROOT / "docs" / "data-formats.md").read_text()
    for name, definition in [*CLASS_DEFINITIONS.items(), *CAPABILITY_DEFINITIONS.items()]:
        assert f"| `{name}` | {definition} |" in docs, name
    schema = json.loads(schema_path().read_text())
    assert schema["$defs"]["device"]["properties"]["device_class"]["enum"] == list(DEVICE_CLASSES)
