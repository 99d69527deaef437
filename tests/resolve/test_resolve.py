"""Resolve stage: offline ownership and jurisdiction, and the opt-in online look-ups (mocked)."""

from __future__ import annotations

import json
from pathlib import Path

import dns.exception
import dns.resolver
import pytest
import requests
import responses
from helpers import HIKVISION_DEVICEINFO, device, result

from scanner.model import Destination
from scanner.pipeline import identify, resolve
from scanner.resolve.online import RDAP_URL, Cache, OnlineLookups

# Public addresses below are data (as in a flow log); nothing connects to them.
AWS_IE = "1.178.30.1"       # AS8987 Amazon Data Services Ireland Ltd in the shipped ASN snapshot
TENCENT = "1.12.0.1"        # AS45090 Shenzhen Tencent Computer Systems
CHINANET = "1.48.0.1"       # AS4134 Chinanet


def dest(ip: str | None = None, host: str | None = None) -> Destination:
    return Destination("198.51.100.11", host=host, ip=ip, port=443, transport="tcp", sources=["flows"])


def resolved(*dests: Destination, online: OnlineLookups | None = None) -> list[Destination]:
    res = result([device("198.51.100.11")], list(dests))
    return resolve(res, online=online).destinations


def test_eu_subsidiary_of_a_us_company_is_reachable_by_us_law() -> None:
    [d] = resolved(dest(AWS_IE))
    assert d.asn == 8987 and d.company == "Amazon Data Services Ireland Ltd"
    assert d.parent_company == "Amazon.com, Inc." and set(d.jurisdictions) == {"US", "IE"}
    assert {"asn-table", "ownership"} <= set(d.sources)
    assert any("ultimate parent Amazon.com, Inc. (US)" in e.detail for e in d.evidence)


def test_chinese_cloud_and_state_telecom() -> None:
    tencent, chinanet = resolved(dest(TENCENT), dest(CHINANET))
    assert tencent.country == "CN" and "CN" in tencent.jurisdictions and tencent.company
    assert chinanet.asn == 4134 and chinanet.jurisdictions == ["CN"]


def test_documentation_addresses_are_unknown_not_guessed() -> None:
    [d] = resolved(dest("203.0.113.9"))
    assert (d.asn, d.company, d.country, d.jurisdictions) == (None, None, None, [])


def test_vendor_cloud_endpoints_from_the_fingerprint_database() -> None:
    cam = device("198.51.100.11", observations=[("http.body", HIKVISION_DEVICEINFO, "/ISAPI/System/deviceInfo")])
    res = identify(result([cam]))
    dests = resolve(res).destinations
    hik = [d for d in dests if d.host and d.host.endswith("hik-connect.com")]
    assert hik and all("fingerprint" in d.sources for d in hik)
    assert hik[0].company == "Hangzhou Hikvision Digital Technology Co., Ltd."
    assert hik[0].parent_company == "China Electronics Technology Group Corporation"
    assert hik[0].jurisdictions == ["CN"] and hik[0].ip is None and hik[0].country is None


def test_host_name_suffix_attribution() -> None:
    [d] = resolved(dest(host="bucket.s3.eu-central-1.amazonaws.com"))
    assert d.company == "Amazon.com, Inc." and d.jurisdictions == ["US"]


# --- online (HTTP mocked with responses, DNS with a stub resolver) ---------------------------

RDAP_ANSWER = {
    "objectClassName": "ip network", "handle": "NET-1-178-0-0-1", "startAddress": "1.178.0.0",
    "endAddress": "1.178.255.255", "ipVersion": "v4", "name": "EXAMPLE-NET", "type": "ASSIGNED PA",
    "country": "IE", "cidr0_cidrs": [{"v4prefix": "1.178.0.0", "length": 16}],
    "entities": [{"objectClassName": "entity", "handle": "ORG-1", "roles": ["registrant"],
                  "vcardArray": ["vcard", [["version", {}, "text", "4.0"],
                                           ["fn", {}, "text", "Amazon Data Services Ireland Ltd"]]]}],
}


