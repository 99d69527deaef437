"""Traffic readers: Zeek conn/dns logs (TSV, JSON), the flows CSV, pcap/pcapng, summary, capture.

The data is real: tests/data/lab-capture.pcap was captured on the emulated lab's switch, and the
Zeek logs and CSV describe the same flows (tests/data/zeek/README.md). Malformed input must only
ever fail with InputError naming the file (and the line, for text).
"""

from __future__ import annotations

import gzip
import os
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import dns.message
import dns.rrset
import dpkt
import pytest
from conftest import DATA
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import scanner.collect.flows.live as capture_mod
from scanner.collect.flows import (
    FORMATS,
    DnsAnswer,
    FlowRecord,
    FlowStats,
    ReadStats,
    capture,
    read_flows,
    sniff_format,
    summarize,
)
from scanner.collect.flows.pcap import _Seen
from scanner.errors import CannotRunError, InputError

PCAP = DATA / "lab-capture.pcap"
ZEEK = DATA / "zeek"
CSV = DATA / "flows.csv"
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
CONN_HEADER = (ZEEK / "conn.log").read_text().split("\n")[:8]
DNS_HEADER = (ZEEK / "dns.log").read_text().split("\n")[:8]
CSV_HEADER = "timestamp,src_ip,dst_ip,dst_port,transport,bytes,dns_query\n"

HIK, DAHUA, AXIS, SCANNER = "198.51.100.11", "198.51.100.13", "198.51.100.14", "198.51.100.2"
RESOLVER = "203.0.113.53"
# What happened in the lab during the capture (see tests/data/zeek/README.md): (flow) -> count.
LAB_FLOWS = {
    (DAHUA, RESOLVER, 53, "udp"): 2, (DAHUA, "203.0.113.101", 443, "tcp"): 2,
    (HIK, RESOLVER, 53, "udp"): 4, (HIK, "203.0.113.100", 443, "tcp"): 2, (HIK, "203.0.113.102", 443, "tcp"): 2,
    (SCANNER, AXIS, 80, "tcp"): 1, (SCANNER, HIK, 80, "tcp"): 1, (SCANNER, RESOLVER, 53, "udp"): 3,
    (SCANNER, "203.0.113.100", 443, "tcp"): 1,
}
LAB_DNS = [  # (client, name, addresses) in capture order; unknown.invalid got NXDOMAIN: no answer
    (DAHUA, "openapi.easy4ip.com", ("203.0.113.101",)), (HIK, "api.hik-connect.com", ("203.0.113.100",)),
    (HIK, "www.hik-connect.com", ("203.0.113.102",)), (SCANNER, "api.hik-connect.com", ("203.0.113.100",)),
    (SCANNER, "www.hik-connect.com", ("203.0.113.102",)), (DAHUA, "openapi.easy4ip.com", ("203.0.113.101",)),
    (HIK, "api.hik-connect.com", ("203.0.113.100",)), (HIK, "www.hik-connect.com", ("203.0.113.102",)),
]


def flows_of(records: list[FlowRecord | DnsAnswer]) -> list[FlowRecord]:
    return [r for r in records if isinstance(r, FlowRecord)]


def answers_of(records: list[FlowRecord | DnsAnswer]) -> list[DnsAnswer]:
    return [r for r in records if isinstance(r, DnsAnswer)]


def flow_counts(records: list[FlowRecord | DnsAnswer]) -> dict[tuple[str, str, int | None, str], int]:
    return {key: stats.connections for key, stats in summarize(records).flows.items()}


def write(tmp_path: Path, name: str, data: bytes | str) -> str:
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return str(path)


def error_of(path: str, fmt: str | None = None) -> InputError:
    with pytest.raises(InputError) as info:
        list(read_flows(path, fmt))
    return info.value


# --- each format ----------------------------------------------------------------------------

def test_pcap_gives_connection_starts_and_dns_answers() -> None:
    stats = ReadStats()
    records = list(read_flows(str(PCAP), stats=stats))
    assert flow_counts(records) == LAB_FLOWS
    assert [(a.client_ip, a.query, a.answers) for a in answers_of(records)] == LAB_DNS
    assert records[:3] == [
        FlowRecord(1795395682.547018, DAHUA, RESOLVER, 53, "udp", None),
        DnsAnswer(1795395682.549746, DAHUA, "openapi.easy4ip.com", ("203.0.113.101",)),
        FlowRecord(1795395682.551326, DAHUA, "203.0.113.101", 443, "tcp", None),
    ]
    assert stats.units == 110 and stats.records == 26 and stats.skipped == 0  # ARP frames are not flows


