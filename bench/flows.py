"""Benchmark: flows at city scale, side by side with a bare ``csv`` read of the same file (issue 16).

Generates Zeek conn.log files (TSV, as Zeek's ASCII writer writes them) into /tmp: 2,000 city
devices (198.18.0.0/15, the benchmarking range, as in a segment's logs) each talking to 2-6 (network, port) pairs drawn
from 400 real public networks taken, as data, from the ASN table that ships with cityscan (and a
few cloud regions). Nothing ever connects to them: reading and enriching are offline.

- low cardinality: every device uses one address per (network, port): a few thousand tuples;
- high cardinality: most connections go to a random address of the network (CDN and cloud front
  ends rotate addresses): ~790,000 distinct (device, address, port) tuples in 1,000,000 records.

Each run is a fresh process that first times a bare ``csv.reader`` pass over the same file, then
the pipeline's way (with the compiled groups store where it is built, and once more without it):
``pipeline.flow_summary`` (Zeek conn logs are folded while they are read) plus the resolve stage
(destinations, operator, location, jurisdictions: ``pipeline.resolve``), with its ratio to the csv pass (target <= 3) and its peak RSS (target < 500 MB). A shared or
virtual machine's speed wanders by a fifth from one second to the next, so each case runs
RUNS times and the median ratio is printed with the range. Figures only, no assertions.

The high-cardinality records are then written as Zeek JSON lines and read once, against a bare
``json.loads`` pass (no target in the issue; JSON parsing alone is most of it).

Run: .venv/bin/python bench/flows.py [RECORDS] [RUNS]   (default 1,000,000 and 3)
"""

from __future__ import annotations

import csv
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RECORDS = 1_000_000
DEVICES = 2000
NETWORKS = 400
HIGH_RANDOM_SHARE = 0.79   # share of connections to a random address of the network
HEADER = ("#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n"
          "#open\t2026-11-23-01-01-32\n"
          "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\t"
          "resp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\torig_pkts\torig_ip_bytes\t"
          "resp_pkts\tresp_ip_bytes\ttunnel_parents\n"
          "#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\tbool\tbool\t"
          "count\tstring\tcount\tcount\tcount\tcount\tset[string]\n")
CLOUD = [(874250240, 65536), (878182400, 16384), (587202560, 65536)]   # 52.28/16 (AWS FRA), 52.88/18, 35.0/16


def networks(count: int = NETWORKS) -> list[tuple[int, int]]:
    """(first address, size) of ``count`` public IPv4 ranges of at least 4,096 addresses."""
    from scanner.knowledge import ipdata

    table = ipdata._v4()
    picked = [(start, end - start + 1) for start, end in zip(table.starts, table.ends, strict=True)
              if end - start + 1 >= 4096 and not (167772160 <= start < 184549376)]
    rng = random.Random(5)
    return CLOUD + rng.sample(picked, count - len(CLOUD))


def generate(path: str, count: int, high: bool, seed: int = 7) -> None:
    rng = random.Random(seed)
    nets = networks()
    services = [(443, "tcp"), (443, "tcp"), (8883, "tcp"), (53, "udp"), (123, "udp"), (554, "tcp")]
    devices = [f"198.18.{i // 250}.{i % 250 + 1}" for i in range(DEVICES)]
    talks = {}
    for dev in devices:
        pairs = []
        for _ in range(rng.randint(2, 6)):
            first, size = rng.choice(nets)
            pairs.append((first, size, first + rng.randrange(1, size - 1), *rng.choice(services)))
        talks[dev] = pairs

    def dotted(value: int) -> str:
        return f"{value >> 24}.{(value >> 16) & 255}.{(value >> 8) & 255}.{value & 255}"

    start = 1_795_000_000.0
    with open(path, "w", encoding="utf-8") as out:
        out.write(HEADER)
        lines = []
        for i in range(count):
            device = devices[rng.randrange(DEVICES)]
            first, size, fixed, port, transport = rng.choice(talks[device])
            address = first + rng.randrange(1, size - 1) if high and rng.random() < HIGH_RANDOM_SHARE else fixed
            out_bytes, in_bytes = rng.randrange(60, 20_000), rng.randrange(60, 200_000)
            lines.append(f"{start + i * 0.0864:.6f}\tC{i:x}\t{device}\t{rng.randrange(1024, 65535)}\t{dotted(address)}\t"
                         f"{port}\t{transport}\t-\t0.25\t{out_bytes}\t{in_bytes}\tSF\t-\t-\t0\tShADadFf\t6\t"
                         f"{out_bytes + 312}\t8\t{in_bytes + 416}\t-\n")
            if len(lines) == 10_000:
                out.writelines(lines)
                lines.clear()
        out.writelines(lines)
        out.write("#close\t2026-11-24-01-01-32\n")


