"""Re-record tests/data/lab-capture.pcap in the emulated lab and derive the Zeek logs from it (root).

Run: ``sudo .venv/bin/python tests/data/zeek/record.py``. See README.md next to this file.

1. ``lab.up`` with three cameras (prefix ``csflo``); IPv6 is switched off in the lab namespaces so
   the capture holds only documentation-range addresses (no fe80::/ff02:: neighbour discovery).
2. ``scanner.flows.capture`` runs tcpdump on the lab switch's bridge (namespace ``csflo-sw``)
   while the scanner namespace makes real HTTP requests to two cameras, asks the lab's DNS server
   (dnspython, in namespace ``csflo-cloud``) for two vendor cloud names and one unknown name, and
   connects to the cloud address it got; meanwhile the Hikvision and Dahua emulators look up and
   connect to their vendors' cloud endpoints, as the real devices do.
3. Zeek is not packaged in Debian, so conn.log / dns.log (TSV) and conn.json.log / dns.json.log
   (JSON lines) are written by :func:`write_logs` below from the packets of that capture, in the
   layout of Zeek 6's ASCII writer (field lists, types, ``-``/``(empty)``, ``#open``/``#close``,
   per zeek/zeek-docs log-formats.rst): one conn entry per connection with Zeek's meaning of
   duration, payload bytes, history letters, packet and IP byte counts; one dns entry per query.
"""

from __future__ import annotations

import json
import random
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dpkt

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from scanner.collect.flows import capture  # noqa: E402
from scanner.lab import lab, netns  # noqa: E402

PREFIX = "csflo"
DEVICES = ["hikvision-camera", "dahua-camera", "axis-camera"]
PCAP = ROOT / "tests" / "data" / "lab-capture.pcap"
OUT = ROOT / "tests" / "data" / "zeek"
SECONDS = 14

CLIENT = """
import socket, dns.message, dns.query, dns.rdatatype
answers = {}
for name in ("api.hik-connect.com", "www.hik-connect.com", "unknown.invalid"):
    reply = dns.query.udp(dns.message.make_query(name, dns.rdatatype.A), "203.0.113.53", timeout=3)
    answers[name] = [r.to_text() for rrset in reply.answer for r in rrset]
with socket.create_connection((answers["api.hik-connect.com"][0], 443), timeout=3) as s:
    s.sendall(b"cityscan lab flow\\n")
print(answers)
"""


def traffic(scanner_ns: str) -> None:
    run = lambda *argv: subprocess.run(["ip", "netns", "exec", scanner_ns, *argv], check=True,  # noqa: E731
                                       capture_output=True, timeout=30)
    run("curl", "-s", "-o", "/dev/null", "http://198.51.100.14/")
    time.sleep(0.5)
    run("curl", "-s", "-o", "/dev/null", "http://198.51.100.11/ISAPI/System/deviceInfo")
    time.sleep(0.5)
    run(sys.executable, "-c", CLIENT)


def record() -> None:
    state = lab.up(names=DEVICES, prefix=PREFIX)
    try:
        for ns in netns.list_namespaces():
            if ns.startswith(f"{PREFIX}-"):
                subprocess.run(["ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"],
                               check=True)
        netns.add_onlink_route(state.scanner_ns, lab.CLOUD_NETWORK)  # let the scanner reach the lab "internet"
        PCAP.unlink(missing_ok=True)
        worker = threading.Thread(target=capture, args=("br0", SECONDS, str(PCAP), f"{PREFIX}-sw"))
        worker.start()
        time.sleep(2)
        traffic(state.scanner_ns)
        worker.join()
    finally:
        lab.down(PREFIX)
    print(f"recorded {PCAP} ({PCAP.stat().st_size} bytes)")


# --- Zeek-format logs from the capture -------------------------------------------------------

CONN_FIELDS = ("ts uid id.orig_h id.orig_p id.resp_h id.resp_p proto service duration orig_bytes resp_bytes "
               "conn_state local_orig local_resp missed_bytes history orig_pkts orig_ip_bytes resp_pkts "
               "resp_ip_bytes tunnel_parents").split()
CONN_TYPES = ("time string addr port addr port enum string interval count count string bool bool count string "
              "count count count count set[string]").split()
DNS_FIELDS = ("ts uid id.orig_h id.orig_p id.resp_h id.resp_p proto trans_id rtt query qclass qclass_name qtype "
              "qtype_name rcode rcode_name AA TC RD RA Z answers TTLs rejected").split()