def test_zeek_conn_log_describes_the_capture() -> None:
    conn = flows_of(list(read_flows(str(ZEEK / "conn.log"))))
    assert flow_counts(list(conn)) == LAB_FLOWS
    pcap = flows_of(list(read_flows(str(PCAP))))
    assert sorted((r.ts, r.src_ip, r.dst_ip, r.dst_port) for r in conn) == sorted(
        (r.ts, r.src_ip, r.dst_ip, r.dst_port) for r in pcap)
    first = conn[1]
    assert first == FlowRecord(1795395682.551326, DAHUA, "203.0.113.101", 443, "tcp", 216 + 112, bytes_out=216)


def test_zeek_dns_log_gives_the_answers_of_the_capture() -> None:
    records = list(read_flows(str(ZEEK / "dns.log")))
    answers = answers_of(records)
    assert len(answers) == len(records)
    assert [(a.client_ip, a.query, a.answers) for a in answers] == LAB_DNS  # NXDOMAIN entry: no record
    assert answers[0].ts == 1795395682.547018  # dns.log's ts is the query's


@pytest.mark.parametrize("log", ["conn", "dns"])
def test_zeek_json_equals_tsv(log: str) -> None:
    assert list(read_flows(str(ZEEK / f"{log}.json.log"))) == list(read_flows(str(ZEEK / f"{log}.log")))


def test_zeek_json_variants(tmp_path: Path) -> None:
    """ISO 8601 times (json_timestamps), underscore keys, and unset fields left out."""
    line = ('{"ts":"2026-11-23T01:01:22.551326Z","id_orig_h":"198.51.100.13","id_orig_p":55312,'
            '"id_resp_h":"203.0.113.101","id_resp_p":443,"proto":"tcp","conn_state":"S0"}\n')
    [rec] = read_flows(write(tmp_path, "c.log", line), "zeek-json-conn")
    assert rec == FlowRecord(1795395682.551326, DAHUA, "203.0.113.101", 443, "tcp", None)


def test_zeek_dns_answers_keep_addresses_only(tmp_path: Path) -> None:
    row = (f"1795395682.5\tCx\t{HIK}\t5353\t{RESOLVER}\t53\tudp\t1\t0.1\tWWW.Example.COM.\t1\tC_INTERNET\t1\tA\t0\t"
           "NOERROR\tF\tF\tT\tT\t0\tcdn.example.net,203.0.113.9,2001:DB8::1,203.0.113.9\t60.0,60.0,60.0\tF")
    text = "\n".join(DNS_HEADER + [row, "#close\tx"]) + "\n"
    [rec] = read_flows(write(tmp_path, "dns.log", text))
    assert rec == DnsAnswer(1795395682.5, HIK, "www.example.com", ("203.0.113.9", "2001:db8::1"))


def test_csv_records() -> None:
    assert list(read_flows(str(CSV))) == [
        FlowRecord(1795395682.551326, DAHUA, "203.0.113.101", 443, "tcp", 328, "openapi.easy4ip.com"),
        FlowRecord(1795395682.56299, HIK, "203.0.113.100", 443, "tcp", 328, "api.hik-connect.com"),
        FlowRecord(1795395692.577559, HIK, "203.0.113.100", 443, "tcp", 328, "api.hik-connect.com"),
        FlowRecord(1795395682.561318, HIK, RESOLVER, 53, "udp", 146, None),
        FlowRecord(1795395690.0, AXIS, "203.0.113.7", None, "icmp", None, None),
        FlowRecord(None, SCANNER, AXIS, 80, "tcp", None, None),
    ]


def test_csv_column_order_crlf_bom_and_ipv6(tmp_path: Path) -> None:
    text = "\ufeffbytes,transport,dst_port,dst_ip,src_ip,timestamp\r\n10,udp,123,2001:DB8:0:0::7,198.51.100.5,5\r\n"
    [rec] = read_flows(write(tmp_path, "f.csv", text))
    assert rec == FlowRecord(5.0, "198.51.100.5", "2001:db8::7", 123, "udp", 10)


# --- sniffing ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("path", "fmt"), [
    (PCAP, "pcap"), (ZEEK / "conn.log", "zeek-conn"), (ZEEK / "dns.log", "zeek-dns"),
    (ZEEK / "conn.json.log", "zeek-json-conn"), (ZEEK / "dns.json.log", "zeek-json-dns"), (CSV, "csv"),
])
def test_sniff_format(path: Path, fmt: str) -> None:
    assert sniff_format(str(path)) == fmt
    assert fmt in FORMATS