def to_json(path: str, target: str) -> None:
    """The same log as Zeek's JSON writer (``LogAscii::use_json=T``) writes it: unset fields left out."""
    numbers = {"id.orig_p", "id.resp_p", "orig_bytes", "resp_bytes", "missed_bytes", "orig_pkts", "orig_ip_bytes",
               "resp_pkts", "resp_ip_bytes"}
    fields: list[str] = []
    with open(path, encoding="utf-8") as source, open(target, "w", encoding="utf-8") as out:
        for line in source:
            if line.startswith("#fields"):
                fields = line.rstrip("\n").split("\t")[1:]
            if line.startswith("#"):
                continue
            obj: dict[str, object] = {}
            for name, value in zip(fields, line.rstrip("\n").split("\t"), strict=True):
                if value != "-":
                    obj[name] = float(value) if name in ("ts", "duration") else int(value) if name in numbers else value
            out.write(json.dumps(obj, separators=(",", ":")) + "\n")


def measure_json(path: str) -> dict[str, float | int]:
    """In this (fresh) process: a bare ``json.loads`` pass, then cityscan's way over the same file."""
    started = time.perf_counter()
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            json.loads(line)
    json_s = time.perf_counter() - started

    from scanner.collect.flows import groups
    from scanner.pipeline import flow_summary

    started = time.perf_counter()
    summary = flow_summary([path])
    read_s = time.perf_counter() - started
    assert summary is not None
    return {"json_s": json_s, "read_s": read_s, "records": summary.records,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "store": "compiled" if groups.native is not None else "pure Python"}


def distinct_tuples(path: str) -> int:
    seen = set()
    with open(path, newline="", encoding="utf-8") as handle:
        for row in csv.reader(handle, delimiter="\t"):
            if row and not row[0].startswith("#"):
                seen.add((row[2], row[4], row[5], row[6]))
    return len(seen)


def measure(path: str, count_tuples: bool) -> dict[str, float | int]:
    """In this (fresh) process: a bare csv read, then cityscan's way over the same file."""
    started = time.perf_counter()
    rows = 0
    with open(path, newline="", encoding="utf-8") as handle:
        for _ in csv.reader(handle, delimiter="\t"):
            rows += 1
    csv_s = time.perf_counter() - started

    from scanner.collect.flows import groups
    from scanner.model import ScanInfo, ScanResult
    from scanner.pipeline import flow_summary, resolve

    started = time.perf_counter()
    summary = flow_summary([path])
    read_s = time.perf_counter() - started
    assert summary is not None
    result = ScanResult(scan=ScanInfo(started_at="2026-11-23T00:00:00Z"))
    resolve(result, summary)
    total_s = time.perf_counter() - started
    located = sum(1 for d in result.destinations if d.country or d.anycast)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"rows": rows, "csv_s": csv_s, "read_s": read_s, "total_s": total_s, "records": summary.records,
            "exact": len(summary.flows), "networks": len(summary.networks), "destinations": len(result.destinations),
            "located": located, "devices": len(result.devices), "peak_rss_mb": peak,
            "store": "compiled" if groups.native is not None else "pure Python",
            "tuples": distinct_tuples(path) if count_tuples else 0}   # last: not counted in the peak