DNS_TYPES = ("time string addr port addr port enum count interval string count string count string count string "
             "bool bool bool bool count vector[string] vector[interval] bool").split()
RCODES = {0: "NOERROR", 2: "SERVFAIL", 3: "NXDOMAIN", 5: "REFUSED"}
QTYPES = {1: "A", 28: "AAAA"}


@dataclass
class Conn:
    ts: float
    orig: tuple[str, int]
    resp: tuple[str, int]
    proto: str
    uid: str
    last: float = 0.0
    pkts: list[int] = field(default_factory=lambda: [0, 0])
    ip_bytes: list[int] = field(default_factory=lambda: [0, 0])
    payload: list[int] = field(default_factory=lambda: [0, 0])
    history: str = ""
    fins: list[bool] = field(default_factory=lambda: [False, False])
    rst: bool = False


def _uid(rng: random.Random) -> str:
    """Zeek's uid shape: 'C' and base62 characters."""
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    return "C" + "".join(rng.choice(alphabet) for _ in range(rng.choice((16, 17, 18))))


def _letter(conn: Conn, direction: int, letter: str) -> None:
    char = letter if direction == 0 else letter.lower()
    if char not in conn.history:
        conn.history += char


def analyse(pcap: Path) -> tuple[list[Conn], list[dict[str, Any]]]:
    """Connections and DNS transactions of the capture (IPv4, TCP/UDP: what the lab sends)."""
    rng = random.Random(20260101)
    conns: dict[tuple[Any, ...], Conn] = {}
    queries: dict[tuple[Any, ...], dict[str, Any]] = {}
    dns: list[dict[str, Any]] = []
    with open(pcap, "rb") as handle:
        for ts, frame in dpkt.pcap.Reader(handle):
            ip = dpkt.ethernet.Ethernet(frame).data
            if not isinstance(ip, dpkt.ip.IP) or not isinstance(ip.data, dpkt.tcp.TCP | dpkt.udp.UDP):
                continue
            l4 = ip.data
            proto = "tcp" if isinstance(l4, dpkt.tcp.TCP) else "udp"
            a = (socket.inet_ntoa(ip.src), l4.sport)
            b = (socket.inet_ntoa(ip.dst), l4.dport)
            conn = conns.get((proto, a, b)) or conns.get((proto, b, a))
            if conn is None:
                conn = conns[(proto, a, b)] = Conn(ts, a, b, proto, _uid(rng))
            direction = 0 if a == conn.orig else 1
            conn.last = ts
            conn.pkts[direction] += 1
            conn.ip_bytes[direction] += ip.len
            size = len(l4.data)
            conn.payload[direction] += size
            if proto == "tcp":
                flags = l4.flags
                if flags & dpkt.tcp.TH_SYN:
                    _letter(conn, direction, "H" if flags & dpkt.tcp.TH_ACK else "S")
                if flags & dpkt.tcp.TH_FIN:
                    _letter(conn, direction, "F")
                    conn.fins[direction] = True
                if flags & dpkt.tcp.TH_RST:
                    _letter(conn, direction, "R")
                    conn.rst = True
                if size:
                    _letter(conn, direction, "D")
                elif flags & dpkt.tcp.TH_ACK and not flags & (dpkt.tcp.TH_SYN | dpkt.tcp.TH_FIN | dpkt.tcp.TH_RST):
                    _letter(conn, direction, "A")
            else:
                if size:
                    _letter(conn, direction, "D")
                if 53 in (l4.sport, l4.dport):
                    msg = dpkt.dns.DNS(l4.data)
                    key = (conn.uid, msg.id)
                    if msg.qr == dpkt.dns.DNS_Q:
                        queries[key] = {"ts": ts, "conn": conn, "msg": msg}
                    elif key in queries:
                        query = queries.pop(key)
                        query.update(reply=msg, rtt=ts - query["ts"])
                        dns.append(query)
    return sorted(conns.values(), key=lambda c: c.ts), sorted(dns, key=lambda d: d["ts"])


