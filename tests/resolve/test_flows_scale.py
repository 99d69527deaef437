"""Aggregating while reading (issue 16): the fast Zeek conn path gives what the reader gives.

Every answer of ``summarize_file`` is compared with ``summarize(read_flows(...))`` on the same
file: records, exact tuples, per-network aggregates, and the error (file, line, message) for a
bad line. Addresses are data only; nothing connects to them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from scanner.collect.flows import FlowSummary, read_flows, summarize
from scanner.collect.flows.summary import summarize_file
from scanner.errors import InputError

ROOT = Path(__file__).resolve().parents[2]
HEADER = ("#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n"
          "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\t"
          "resp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\torig_pkts\torig_ip_bytes\t"
          "resp_pkts\tresp_ip_bytes\ttunnel_parents\n")


def line(ts: str, src: str, dst: str, port: str = "443", proto: str = "tcp", sport: str = "50000",
         ob: str = "300", rb: str = "900") -> str:
    return f"{ts}\tC1\t{src}\t{sport}\t{dst}\t{port}\t{proto}\t-\t0.1\t10\t20\tSF\t-\t-\t0\tSh\t3\t{ob}\t3\t{rb}\t-\n"


def both(path: Path, max_flows: int = 20_000) -> tuple[FlowSummary, FlowSummary]:
    return (summarize(read_flows(str(path)), FlowSummary(max_flows=max_flows)),
            summarize_file(str(path), summary=FlowSummary(max_flows=max_flows)))


def test_fast_path_equals_the_reader_exact_and_folded(tmp_path: Path) -> None:
    log = tmp_path / "conn.log"
    rows = [line(f"17950000{i:02d}.5", f"198.18.0.{i % 3 + 1}", f"52.28.{i}.{i % 5 + 1}") for i in range(40)]
    rows += [line("2026-11-23T01:02:03Z", "198.18.0.1", "2001:db8::1"),        # ISO time, IPv6: the slow path
             line("1795000100.0", "198.18.0.2", "8.8.8.8", "8", "icmp"),       # ICMP: no port
             line("1795000101.0", "198.18.0.2", "9.9.9.9", "53", "udp", ob="-", rb="-")]
    log.write_text(HEADER + "".join(rows) + "#close\t2026-11-24-01-01-32\n")
    slow, fast = both(log)
    assert (slow.records, slow.flows) == (fast.records, fast.flows) and fast.records == 43
    assert fast.flows[("198.18.0.2", "8.8.8.8", None, "icmp")].connections == 1
    assert fast.flows[("198.18.0.2", "9.9.9.9", 53, "udp")].bytes is None
    slow, fast = both(log, max_flows=5)
    assert fast.folded and slow.networks == fast.networks and not fast.flows
    assert ROOT.joinpath("tests/data/zeek/conn.log").exists()
    slow, fast = both(ROOT / "tests/data/zeek/conn.log")
    assert slow.flows == fast.flows


@pytest.mark.parametrize("bad", [
    line("1795000000.0", "198.18.0.1", "52.28.0.300"),
    line("1795000000.0", "198.18.0.1", "52.28.0.1", port="70000"),
    line("1795000000.0", "198.18.0.1", "52.28.0.1", proto="sctp"),
    line("1_795_000_000", "198.18.0.1", "52.28.0.1"),
    line("1795000000.0", "198.18.0.1", "52.28.0.1", ob="12x"),
    "1795000000.0\tC1\t198.18.0.1\n",
])
def test_a_bad_line_is_the_same_error_as_the_reader_gives(tmp_path: Path, bad: str) -> None:
    log = tmp_path / "conn.log"
    log.write_text(HEADER + line("1795000000.0", "198.18.0.1", "52.28.0.1") + bad)
    with pytest.raises(InputError) as slow:
        summarize(read_flows(str(log)))
    with pytest.raises(InputError) as fast:
        summarize_file(str(log))
    assert (str(fast.value), fast.value.line) == (str(slow.value), slow.value.line) and fast.value.line == 8


def test_other_formats_go_through_the_reader(tmp_path: Path) -> None:
    slow, fast = both(ROOT / "tests/data/zeek/conn.json.log")
    assert slow.flows == fast.flows and fast.records > 0
    data = tmp_path / "no-header.log"
    data.write_text("#separator \\x09\n#path\tconn\n" + line("1795000000.0", "198.18.0.1", "52.28.0.1"))
    with pytest.raises(InputError, match="data before the #fields header"):
        summarize_file(str(data), "zeek-conn")