def test_gzipped_logs_are_read(tmp_path: Path) -> None:
    path = write(tmp_path, "conn.log.gz", gzip.compress((ZEEK / "conn.log").read_bytes()))
    assert sniff_format(path) == "zeek-conn"
    assert list(read_flows(path)) == list(read_flows(str(ZEEK / "conn.log")))


def test_sniff_refuses_unknown_input(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot tell the format") as info:
        sniff_format(write(tmp_path, "x.txt", "hello,world\n"))
    assert info.value.line == 1
    with pytest.raises(InputError, match="unknown flows format"):
        list(read_flows(str(CSV), "netflow"))
    with pytest.raises(InputError, match="no such file"):
        sniff_format(str(tmp_path / "missing"))


# --- pcap variants: pcapng, Linux cooked, raw IP, AAAA, damage ---------------------------------

def lab_packets() -> list[tuple[float, bytes]]:
    with open(PCAP, "rb") as handle:
        return [(float(ts), bytes(frame)) for ts, frame in dpkt.pcap.Reader(handle)]


def write_pcap(path: Path, packets: list[tuple[float, bytes]], linktype: int = dpkt.pcap.DLT_EN10MB) -> str:
    with open(path, "wb") as handle:
        writer = dpkt.pcap.Writer(handle, snaplen=512, linktype=linktype)
        for ts, frame in packets:
            writer.writepkt(frame, ts=ts)
    return str(path)


def test_pcapng_gives_the_same_records(tmp_path: Path) -> None:
    path = tmp_path / "lab.pcapng"
    with open(path, "wb") as handle:
        writer = dpkt.pcapng.Writer(handle, snaplen=512, linktype=dpkt.pcap.DLT_EN10MB)
        for ts, frame in lab_packets():
            writer.writepkt(frame, ts=ts)
    assert sniff_format(str(path)) == "pcapng"
    got = list(read_flows(str(path)))
    want = list(read_flows(str(PCAP)))
    assert [(type(r), r.ts and round(r.ts, 6)) for r in got] == [(type(r), r.ts) for r in want]
    assert flow_counts(got) == LAB_FLOWS


@pytest.mark.parametrize("linktype", [113, 276, 101])
def test_linux_cooked_and_raw_ip_captures(tmp_path: Path, linktype: int) -> None:
    packets = []
    for ts, frame in lab_packets():
        eth = dpkt.ethernet.Ethernet(frame)
        payload = bytes(eth.data)
        if linktype == 113:
            header = struct.pack(">HHH8sH", 0, 1, 6, eth.src + b"\0\0", eth.type)
        elif linktype == 276:
            header = struct.pack(">HHiHBB8s", eth.type, 0, 3, 1, 0, 6, eth.src + b"\0\0")
        elif isinstance(eth.data, dpkt.ip.IP):
            header = b""
        else:
            continue  # raw IP captures hold no ARP
        packets.append((ts, header + payload))
    records = list(read_flows(write_pcap(tmp_path / "c.pcap", packets, linktype), "pcap"))
    assert flow_counts(records) == LAB_FLOWS
    assert len(answers_of(records)) == len(LAB_DNS)


def udp_frame(src: str, dst: str, sport: int, dport: int, payload: bytes) -> bytes:
    family = socket.AF_INET6 if ":" in src else socket.AF_INET
    udp = dpkt.udp.UDP(sport=sport, dport=dport, data=payload)
    udp.ulen = len(udp)
    if family == socket.AF_INET6:
        ip: dpkt.Packet = dpkt.ip6.IP6(src=socket.inet_pton(family, src), dst=socket.inet_pton(family, dst),
                                       nxt=17, hlim=64, data=udp, plen=len(udp))
        kind = dpkt.ethernet.ETH_TYPE_IP6
    else:
        ip = dpkt.ip.IP(src=socket.inet_pton(family, src), dst=socket.inet_pton(family, dst), p=17, data=udp)
        ip.len = len(ip)
        kind = dpkt.ethernet.ETH_TYPE_IP
    return bytes(dpkt.ethernet.Ethernet(src=b"\x02" * 6, dst=b"\x04" * 6, type=kind, data=ip))


def test_aaaa_answers_over_ipv6(tmp_path: Path) -> None:
    """A constructed exchange (the lab has no IPv6): documentation prefix 2001:db8::/32 only."""
    query = dns.message.make_query("cloud.example", "AAAA")
    reply = dns.message.make_response(query)
    reply.answer.append(dns.rrset.from_text("cloud.example.", 60, "IN", "AAAA", "2001:db8::53:1", "2001:db8::53:2"))
    client, server = "2001:db8::10", "2001:db8::53"
    path = write_pcap(tmp_path / "v6.pcap", [(1.0, udp_frame(client, server, 40000, 53, query.to_wire())),
                                             (1.5, udp_frame(server, client, 53, 40000, reply.to_wire()))])
    flow, answer = read_flows(path)
    assert flow == FlowRecord(1.0, client, server, 53, "udp", None)
    assert isinstance(answer, DnsAnswer)
    assert (answer.ts, answer.client_ip, answer.query) == (1.5, client, "cloud.example")
    assert sorted(answer.answers) == ["2001:db8::53:1", "2001:db8::53:2"]  # dnspython orders an rrset freely


def test_dns_reply_without_its_query_is_the_clients_flow(tmp_path: Path) -> None:
    reply = dns.message.make_response(dns.message.make_query("x.example", "A"))
    reply.answer.append(dns.rrset.from_text("x.example.", 60, "IN", "A", "203.0.113.9"))
    path = write_pcap(tmp_path / "r.pcap", [(2.0, udp_frame(RESOLVER, HIK, 53, 41000, reply.to_wire()))])
    assert list(read_flows(path)) == [FlowRecord(2.0, HIK, RESOLVER, 53, "udp", None),
                                      DnsAnswer(2.0, HIK, "x.example", ("203.0.113.9",))]


def test_undecodable_packets_are_skipped_and_counted(tmp_path: Path) -> None:
    packets = lab_packets()
    broken = [(0.5, packets[2][1][:20]), (0.6, b""), (0.7, packets[2][1][:40])] + packets
    stats = ReadStats()
    records = list(read_flows(write_pcap(tmp_path / "b.pcap", broken), stats=stats))
    assert flow_counts(records) == LAB_FLOWS
    assert stats.skipped == 3
    assert stats.skip_reasons == {"undecodable packet": 1, "truncated IP header": 1, "truncated UDP header": 1}


def test_pcap_cut_off_mid_packet_keeps_what_was_read(tmp_path: Path) -> None:
    data = PCAP.read_bytes()
    stats = ReadStats()
    records = list(read_flows(write(tmp_path, "cut.pcap", data[:5000]), stats=stats))
    assert 0 < len(records) < 26
    assert set(flow_counts(records)) <= set(LAB_FLOWS)
    records = list(read_flows(write(tmp_path, "cut2.pcap", data[:24 + 10]), stats=stats))
    assert records == [] and stats.skip_reasons["truncated or damaged record (rest of file unread)"] == 1


def test_pcap_with_impossible_record_length_is_an_error(tmp_path: Path) -> None:
    header = PCAP.read_bytes()[:24]
    record = struct.pack("<IIII", 1, 0, 2_000_000_000, 2_000_000_000)
    err = error_of(write(tmp_path, "huge.pcap", header + record + b"x" * 100))
    assert "claims 2000000000 bytes" in err.message and str(err.file).endswith("huge.pcap")


def test_pcap_unsupported_link_type(tmp_path: Path) -> None:
    err = error_of(write_pcap(tmp_path / "wifi.pcap", [(1.0, b"\0" * 40)], linktype=105))
    assert "link type 105 is not supported" in err.message


def test_not_a_capture(tmp_path: Path) -> None:
    assert "not a readable pcapng" in error_of(write(tmp_path, "x", b"\x0a\x0d\x0d\x0a" + b"\0" * 8), "pcapng").message
    assert "not a readable pcap" in error_of(write(tmp_path, "y", b"GIF89a"), "pcap").message


def test_flow_memory_is_bounded() -> None:
    seen = _Seen(limit=3)
    for i in range(10):
        seen.add(("udp", i))
    assert len(seen.keys) == 3 and ("udp", 9) in seen and ("udp", 0) not in seen


# --- truncated and malformed text --------------------------------------------------------------

def test_truncated_zeek_log_keeps_complete_lines(tmp_path: Path) -> None:
    lines = (ZEEK / "conn.log").read_text().split("\n")
    body = lines[:-2]  # no #close, as when Zeek was killed
    complete = "\n".join(body)  # last line complete but without its newline: fine
    assert len(list(read_flows(write(tmp_path, "a.log", complete), "zeek-conn"))) == 18
    cut = complete[: complete.rindex("\t")]  # last line cut off inside its fields: an error on that line
    got: list[FlowRecord | DnsAnswer] = []
    with pytest.raises(InputError) as info:
        for rec in read_flows(write(tmp_path, "b.log", cut), "zeek-conn"):
            got.append(rec)
    assert len(got) == 17
    assert info.value.line == len(body)
    assert info.value.message == "zeek conn.log: 20 fields, #fields header says 21 (last line, cut off?)"


def test_zeek_field_count_mismatch_names_line(tmp_path: Path) -> None:
    text = "\n".join(CONN_HEADER + ["1.0\tC1\t198.51.100.1\t1\t203.0.113.1\t80\ttcp"]) + "\n"
    err = error_of(write(tmp_path, "conn.log", text))
    assert (err.line, err.message) == (9, "zeek conn.log: 7 fields, #fields header says 21")
    assert str(err).startswith(f"{tmp_path / 'conn.log'}:9: ")


def test_zeek_header_problems(tmp_path: Path) -> None:
    assert "data before the #fields" in error_of(write(tmp_path, "a.log", "1.0\tx\n"), "zeek-conn").message
    err = error_of(str(ZEEK / "dns.log"), "zeek-conn")
    assert (err.line, err.message) == (5, "zeek log: #path is dns, but this is read as conn.log")
    bad_types = "\n".join(CONN_HEADER[:7] + ["#types\ttime\tstring"]) + "\n"
    assert "#types has 2 entries" in error_of(write(tmp_path, "b.log", bad_types), "zeek-conn").message
    assert "lacks id.resp_h" in error_of(write(tmp_path, "c.log", "#fields\tts\tid.orig_h\tproto\n"), "zeek-conn").message


@pytest.mark.parametrize(("field", "value", "message"), [
    (2, "198.51.100.300", "id.orig_h '198.51.100.300' is not an IP address"),
    (4, "not-an-ip", "id.resp_h 'not-an-ip' is not an IP address"),
    (5, "70000", "id.resp_p 70000 is not a port number"),
    (5, "８０", "id.resp_p '８０' is not a port number"),
    (0, "nan", "ts 'nan' is not a time"),
    (6, "sctp", "proto 'sctp' is not tcp, udp, icmp"),
    (17, "-5", "orig_ip_bytes '-5' is not a non-negative integer"),
])
def test_zeek_bad_values(tmp_path: Path, field: int, value: str, message: str) -> None:
    row = (ZEEK / "conn.log").read_text().split("\n")[8].split("\t")
    row[field] = value
    err = error_of(write(tmp_path, "conn.log", "\n".join(CONN_HEADER + ["\t".join(row)]) + "\n"))
    assert err.line == 9 and message in err.message


def test_zeek_json_problems(tmp_path: Path) -> None:
    good = (ZEEK / "conn.json.log").read_text().split("\n")[0]
    cases = [
        (good.replace('"id.resp_p":53', '"id.resp_p":true'), "id.resp_p True is not a port number"),
        (good.replace('"198.51.100.13"', '"198.51.100.013"'), "is not an IP address"),
        ("[1, 2]", "a JSON line must be an object"),
        ('{"ts": 1', "not JSON"),
        ("[" * 100_000 + "]" * 100_000, "line longer than"),
        ("[" * 30_000 + "]" * 30_000, "zeek conn.log: "),
        (good.replace('"proto":"udp",', ""), "no 'proto'"),
        ('{"ts":1' + "0" * 400 + ',"id.orig_h":"198.51.100.1","id.resp_h":"203.0.113.5","proto":"tcp"}',
         "ts 1000000000000"),   # an integer too large for a float: was an internal error
    ]
    for text, message in cases:
        err = error_of(write(tmp_path, "c.log", good + "\n" + text + "\n"), "zeek-json-conn")
        assert err.line == 2 and message in err.message, (text[:40], err)


def test_csv_missing_columns_is_an_error_on_line_1(tmp_path: Path) -> None:
    path = write(tmp_path, "f.csv", "time,src_ip,dst_ip,port,transport\n1,198.51.100.1,203.0.113.1,80,tcp\n")
    err = error_of(path, "csv")
    assert (err.file, err.line) == (path, 1)
    assert "timestamp, dst_port, bytes" in err.message
    assert str(err).startswith(f"{path}:1: csv: header lacks required column(s)")


@pytest.mark.parametrize(("row", "message"), [
    ("1,198.51.100.1,203.0.113.1,80,tcp", "5 fields, the header has 7"),
    ("1,198.51.100.1,203.0.113.1,80,tcp,1,x,extra", "8 fields, the header has 7"),
    ("1,198.51.100.1,203.0.113.999,80,tcp,1,", "dst_ip '203.0.113.999' is not an IP address"),
    ("1,198.51.100.1,203.0.113.1,65536,tcp,1,", "dst_port 65536 is not a port number"),
    ("1,198.51.100.1,203.0.113.1,-1,tcp,1,", "dst_port '-1' is not a port number"),
    ("1,198.51.100.1,203.0.113.1,80,sctp,1,", "transport 'sctp' is not one of tcp, udp, icmp, other"),
    ("1,198.51.100.1,203.0.113.1,80,tcp,1.5,", "bytes '1.5' is not a non-negative integer"),
    ("yesterday,198.51.100.1,203.0.113.1,80,tcp,1,", "timestamp 'yesterday' is neither"),
    ("inf,198.51.100.1,203.0.113.1,80,tcp,1,", "timestamp 'inf' is not a time"),
    ('1,198.51.100.1,203.0.113.1,80,tcp,1,"a\x01b"', "dns_query 'a\\x01b' is not a DNS name"),
    ('1,"198.51.100.1,203.0.113.1,80,tcp,1,', "csv: unexpected end of data"),
])
def test_csv_bad_rows(tmp_path: Path, row: str, message: str) -> None:
    good = "1,198.51.100.1,203.0.113.1,80,tcp,1,\n"
    err = error_of(write(tmp_path, "f.csv", CSV_HEADER + good + row + "\n"), "csv")
    assert err.line == 3 and message in err.message, err


@pytest.mark.parametrize(("row", "message"), [
    ("1,198.51.100.1,203.0.113.1,80,tcp,100,x", "bytes_out 'x' is not a non-negative integer"),
    ("1,198.51.100.1,203.0.113.1,80,tcp,100,101", "bytes_out 101 is more than bytes 100 (both directions)"),
])
def test_csv_bytes_out(tmp_path: Path, row: str, message: str) -> None:
    """The optional ``bytes_out`` column (what src_ip sent, as NetFlow exports say): summed apart
    from ``bytes``; empty is unknown; a bad value or more than both directions is an error."""
    header = "timestamp,src_ip,dst_ip,dst_port,transport,bytes,bytes_out\n"
    good = "1,198.51.100.1,203.0.113.1,80,tcp,100,60\n2,198.51.100.1,203.0.113.1,80,tcp,50,\n"
    path = write(tmp_path, "f.csv", header + good)
    summary = summarize(read_flows(path, "csv"))
    assert summary.flows[("198.51.100.1", "203.0.113.1", 80, "tcp")] == FlowStats(1.0, 2.0, 2, 150, 60)
    err = error_of(write(tmp_path, "g.csv", header + good + row + "\n"), "csv")
    assert err.line == 4 and message in err.message, err


@pytest.mark.parametrize("fmt", ["csv", "zeek-conn", "zeek-json-conn"])
def test_invalid_utf8_names_its_line(tmp_path: Path, fmt: str) -> None:
    good = {"csv": [CSV_HEADER.strip(), "1,198.51.100.1,203.0.113.1,80,tcp,1,"],
            "zeek-conn": CONN_HEADER,
            "zeek-json-conn": [(ZEEK / "conn.json.log").read_text().split("\n")[0]]}[fmt]
    data = ("\n".join(good) + "\n").encode() + b"1,2\xff\xfe3\n"
    err = error_of(write(tmp_path, "f", data), fmt)
    assert (err.line, err.message) == (len(good) + 1, "invalid UTF-8 (byte 4 of the line)")


@pytest.mark.parametrize("fmt", ["csv", "zeek-dns", "zeek-json-dns"])
def test_overlong_line_names_its_line(tmp_path: Path, fmt: str) -> None:
    head = {"csv": CSV_HEADER, "zeek-dns": "\n".join(DNS_HEADER) + "\n", "zeek-json-dns": ""}[fmt]
    data = head + "x" * 70_000 + "\n"
    err = error_of(write(tmp_path, "f", data), fmt)
    assert err.message == "line longer than 65536 bytes"
    assert err.line == head.count("\n") + 1
    unterminated = head + "x" * (3 * 1024 * 1024)  # no newline at all: still bounded
    assert error_of(write(tmp_path, "g", unterminated), fmt).line == head.count("\n") + 1


def test_size_limit(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="larger than 100 bytes"):
        list(read_flows(str(CSV), max_bytes=100))


# --- summary ------------------------------------------------------------------------------------

def test_summary_of_zeek_logs_ties_names_to_destinations() -> None:
    summary = summarize(read_flows(str(ZEEK / "conn.log")))
    summary = summarize(read_flows(str(ZEEK / "dns.log")), summary)
    stats = summary.flows[(HIK, "203.0.113.100", 443, "tcp")]
    assert stats == FlowStats(first_ts=1795395682.56299, last_ts=1795395692.577559, connections=2, bytes=656,
                              bytes_out=2 * 216)
    assert summary.names["203.0.113.100"] == {"api.hik-connect.com"}
    assert (summary.records, summary.dns_answers) == (18, 8)


def test_summary_of_csv_uses_its_dns_names_and_sums_bytes() -> None:
    summary = summarize(read_flows(str(CSV)))
    hik = summary.flows[(HIK, "203.0.113.100", 443, "tcp")]
    assert (hik.connections, hik.bytes, hik.first_ts, hik.last_ts) == (2, 656, 1795395682.56299, 1795395692.577559)
    assert summary.flows[(SCANNER, AXIS, 80, "tcp")] == FlowStats(None, None, 1, None)
    assert summary.names == {"203.0.113.101": {"openapi.easy4ip.com"}, "203.0.113.100": {"api.hik-connect.com"}}


# --- capture ------------------------------------------------------------------------------------

def test_capture_needs_tcpdump(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(capture_mod.shutil, "which", lambda name: None)
    with pytest.raises(CannotRunError, match="tcpdump is not installed"):
        capture("eth0", 1, str(tmp_path / "c.pcap"))


def test_capture_needs_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(capture_mod.shutil, "which", lambda name: "/usr/bin/" + name)
    monkeypatch.setattr(capture_mod.os, "geteuid", lambda: 1000)
    with pytest.raises(CannotRunError, match="needs root"):
        capture("eth0", 1, str(tmp_path / "c.pcap"))


@pytest.mark.parametrize(("iface", "seconds", "netns"), [("-w/etc/x", 1, None), ("eth0", 0, None),
                                                          ("eth0", 1, "a b"), ("eth0", 1.5, None)])
def test_capture_refuses_bad_arguments(iface: str, seconds: int, netns: str | None) -> None:
    with pytest.raises(InputError, match="capture: "):
        capture(iface, seconds, "/tmp/never.pcap", netns)


def test_capture_argv() -> None:
    if not shutil.which("tcpdump"):
        pytest.skip("tcpdump is not installed")
    argv = capture_mod.capture_argv("br0", "/tmp/x.pcap", "csflo-sw")
    assert argv[:4] == ["ip", "netns", "exec", "csflo-sw"]
    assert argv[5:] == ["-i", "br0", "-n", "-U", "-s", "512", "-Z", "root", "-w", "/tmp/x.pcap"]


def needs_root_and_tcpdump() -> None:
    if os.geteuid() != 0 or not shutil.which("tcpdump") or not shutil.which("ip"):
        pytest.skip("needs root, tcpdump and iproute2")


def test_capture_reports_tcpdump_failure(tmp_path: Path) -> None:
    needs_root_and_tcpdump()
    with pytest.raises(CannotRunError, match="tcpdump stopped after starting"):
        capture("nosuchif0", 5, str(tmp_path / "c.pcap"))


@pytest.mark.lab
def test_capture_in_the_lab(lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A real capture on the lab switch while the scanner namespace fetches a device's page."""
    needs_root_and_tcpdump()
    out = tmp_path / "live.pcap"
    worker = threading.Thread(target=capture, args=("br0", 4, str(out), f"{lab.prefix}-sw"))
    worker.start()
    time.sleep(1.5)
    subprocess.run(["ip", "netns", "exec", lab.scanner_ns, sys.executable, "-c",
                    "import socket; socket.create_connection(('198.51.100.14', 80), timeout=5).close()"],
                   check=True, timeout=30)
    worker.join(timeout=30)
    assert sniff_format(str(out)) == "pcap"
    records = list(read_flows(str(out)))
    assert any(isinstance(r, FlowRecord) and (r.src_ip, r.dst_ip, r.dst_port, r.transport)
               == ("198.51.100.2", "198.51.100.14", 80, "tcp") for r in records)


# --- property-based: hostile input only ever gives InputError -----------------------------------

def read_all(path: str, fmt: str) -> None:
    try:
        for rec in read_flows(path, fmt):
            assert isinstance(rec, FlowRecord | DnsAnswer)
    except InputError as exc:
        assert exc.file == path


TEXT_LINE = st.text(alphabet=st.sampled_from("\t,-.:\"{}[]0123456789abcdef #()\\xé"), max_size=120)


@FUZZ
@given(st.binary(max_size=3000), st.sampled_from(["zeek-conn", "zeek-dns"]))
def test_zeek_tsv_arbitrary_bytes(tmp_path_factory: pytest.TempPathFactory, data: bytes, fmt: str) -> None:
    header = CONN_HEADER if fmt == "zeek-conn" else DNS_HEADER
    path = tmp_path_factory.mktemp("fz") / "x.log"
    path.write_bytes(("\n".join(header) + "\n").encode() + data)
    read_all(str(path), fmt)


@FUZZ
@given(st.lists(st.lists(TEXT_LINE, min_size=1, max_size=25), max_size=6), st.sampled_from(["zeek-conn", "zeek-dns"]))
def test_zeek_tsv_arbitrary_lines(tmp_path_factory: pytest.TempPathFactory, rows: list[list[str]], fmt: str) -> None:
    header = CONN_HEADER if fmt == "zeek-conn" else DNS_HEADER
    path = tmp_path_factory.mktemp("fz") / "x.log"
    path.write_text("\n".join(header + ["\t".join(r) for r in rows]))
    read_all(str(path), fmt)


JSON_VALUE = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                          lambda inner: st.lists(inner, max_size=3), max_leaves=5)
JSON_KEYS = st.sampled_from(["ts", "id.orig_h", "id.resp_h", "id.resp_p", "id.orig_p", "proto", "orig_ip_bytes",
                             "resp_bytes", "query", "answers", "_path", "id_orig_h"])


@FUZZ
@given(st.lists(st.dictionaries(JSON_KEYS, JSON_VALUE, max_size=8) | st.binary(max_size=200).map(repr), max_size=5),
       st.sampled_from(["zeek-json-conn", "zeek-json-dns"]))
def test_zeek_json_arbitrary_lines(tmp_path_factory: pytest.TempPathFactory, lines: list[object], fmt: str) -> None:
    import json

    path = tmp_path_factory.mktemp("fz") / "x.log"
    text = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines)
    path.write_text(text)
    read_all(str(path), fmt)


@FUZZ
@given(st.binary(max_size=3000))
def test_zeek_json_arbitrary_bytes(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    path = tmp_path_factory.mktemp("fz") / "x.log"
    path.write_bytes(data)
    read_all(str(path), "zeek-json-conn")


@FUZZ
@given(st.binary(max_size=3000) | st.lists(st.lists(TEXT_LINE, max_size=9), max_size=6).map(
    lambda rows: "\n".join(",".join(r) for r in rows).encode()))
def test_csv_arbitrary_input(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    path = tmp_path_factory.mktemp("fz") / "x.csv"
    path.write_bytes(CSV_HEADER.encode() + data)
    read_all(str(path), "csv")


PCAP_HEADER = PCAP.read_bytes()[:24]
LAB_FRAMES = [frame for _, frame in lab_packets()]


@FUZZ
@given(st.binary(max_size=4000))
def test_pcap_arbitrary_bytes_after_header(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    path = tmp_path_factory.mktemp("fz") / "x.pcap"
    path.write_bytes(PCAP_HEADER + data)
    read_all(str(path), "pcap")


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(LAB_FRAMES), st.integers(0, 200), st.binary(max_size=60)), max_size=8),
       st.sampled_from([1, 113, 276, 101]))
def test_pcap_corrupted_frames(tmp_path_factory: pytest.TempPathFactory,
                               frames: list[tuple[bytes, int, bytes]], linktype: int) -> None:
    """Well-framed records whose packets are real frames cut and overwritten at random."""
    packets = [(1.0, (frame[:cut] + junk + frame[cut + len(junk):])[:512]) for frame, cut, junk in frames]
    path = write_pcap(tmp_path_factory.mktemp("fz") / "x.pcap", packets, linktype)
    read_all(path, "pcap")


@FUZZ
@given(st.binary(max_size=3000))
def test_pcapng_arbitrary_bytes_after_header(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    head = tmp_path_factory.mktemp("fz") / "h.pcapng"
    with open(head, "wb") as handle:
        dpkt.pcapng.Writer(handle, snaplen=512, linktype=1)
    path = head.with_name("x.pcapng")
    path.write_bytes(head.read_bytes() + data)
    read_all(str(path), "pcapng")