def child(path: str, count_tuples: bool, pure: bool = False, how: str = "--measure") -> dict[str, float | int]:
    """``measure`` in a fresh interpreter (started by exec from a small parent, so its peak RSS is its
    own); ``pure``: without the compiled groups store (CITYSCAN_PURE_PYTHON=1)."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    if pure:
        env["CITYSCAN_PURE_PYTHON"] = "1"
    run = subprocess.run([sys.executable, __file__, how, path, "count" if count_tuples else "-"],
                         check=True, capture_output=True, text=True, env=env)
    return json.loads(run.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    if len(sys.argv) > 3 and sys.argv[1] == "--measure":
        print(json.dumps(measure(sys.argv[2], sys.argv[3] == "count")))
        return
    if len(sys.argv) > 3 and sys.argv[1] == "--measure-json":
        print(json.dumps(measure_json(sys.argv[2])))
        return
    count = int(sys.argv[1]) if len(sys.argv) > 1 else RECORDS
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    workdir = tempfile.mkdtemp(prefix="cityscan-bench-flows-")
    try:
        for name, high in (("low cardinality", False), ("high cardinality", True)):
            path = os.path.join(workdir, f"conn-{'high' if high else 'low'}.log")
            generate(path, count, high)
            results = [child(path, i == 0) for i in range(runs)]
            m = results[0]
            ratios = sorted(r["total_s"] / r["csv_s"] for r in results)
            reads = sorted(r["read_s"] / r["csv_s"] for r in results)
            median = results[[r["total_s"] / r["csv_s"] for r in results].index(ratios[len(ratios) // 2])]
            print(f"{name}: {count:,} Zeek conn records ({os.path.getsize(path) / 1e6:.0f} MB), "
                  f"{m['tuples']:,} distinct (device, address, port) tuples; groups store: {m['store']}")
            print(f"  read (pipeline.flow_summary) + resolve: {ratios[len(ratios) // 2]:.1f}x a bare csv read "
                  f"(median of {runs} runs, {ratios[0]:.1f}x-{ratios[-1]:.1f}x; target <= 3x), e.g. "
                  f"{median['total_s']:.2f} s against {median['csv_s']:.2f} s; reading alone "
                  f"{reads[len(reads) // 2]:.1f}x, enrichment {(median['total_s'] - median['read_s']) / median['csv_s']:.2f}x")
            print(f"    -> {m['destinations']:,} destinations ({m['located']:,} located), {m['devices']:,} devices; "
                  f"kept {m['exact']:,} exact tuples, {m['networks']:,} per-network aggregates; "
                  f"peak RSS {max(r['peak_rss_mb'] for r in results):.0f} MB (target < 500 MB)")
            if m["store"] == "compiled":   # the same, once, as an install without a C compiler runs it
                pure = child(path, False, pure=True)
                print(f"    without the compiled store (CITYSCAN_PURE_PYTHON=1, one run): "
                      f"{pure['total_s'] / pure['csv_s']:.1f}x, peak RSS {pure['peak_rss_mb']:.0f} MB")
            if high:   # the same records as JSON lines (Corelight, Security Onion): against json.loads
                json_path = path + ".json"
                to_json(path, json_path)
                j = child(json_path, False, how="--measure-json")
                print(f"  as JSON lines ({os.path.getsize(json_path) / 1e6:.0f} MB): read (pipeline.flow_summary) "
                      f"{j['read_s']:.2f} s, {j['read_s'] / j['json_s']:.1f}x a bare json.loads pass "
                      f"({j['json_s']:.2f} s; one run); peak RSS {j['peak_rss_mb']:.0f} MB")
                os.unlink(json_path)
            os.unlink(path)
    finally:
        for leftover in os.listdir(workdir):
            os.unlink(os.path.join(workdir, leftover))
        os.rmdir(workdir)


if __name__ == "__main__":
    main()
