"""Benchmark: the resolve stage on traffic records, offline and with (mocked) online look-ups.

Generates flow records in the CSV format of docs/flows.md: a city segment of 2,000 devices
(documentation ranges) talking again and again to a few of 600 remote addresses in 400 different
networks, one record in eight with a DNS name. The remote addresses are real public addresses
taken, as data, from the ASN table that ships with cityscan, so the offline enrichment (AS,
owner, company, parent, country, jurisdictions) does its real work. Nothing ever connects to
them: parsing and enriching are offline, and the online part is answered by `responses` at the
HTTP boundary (any request it does not expect fails).

Prints:
- parse + summarise records/s, enrich time, and parse + enrich records/s (target >= 200,000/s);
- peak memory for 1/4 of the records and for all of them (streaming: the peak must stay flat);
- online: distinct remote addresses and networks, RDAP requests made, look-ups per network
  (target <= 1), and the requests of a second run from the saved cache (expected 0).
Figures only, no assertions. Run: .venv/bin/python bench/enrich.py [RECORDS]  (default 1,000,000)
"""

from __future__ import annotations

import ipaddress
import os
import random
import re
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import responses

from scanner.collect.flows import FlowSummary, read_flows, summarize
from scanner.knowledge import ipdata
from scanner.model import ScanInfo, ScanResult
from scanner.pipeline import resolve
from scanner.resolve.online import RDAP_URL, Cache, OnlineLookups

RECORDS = 1_000_000
NETWORKS = 400
REMOTES = 600