class StubResolver:
    def __init__(self, answers: dict[tuple[str, str], list[str]] | None = None, fail: Exception | None = None) -> None:
        self.answers, self.fail, self.calls = answers or {}, fail, 0

    def resolve(self, name: object, rdtype: str, lifetime: float = 0) -> list[object]:
        self.calls += 1
        if self.fail:
            raise self.fail
        key = (str(name).rstrip("."), rdtype)
        if key not in self.answers:
            raise dns.resolver.NoAnswer()
        return [type("R", (), {"to_text": lambda self, v=v: v})() for v in self.answers[key]]


def online(tmp_path: Path, resolver: StubResolver | None = None, **kwargs: object) -> OnlineLookups:
    return OnlineLookups(cache=Cache.open(tmp_path / "cache.json"), resolver=resolver or StubResolver(),
                         interval=0, timeout=1, **kwargs)  # type: ignore[arg-type]


@responses.activate
def test_rdap_success_and_cache_per_network(tmp_path: Path) -> None:
    responses.get(RDAP_URL.format(ip=AWS_IE), json=RDAP_ANSWER)
    lookups = online(tmp_path)
    [d] = resolved(dest(AWS_IE), online=lookups)
    assert d.network_owner == "Amazon Data Services Ireland Ltd" and "rdap" in d.sources
    assert len(responses.calls) == 1
    # Another address of the same network, and a second run from the saved cache: no request.
    second = online(tmp_path)
    resolved(dest("1.178.200.7"), online=second)
    assert len(responses.calls) == 1 and second.requests_made.get("rdap", 0) == 0
    assert json.loads((tmp_path / "cache.json").read_text())["networks"][0]["cidr"] == "1.178.0.0/16"


@responses.activate
def test_rdap_rate_limit_stops_further_lookups(tmp_path: Path) -> None:
    responses.get(RDAP_URL.format(ip=TENCENT), status=429, body="<html>slow down</html>")
    lookups = online(tmp_path)
    res = result([device("198.51.100.11")], [dest(TENCENT), dest(CHINANET)])
    out = resolve(res, online=lookups)
    assert len(responses.calls) == 1  # CHINANET was not asked after the 429
    assert any("HTTP 429" in e.message for e in out.errors)
    assert any("rate-limited" in e.message for e in out.errors)
    assert out.destinations[0].company  # the offline data still answers


@responses.activate
@pytest.mark.parametrize(("kwargs", "message"), [
    ({"body": requests.exceptions.ConnectTimeout()}, "timed out"),
    ({"body": "{not json"}, "malformed answer"),
    ({"json": ["a", "list"]}, "not a JSON object"),
    ({"status": 500}, "HTTP 500"),
])
def test_rdap_failures_degrade_to_unknown(tmp_path: Path, kwargs: dict, message: str) -> None:  # type: ignore[type-arg]
    responses.get(RDAP_URL.format(ip=AWS_IE), **kwargs)
    res = resolve(result([device("198.51.100.11")], [dest(AWS_IE)]), online=online(tmp_path))
    assert any(message in e.message and e.stage == "resolve" for e in res.errors)
    assert res.destinations[0].asn == 8987  # offline facts are kept


@responses.activate
def test_geolocation_is_opt_in_and_validated(tmp_path: Path) -> None:
    responses.get(RDAP_URL.format(ip=AWS_IE), json=RDAP_ANSWER)
    responses.get(f"https://geo.test/{AWS_IE}", json={"countryCode": "de"})
    [d] = resolved(dest(AWS_IE), online=online(tmp_path, geolocation_url="https://geo.test/{ip}"))
    assert d.country == "DE" and "geolocation" in d.sources and "US" in d.jurisdictions


def test_dns_resolution_and_timeout(tmp_path: Path) -> None:
    stub = StubResolver({("cloud.example.com", "A"): [AWS_IE]})
    with responses.RequestsMock() as mock:
        mock.get(RDAP_URL.format(ip=AWS_IE), json=RDAP_ANSWER)
        [d] = resolved(dest(host="cloud.example.com"), online=online(tmp_path, stub))
    assert d.ip == AWS_IE and "dns" in d.sources and d.company == "Amazon Data Services Ireland Ltd"
    broken = StubResolver(fail=dns.exception.Timeout())
    res = resolve(result([device()], [dest(host="cloud.example.com")]), online=online(tmp_path / "b", broken))
    assert res.destinations[0].ip is None and any("timed out" in e.message for e in res.errors)
