"""Transfer rules graded by location, operator, adequacy, DPF and kind of traffic (issue 16).

Destinations are resolved from the shipped snapshots (cloud ranges, anycast list, DB-IP), so
these tests exercise the real data path. Public addresses are data only: nothing connects.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from helpers import device, policy, result

from scanner.errors import InputError
from scanner.judge.evaluate import evaluate
from scanner.knowledge.freshness import stale
from scanner.model import Destination, Finding, ScanResult
from scanner.pipeline import resolve

AWS_FRANKFURT = "52.28.0.10"
AWS_VIRGINIA = "52.95.245.1"
AWS_TOKYO = "3.2.39.10"        # AWS ap-northeast-1
AWS_ZURICH = "3.2.43.70"       # AWS eu-central-2
AWS_LONDON = "3.2.38.10"       # AWS eu-west-2
AWS_SINGAPORE = "3.0.0.10"     # AWS ap-southeast-1: no adequacy decision
TELIA_NORWAY = "84.208.0.1"    # DB-IP: NO
MILA_ICELAND = "157.157.1.1"   # DB-IP: IS
SPEEDCOM_LI = "5.34.248.1"     # DB-IP: LI
CAMERA = "198.51.100.11"


def dest(ip: str, port: int = 443, transport: str = "tcp", host: str | None = None, **kw: object) -> Destination:
    return Destination(CAMERA, host=host, ip=ip, port=port, transport=transport, sources=["flows"],
                       traffic={"connections": 12, "bytes": 48_000, "first_seen": "2026-11-20T02:00:00Z",
                                "last_seen": "2026-11-21T01:59:00Z"}, **kw)  # type: ignore[arg-type]


def judged(tmp_path: Path, rules: str, *dests: Destination, data: list[dict[str, str]] | None = None) -> list[Finding]:
    res: ScanResult = resolve(result([device(CAMERA)], list(dests)))
    res.scan.data = data or []
    found = evaluate(res, policy(tmp_path, "name: t\nrules:\n" + rules)).findings
    for f in found:
        assert f.evidence and f.references
    return found


def test_eu_region_of_a_us_cloud_is_foreign_jurisdiction_not_a_transfer(tmp_path: Path) -> None:
    found = judged(tmp_path, "  data-outside-eea: {}\n  foreign-jurisdiction: {}\n", dest(AWS_FRANKFURT))
    assert [f.rule for f in found] == ["foreign-jurisdiction"]
    assert found[0].destination and found[0].destination["country"] == "DE"
    assert "even though the server is in the EEA" in found[0].message and "CLOUD Act" in found[0].message
    assert any("registered in US" in e.detail for e in found[0].evidence)


def test_us_region_is_a_transfer_graded_by_dpf_certification(tmp_path: Path) -> None:
    [f] = judged(tmp_path, "  data-outside-eea: {}\n", dest(AWS_VIRGINIA))
    assert f.severity == "low" and "DPF-certified" in f.message
    assert "per the company's own DPF statement of 2026-05-18; confirm on https://www.dataprivacyframework.gov/list" \
        in f.message  # a self-declaration is not the List, and the finding says so
    assert any(e.source == "traffic" and "48,000 bytes" in e.detail and "2026-11-20T02:00:00Z" in e.detail
               for e in f.evidence)
    assert any("observed in traffic" in e.detail for e in f.evidence)
    # near miss: the same country, an operator not on the DPF snapshot: full severity, said so
    unknown = Destination(CAMERA, ip="198.51.100.200", port=443, transport="tcp", country="US", sources=["flows"],
                          company="Example Hosting LLC", jurisdictions=["US"], location_source="test")
    [g] = judged(tmp_path, "  data-outside-eea: {}\n", unknown)
    assert g.severity == "high" and "not on cityscan's EU-US Data Privacy Framework snapshot" in g.message
    # a policy that does not accept adequacy decisions at all: certification does not lower it
    [h] = judged(tmp_path, "  data-outside-eea: {accept_adequacy: []}\n", dest(AWS_VIRGINIA))
    assert h.severity == "high" and "DPF-certified" in h.message


def test_anycast_resolver_is_no_transfer_finding_and_not_assessable(tmp_path: Path) -> None:
    res = resolve(result([device(CAMERA)], [dest("8.8.8.8", 53, "udp")]))
    res.scan.inputs = [{"kind": "flows", "path": "conn.log"}]
    judgement = evaluate(res, policy(tmp_path, "name: t\nrules:\n  data-outside-eea: {}\n"))
    assert judgement.findings == []
    [verdict] = [r for r in judgement.rules if r["id"] == "data-outside-eea"]
    assert verdict["status"] == "not-assessable" and "anycast" in verdict["reason"]


@pytest.mark.parametrize("ip", [TELIA_NORWAY, MILA_ICELAND, SPEEDCOM_LI])
def test_eea_countries_outside_the_eu_are_no_transfer(tmp_path: Path, ip: str) -> None:
    assert judged(tmp_path, "  data-outside-eea: {accept_adequacy: []}\n", dest(ip)) == []


def test_adequacy_countries_are_accepted_by_the_sample_policy_setting(tmp_path: Path) -> None:
    dests = [dest(AWS_TOKYO), dest(AWS_ZURICH), dest(AWS_LONDON), dest(AWS_SINGAPORE)]
    found = judged(tmp_path, "  data-outside-eea: {accept_adequacy: [all]}\n", *dests)
    assert [f.destination["country"] for f in found if f.destination] == ["SG"]
    found = judged(tmp_path, "  data-outside-eea: {accept_adequacy: [CH]}\n", *dests)
    assert sorted(f.destination["country"] for f in found if f.destination) == ["GB", "JP", "SG"]


def test_infrastructure_traffic_is_graded_lower_and_says_so(tmp_path: Path) -> None:
    rules = "  data-outside-eea: {}\n  foreign-jurisdiction: {}\n"
    found = judged(tmp_path, rules, dest(AWS_SINGAPORE, 123, "udp"), dest(AWS_SINGAPORE, 443, "tcp"),
                   dest(AWS_SINGAPORE, 80, "tcp", host="ocsp.digicert.com"))
    by = {(f.rule, f.destination["port"] if f.destination else None): f for f in found}
    assert by[("data-outside-eea", 443)].severity == "high" and "payload traffic" in by[("data-outside-eea", 443)].message
    ntp = by[("data-outside-eea", 123)]
    assert ntp.severity == "low" and "infrastructure traffic (NTP)" in ntp.message
    assert "infrastructure traffic (OCSP/CRL)" in by[("data-outside-eea", 80)].message
    assert by[("foreign-jurisdiction", 123)].severity == "info"
    assert by[("foreign-jurisdiction", 443)].severity == "medium"


def test_stale_data_sets_are_warned_about_in_the_finding(tmp_path: Path) -> None:
    old = [{"name": "cloud-ranges", "version": "x", "date": "2023-11-15", "source": "s"},
           {"name": "fingerprints", "version": "y", "date": "2020-01", "source": "s"}]
    [f] = judged(tmp_path, "  data-outside-eea: {}\n", dest(AWS_SINGAPORE), data=old)
    warnings = [e.detail for e in f.evidence if e.source == "data"]
    assert len(warnings) == 1 and "cloud-ranges" in warnings[0] and "cityscan data update" in warnings[0]
    [g] = judged(tmp_path, "  data-outside-eea: {max_data_age_days: 0}\n", dest(AWS_SINGAPORE), data=old)
    assert not [e for e in g.evidence if e.source == "data"]


def test_freshness_limit_and_bad_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    today = dt.date(2026, 12, 2)
    items = [{"name": "a", "version": "1", "date": "2026-06-01"}, {"name": "b", "version": "1", "date": None}]
    assert stale(items, 365, today) == []
    assert len(stale(items, 100, today)) == 1
    monkeypatch.setenv("CITYSCAN_DATA_MAX_AGE_DAYS", "30")
    assert len(stale(items, None, today)) == 1
    monkeypatch.setenv("CITYSCAN_DATA_MAX_AGE_DAYS", "a year")
    with pytest.raises(InputError, match="whole number of days"):
        stale(items, None, today)


def test_bad_grading_parameter_is_a_policy_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="infrastructure_severity"):
        policy(tmp_path, "name: t\nrules:\n  data-outside-eea: {infrastructure_severity: tiny}\n")


def test_a_transfer_says_the_bytes_the_device_sent(tmp_path: Path) -> None:
    """From a Zeek conn.log the originator's bytes are known: the finding says what went out (an
    upload) apart from both directions (a download looks the same in the total); from a CSV without
    them, both directions only, said so."""
    from scanner.collect.flows import read_flows, summarize
    from scanner.resolve.destinations import destinations_from_flows

    log = tmp_path / "conn.log"
    log.write_text("#separator \\x09\n#unset_field\t-\n#fields\tts\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\t"
                   "orig_ip_bytes\tresp_ip_bytes\n"
                   f"1795000000.0\t{CAMERA}\t50000\t{AWS_VIRGINIA}\t443\ttcp\t1200000\t3400\n"
                   f"1795000060.0\t{CAMERA}\t50001\t{AWS_VIRGINIA}\t443\ttcp\t800000\t-\n", encoding="utf-8")
    [observed], _ = destinations_from_flows({CAMERA}, summarize(read_flows(str(log))))
    assert observed.traffic is not None and (observed.traffic["bytes_out"], observed.traffic["bytes"]) == (2_000_000, 2_003_400)
    [f] = judged(tmp_path, "  data-outside-eea: {}\n", observed)
    assert any(e.source == "traffic" and "2,000,000 bytes out (2,003,400 both directions)" in e.detail for e in f.evidence)
    [g] = judged(tmp_path, "  data-outside-eea: {}\n", dest(AWS_VIRGINIA))   # no bytes_out: the total, said so
    assert any(e.source == "traffic" and "48,000 bytes (both directions)" in e.detail for e in g.evidence)