def remote_networks(count: int = NETWORKS) -> list[ipaddress.IPv4Network]:
    """``count`` public networks spread over the shipped IPv4 ASN table (every n-th range)."""
    table = ipdata._v4()
    step = max(1, len(table.starts) // (count * 2))
    out: list[ipaddress.IPv4Network] = []
    for index in range(0, len(table.starts), step):
        first = ipaddress.IPv4Address(table.starts[index])
        last = ipaddress.IPv4Address(table.ends[index])
        net = next(ipaddress.summarize_address_range(first, last))
        if net.num_addresses >= 4 and net.is_global:
            out.append(net)
        if len(out) == count:
            break
    return out


def remote_addresses(networks: list[ipaddress.IPv4Network], count: int = REMOTES) -> list[str]:
    """One address in every network, then more in some of them: a cache must ask once per network."""
    rng = random.Random(3)
    out = [str(net[1]) for net in networks]
    while len(out) < count:
        net = rng.choice(networks)
        out.append(str(net[rng.randrange(1, net.num_addresses - 1)]))
    return list(dict.fromkeys(out))


def generate(path: str, count: int, remotes: list[str], seed: int = 7) -> None:
    """A flows CSV: every device talks to the same few destinations again and again, as city devices do."""
    rng = random.Random(seed)
    devices = [f"198.51.100.{i % 250 + 1}" if i < 250 else f"2001:db8:0:{i // 250:x}::{i % 250 + 1:x}"
               for i in range(2000)]
    services = [(443, "tcp"), (80, "tcp"), (8883, "tcp"), (53, "udp"), (123, "udp"), (554, "tcp")]
    talks = {dev: [(rng.choice(remotes), *rng.choice(services), f"api{rng.randrange(100)}.cloud.example")
                   for _ in range(rng.randint(2, 6))] for dev in devices}
    start = 1_795_000_000.0
    with open(path, "w", encoding="utf-8") as out:
        out.write("timestamp,src_ip,dst_ip,dst_port,transport,bytes,dns_query\n")
        lines = []
        for i in range(count):
            device = devices[rng.randrange(2000)]
            remote, port, transport, name = rng.choice(talks[device])
            lines.append(f"{start + i * 0.01:.3f},{device},{remote},{port},{transport},{rng.randrange(60, 200_000)},"
                         f"{name if i % 8 == 0 else ''}\n")
            if len(lines) == 10_000:
                out.writelines(lines)
                lines.clear()
        out.writelines(lines)


def parse(path: str) -> tuple[float, FlowSummary]:
    started = time.perf_counter()
    summary = summarize(read_flows(path, "csv"))
    return time.perf_counter() - started, summary


def enrich(summary: FlowSummary, online: OnlineLookups | None = None) -> tuple[float, ScanResult]:
    result = ScanResult(scan=ScanInfo(started_at="2026-11-23T00:00:00Z"))
    started = time.perf_counter()
    resolve(result, summary, online)
    return time.perf_counter() - started, result


def peak_memory(path: str) -> float:
    """Peak Python allocations (MB) while reading, summarising and enriching ``path``."""
    tracemalloc.start()
    _, summary = parse(path)
    enrich(summary)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 1e6


def max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # ru_maxrss is KiB on Linux


def rdap_answer(ip: str, networks: list[ipaddress.IPv4Network]) -> dict[str, Any]:
    """An RDAP ip-network object for the benchmark network that holds ``ip``."""
    addr = ipaddress.ip_address(ip)
    net = next(n for n in networks if addr in n)
    return {"objectClassName": "ip network", "handle": f"NET-{net.network_address}", "ipVersion": "v4",
            "startAddress": str(net.network_address), "endAddress": str(net.broadcast_address),
            "name": f"BENCH-{net.network_address}", "type": "ASSIGNED PA", "country": "ZZ",
            "cidr0_cidrs": [{"v4prefix": str(net.network_address), "length": net.prefixlen}],
            "entities": [{"objectClassName": "entity", "handle": "ORG-BENCH", "roles": ["registrant"],
                          "vcardArray": ["vcard", [["version", {}, "text", "4.0"], ["fn", {}, "text", "Bench Org"]]]}]}


def online_run(summary: FlowSummary, networks: list[ipaddress.IPv4Network], cache_path: Path) -> tuple[int, float]:
    """Resolve with RDAP on (DNS off), answered by a mock; returns (requests made, seconds)."""
    calls = 0
    prefix = RDAP_URL.format(ip="")

    def answer(request: Any) -> tuple[int, dict[str, str], str]:
        nonlocal calls
        calls += 1
        import json
        return 200, {"Content-Type": "application/rdap+json"}, json.dumps(rdap_answer(request.url[len(prefix):], networks))

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_callback(responses.GET, re.compile(re.escape(prefix) + r".+"), callback=answer)
        lookups = OnlineLookups(cache=Cache.open(cache_path), rdap=True, dns=False, interval=0, timeout=1)
        elapsed, result = enrich(summary, lookups)
    failed = [e for e in result.errors if e.stage == "resolve"]
    if failed:
        print(f"  online errors: {len(failed)}, first: {failed[0].message}")
    return calls, elapsed


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else RECORDS
    networks = remote_networks()
    remotes = remote_addresses(networks)
    workdir = tempfile.mkdtemp(prefix="cityscan-bench-")
    full, quarter = os.path.join(workdir, "flows.csv"), os.path.join(workdir, "flows-quarter.csv")
    try:
        generate(full, count, remotes)
        generate(quarter, count // 4, remotes)
        size = os.path.getsize(full)
        parse_s, summary = parse(full)
        enrich_s, result = enrich(summary)
        known = sum(1 for d in result.destinations if d.asn)
        print(f"parse+summarise: {count:,} CSV records ({size / 1e6:.0f} MB) in {parse_s:.2f} s = "
              f"{count / parse_s:,.0f} records/s -> {len(summary.flows):,} distinct flows")
        print(f"enrich (offline): {len(result.destinations):,} destinations in {enrich_s:.2f} s "
              f"({known:,} with AS and owner from the shipped data)")
        print(f"parse+enrich: {count / (parse_s + enrich_s):,.0f} records/s (target >= 200,000)")
        print(f"memory: peak Python allocations {peak_memory(quarter):.1f} MB for {count // 4:,} records, "
              f"{peak_memory(full):.1f} MB for {count:,} (flat: the reader streams); process peak RSS "
              f"{max_rss_mb():.0f} MB")
        cache_path = Path(workdir) / "lookups.json"
        distinct_nets = {next(n for n in networks if ipaddress.ip_address(ip) in n) for ip in remotes}
        first, first_s = online_run(summary, networks, cache_path)
        second, _ = online_run(summary, networks, cache_path)
        print(f"online (RDAP mocked): {len(remotes):,} remote addresses in {len(distinct_nets):,} networks -> "
              f"{first:,} RDAP requests = {first / len(distinct_nets):.2f} per network (target <= 1), "
              f"{first_s:.2f} s; second run from the saved cache: {second} requests")
    finally:
        for name in os.listdir(workdir):
            os.unlink(os.path.join(workdir, name))
        os.rmdir(workdir)


if __name__ == "__main__":
    main()
