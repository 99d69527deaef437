"""Benchmark: reading and summarising traffic records (the first half of the resolve stage).

Generates 1,000,000 flow records in the CSV format of docs/flows.md (a city segment: 2,000
devices talking to 500 destinations on a few ports, one record in eight with a DNS name) into a
temporary file, then times ``summarize(read_flows(...))`` and reports records per second and peak
memory. The reader streams, so memory should stay flat however large the file; the target is at
least 200,000 records/s. Figures only, no assertions.
Run: .venv/bin/python bench/enrich.py [RECORDS]
"""

from __future__ import annotations

import os
import random
import resource
import sys
import tempfile
import time
import tracemalloc

from scanner.flows import read_flows, summarize

RECORDS = 1_000_000


def generate(path: str, count: int, seed: int = 7) -> None:
    """A realistic-looking flows CSV (documentation-range addresses only): every device talks to
    the same few destinations again and again, as city devices do."""
    rng = random.Random(seed)
    devices = [f"198.51.100.{i % 250 + 1}" if i < 250 else f"2001:db8:0:{i // 250:x}::{i % 250 + 1:x}"
               for i in range(2000)]
    remotes = [f"203.0.113.{i % 254 + 1}" if i < 254 else f"2001:db8:ffff:{i:x}::1" for i in range(500)]
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


def run(path: str) -> tuple[float, int]:
    started = time.perf_counter()
    summary = summarize(read_flows(path, "csv"))
    return time.perf_counter() - started, len(summary.flows)


def max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # ru_maxrss is KiB on Linux


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else RECORDS
    fd, path = tempfile.mkstemp(prefix="cityscan-flows-", suffix=".csv")
    os.close(fd)
    try:
        generate(path, count)
        size = os.path.getsize(path)
        before = max_rss_mb()
        elapsed, flows = run(path)
        after = max_rss_mb()
        print(f"read_flows+summarize: {count:,} CSV records ({size / 1e6:.0f} MB) in {elapsed:.2f} s = "
              f"{count / elapsed:,.0f} records/s -> {flows:,} distinct flows")
        print(f"memory: process peak RSS {after:.0f} MB ({before:.0f} MB before reading; the reader streams, "
              f"the summary holds one entry per distinct flow)")
        tracemalloc.start()
        run_small = summarize(read_flows(path, "csv"))
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(f"memory: peak Python allocations while reading+summarising {peak / 1e6:.1f} MB (tracemalloc; "
              f"{len(run_small.flows):,} flows in the summary)")
    finally:
        os.unlink(path)


if __name__ == "__main__":
    main()
