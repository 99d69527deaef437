"""Where a server is, apart from who registered its block and who operates it (issue 16).

Public addresses below are data (as in a flow log); nothing ever connects to them. Their
answers come from the shipped snapshots: cloud-ranges (providers' own range files), anycast.yaml
and DB-IP Country Lite.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from helpers import device, result

from scanner.collect.flows import FlowRecord, FlowSummary, summarize
from scanner.errors import InputError
from scanner.knowledge import location as loc
from scanner.knowledge.loader import locator
from scanner.model import Destination
from scanner.pipeline import resolve
from scanner.resolve.destinations import destinations_from_flows

AWS_FRANKFURT = "52.28.0.10"     # AWS eu-central-1 (ip-ranges.json), AS16509, RIR: US
AWS_VIRGINIA = "52.95.245.1"     # AWS us-east-1
AWS_SEOUL = "3.5.140.1"          # AWS ap-northeast-2: server KR, block registered US
CLOUDFRONT = "13.32.0.1"         # AWS GLOBAL (CloudFront edge): anycast
HETZNER = "88.198.0.10"          # not in any cloud file: DB-IP says DE
DATA = Path(__file__).resolve().parents[2] / "scanner" / "knowledge" / "data"


def dest(ip: str, port: int = 443, transport: str = "tcp") -> Destination:
    return Destination("198.51.100.11", ip=ip, port=port, transport=transport, sources=["flows"])


def resolved(*dests: Destination) -> list[Destination]:
    return resolve(result([device("198.51.100.11")], list(dests))).destinations


def test_eu_cloud_region_is_located_where_the_server_is_not_where_registered() -> None:
    [d] = resolved(dest(AWS_FRANKFURT))
    assert (d.country, d.location_source, d.anycast) == ("DE", "cloud-ranges", False)
    assert d.registry_country == "US"                          # the RIR fact, kept apart
    assert d.company == "Amazon.com, Inc." and "US" in d.jurisdictions and "DE" in d.jurisdictions
    assert any("AWS eu-central-1" in e.detail and "registered in US" in e.detail for e in d.evidence)


def test_us_region_and_a_region_far_from_its_registry() -> None:
    by_ip = {d.ip: d for d in resolved(dest(AWS_VIRGINIA), dest(AWS_SEOUL))}
    virginia, seoul = by_ip[AWS_VIRGINIA], by_ip[AWS_SEOUL]
    assert (virginia.country, virginia.location_source) == ("US", "cloud-ranges")
    assert (seoul.country, seoul.registry_country) == ("KR", "US")


def test_anycast_resolvers_and_edges_have_no_country() -> None:
    by_ip = {d.ip: d for d in resolved(dest("8.8.8.8", 53, "udp"), dest("9.9.9.9", 53, "udp"), dest(CLOUDFRONT))}
    google, quad9, edge = by_ip["8.8.8.8"], by_ip["9.9.9.9"], by_ip[CLOUDFRONT]
    for d in (google, quad9, edge):
        assert d.country is None and d.anycast, d
    assert google.location_source == "anycast" and google.company == "Google LLC" and google.jurisdictions == ["US"]
    assert edge.location_source == "cloud-ranges"


def test_geolocation_when_no_cloud_file_knows_the_address() -> None:
    [d] = resolved(dest(HETZNER))
    assert (d.country, d.location_source, d.anycast) == ("DE", "dbip-country", False)


def test_private_and_documentation_addresses_stay_unknown() -> None:
    local, doc = resolved(dest("10.20.0.5"), dest("203.0.113.9"))
    for d in (local, doc):
        assert (d.country, d.registry_country, d.location_source, d.anycast) == (None, None, None, False)


def test_nested_prefixes_most_specific_wins_and_intervals_stop_at_them() -> None:
    flat = loc._Flat([(0, 255, "wide"), (16, 31, "narrow"), (100, 100, "one")])
    assert flat.find(20, 0, 1000) == ("narrow", 16, 31)
    assert flat.find(40, 0, 1000) == ("wide", 32, 99)
    assert flat.find(100, 0, 1000) == ("one", 100, 100)
    assert flat.find(300, 0, 1000) == (None, 256, 1000)


def test_each_network_is_looked_up_once() -> None:
    index = loc.NetworkIndex(locator(), loc.asn_narrowing)
    nets = {index.network(f"52.28.{i}.{j}") for i in range(0, 200, 7) for j in (1, 77, 200)}
    assert len(nets) == 1 and index.lookups == 1
    [net] = nets
    assert net.location.country == "DE" and net.label == "52.28.0.0/16"
    assert index.network("not an address") is None


def test_city_scale_traffic_is_folded_per_network_while_reading() -> None:
    records = [FlowRecord(1_795_000_000.0 + i, "10.20.0.5", f"52.28.{i % 250}.{i % 7 + 1}", 443, "tcp", 100)
               for i in range(60)]
    records.append(FlowRecord(1_795_000_100.0, "10.20.0.5", "8.8.8.8", 53, "udp", 80))
    exact = summarize(records)
    assert len(exact.flows) > 4 and not exact.folded                      # near miss: few tuples stay exact
    folded = summarize(records, FlowSummary(max_flows=4))
    assert folded.folded and not folded.flows and len(folded.networks) == 2
    agg = folded.networks[("10.20.0.5", "52.28.0.0/16", 443, "tcp")]
    assert agg.connections == 60 and agg.bytes == 6000 and agg.more_addresses and len(agg.addresses) == 4
    dests, new = destinations_from_flows(set(), folded)
    assert [d.ip for d in new] == ["10.20.0.5"]
    aws = next(d for d in dests if d.port == 443)
    assert aws.traffic and aws.traffic["connections"] == 60 and aws.traffic["first_seen"] == "2026-11-18T11:06:40Z"
    assert "52.28.0.0/16" in aws.evidence[0].detail and "4+ address(es)" in aws.evidence[0].detail


def test_bad_location_data_is_one_clear_error(tmp_path: Path) -> None:
    ranges = tmp_path / "r.tsv.gz"
    ranges.write_bytes(gzip.compress(b"52.28.0.0/16\tAWS\teu-central-1\nnot-a-prefix\tAWS\tx\n"))
    regions = loc.read_regions(DATA / "cloud-regions.yaml")
    with pytest.raises(InputError, match="not a network") as err:
        loc.read_cloud_ranges(ranges, regions)
    assert err.value.line == 2
    bad = tmp_path / "regions.yaml"
    bad.write_text("providers:\n  AWS:\n    regions:\n      eu-central-1: Germany\n")
    with pytest.raises(InputError, match="ISO alpha-2"):
        loc.read_regions(bad)
    broken = tmp_path / "x.mmdb.xz"
    broken.write_bytes(b"not xz")
    with pytest.raises(InputError, match="geolocation database"):
        loc.open_mmdb(broken)


# --- networks never cross the edge of a special-purpose block (found in a review) ------------------

def test_a_multicast_network_does_not_swallow_the_broadcast_address() -> None:
    """224.0.0.251 (mDNS; global to Python) used to get 224.0.0.0/3 from the geolocation gap,
    which also covers 240.0.0.0/4 and 255.255.255.255: looked up after it, the broadcast address
    got that network instead of its own, so labels depended on what came first."""
    index = loc.NetworkIndex(locator(), loc.asn_narrowing)
    multicast = index.network("224.0.0.251")
    assert multicast is not None and multicast.hi <= int(loc.ipaddress.ip_address("239.255.255.255"))
    broadcast = index.network("255.255.255.255")
    assert broadcast is not None and (broadcast.lo, broadcast.hi) == (2 ** 32 - 1, 2 ** 32 - 1)
    fresh = loc.NetworkIndex(locator(), loc.asn_narrowing)
    assert fresh.network("255.255.255.255") == broadcast and fresh.network("224.0.0.251") == multicast


def test_the_special_blocks_cover_the_blocks_python_calls_non_global() -> None:
    """Python's ipaddress decides is_global from its own list of blocks; every one of them must
    start and end on an edge of the shipped blocks, or a network could hold both kinds."""
    import ipaddress

    edges = {4: set(), 6: set()}
    for version, lo, hi, _ in loc.read_special(DATA / "special-addresses.yaml"):
        edges[version] |= {lo, hi + 1}
    for cls, version in ((ipaddress.IPv4Address, 4), (ipaddress.IPv6Address, 6)):
        constants = cls._constants  # type: ignore[attr-defined]   # the blocks behind is_private / is_global
        blocks = [*constants._private_networks, *getattr(constants, "_private_networks_exceptions", [])]
        if version == 4:
            blocks.append(constants._public_network)   # 100.64.0.0/10: not global either
        assert blocks
        for block in blocks:
            first, after = int(block.network_address), int(block.broadcast_address) + 1
            assert first in edges[version] and after in edges[version], block


@pytest.mark.parametrize("ip", ["224.0.0.251", "239.255.255.250", "8.8.8.8", "52.28.0.10", "192.0.0.8", "192.0.0.9",
                                "100.63.255.255", "100.128.0.0", "2001:4860:4860::8888", "ff02::fb", "2001:0:1::1",
                                "2001:200::1", "3.64.1.130"])
def test_a_global_address_network_holds_only_global_addresses(ip: str) -> None:
    """Every special block edge inside a global address's network would be a second kind of
    address in it: none is."""
    from scanner.model.addresses import parse_ip

    index = loc.NetworkIndex(locator(), loc.asn_narrowing)
    net = index.network(ip)
    addr = parse_ip(ip)
    assert net is not None and addr is not None
    if not addr.is_global:
        assert net.lo == net.hi == int(addr)
        return
    for version, lo, hi, _ in loc.read_special(DATA / "special-addresses.yaml"):
        if version == addr.version:
            assert not (net.lo < lo <= net.hi) and not (net.lo <= hi < net.hi), (net.label, lo, hi)