def _conn_values(conn: Conn) -> dict[str, Any]:
    service = {("tcp", 80): "http", ("udp", 53): "dns"}.get((conn.proto, conn.resp[1]))
    if conn.proto == "tcp":
        state = ("RSTO" if conn.history.rfind("R") > conn.history.rfind("r") else "RSTR") if conn.rst else \
            "SF" if all(conn.fins) else "S1"
    else:
        state = "SF" if conn.pkts[1] else "S0"
    return {
        "ts": conn.ts, "uid": conn.uid, "id.orig_h": conn.orig[0], "id.orig_p": conn.orig[1],
        "id.resp_h": conn.resp[0], "id.resp_p": conn.resp[1], "proto": conn.proto, "service": service,
        "duration": conn.last - conn.ts, "orig_bytes": conn.payload[0], "resp_bytes": conn.payload[1],
        "conn_state": state, "local_orig": None, "local_resp": None, "missed_bytes": 0, "history": conn.history,
        "orig_pkts": conn.pkts[0], "orig_ip_bytes": conn.ip_bytes[0], "resp_pkts": conn.pkts[1],
        "resp_ip_bytes": conn.ip_bytes[1], "tunnel_parents": None,
    }


def _dns_values(entry: dict[str, Any]) -> dict[str, Any]:
    conn, query, reply = entry["conn"], entry["msg"], entry["reply"]
    question = query.qd[0]
    answers = [socket.inet_ntoa(rr.rdata) for rr in reply.an if rr.type == dpkt.dns.DNS_A]
    ttls = [float(rr.ttl) for rr in reply.an if rr.type == dpkt.dns.DNS_A]
    return {
        "ts": entry["ts"], "uid": conn.uid, "id.orig_h": conn.orig[0], "id.orig_p": conn.orig[1],
        "id.resp_h": conn.resp[0], "id.resp_p": conn.resp[1], "proto": "udp", "trans_id": query.id,
        "rtt": entry["rtt"], "query": question.name, "qclass": question.cls, "qclass_name": "C_INTERNET",
        "qtype": question.type, "qtype_name": QTYPES.get(question.type, str(question.type)),
        "rcode": reply.rcode, "rcode_name": RCODES.get(reply.rcode, str(reply.rcode)),
        "AA": bool(reply.aa), "TC": bool(reply.tc), "RD": bool(reply.rd), "RA": bool(reply.ra), "Z": 0,
        "answers": answers or None, "TTLs": ttls or None, "rejected": False,
    }


def _tsv(value: Any, kind: str) -> str:
    if value is None:
        return "-"
    if kind in ("time", "interval"):
        return f"{value:.6f}"
    if kind == "bool":
        return "T" if value else "F"
    if kind.startswith("vector[interval]"):
        return ",".join(f"{v:.6f}" for v in value) if value else "(empty)"
    if kind.startswith(("vector", "set")):
        return ",".join(value) if value else "(empty)"
    return str(value)


def _json(value: Any, kind: str) -> Any:
    if kind == "time":
        return round(value, 6)
    return value


def write_tsv(path: Path, log: str, names: list[str], types: list[str], rows: list[dict[str, Any]],
              opened: str, closed: str) -> None:
    lines = ["#separator \\x09", "#set_separator\t,", "#empty_field\t(empty)", "#unset_field\t-", f"#path\t{log}",
             f"#open\t{opened}", "#fields\t" + "\t".join(names), "#types\t" + "\t".join(types)]
    lines += ["\t".join(_tsv(row[n], t) for n, t in zip(names, types)) for row in rows]
    lines.append(f"#close\t{closed}")
    path.write_text("\n".join(lines) + "\n")


def write_json(path: Path, names: list[str], types: list[str], rows: list[dict[str, Any]]) -> None:
    out = []
    for row in rows:
        obj = {n: _json(row[n], t) for n, t in zip(names, types) if row[n] is not None}
        out.append(json.dumps(obj, separators=(",", ":")))
    path.write_text("\n".join(out) + "\n")


def write_logs(pcap: Path = PCAP, out: Path = OUT) -> None:
    conns, dns = analyse(pcap)
    stamp = time.strftime("%Y-%m-%d-%H-%M-%S", time.gmtime(pcap.stat().st_mtime))
    conn_rows = [_conn_values(c) for c in conns]
    dns_rows = [_dns_values(d) for d in dns]
    write_tsv(out / "conn.log", "conn", CONN_FIELDS, CONN_TYPES, conn_rows, stamp, stamp)
    write_tsv(out / "dns.log", "dns", DNS_FIELDS, DNS_TYPES, dns_rows, stamp, stamp)
    write_json(out / "conn.json.log", CONN_FIELDS, CONN_TYPES, conn_rows)
    write_json(out / "dns.json.log", DNS_FIELDS, DNS_TYPES, dns_rows)
    print(f"wrote {len(conn_rows)} conn and {len(dns_rows)} dns entries to {out}")


if __name__ == "__main__":
    if "--logs-only" not in sys.argv:
        record()
    write_logs()
