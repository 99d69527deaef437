"""Packet captures (pcap, pcapng) decoded with dpkt: connection starts and DNS answers.

A capture holds every packet; the resolve stage needs who starts talking to whom, and which
names the devices looked up. So one :class:`FlowRecord` per TCP SYN (without ACK) and per first
UDP packet of a 5-tuple (a reply, the reverse tuple, is not a new flow), per first ICMP echo
request and per first packet of another IP protocol between two hosts; and one
:class:`DnsAnswer` per DNS response (UDP, source port 53) with A/AAAA answers. ``bytes`` is None:
a record is emitted at the first packet, before the flow's size is known.

Duplicates are suppressed with an LRU of at most ``MAX_TUPLES`` 5-tuples, so memory stays flat on
any capture (a flow evicted and seen again is reported again: counted twice, never lost).
Link types: Ethernet (with VLAN tags), Linux cooked v1/v2 (``tcpdump -i any``), raw IP. Packets
that cannot be decoded are skipped and counted in :class:`ReadStats`; a file whose framing is
broken (a record length no capture can have) is an InputError.
"""

from __future__ import annotations

import socket
import struct
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

import dpkt

from scanner.collect.flows.inputs import BoundedReader
from scanner.collect.flows.records import DnsAnswer, FlowRecord, ReadStats
from scanner.errors import InputError

PCAP_MAGICS = (b"\xa1\xb2\xc3\xd4", b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\x3c\x4d", b"\x4d\x3c\xb2\xa1")
PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"
MAX_TUPLES = 100_000
# libpcap's largest snapshot length is 262144; a pcapng block adds at most a few hundred bytes of
# header and options. A longer record is corruption (or an attempt to make us allocate).
MAX_RECORD = 262144 + 4096

LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_RAW_OLD = 12          # DLT_RAW on OpenBSD-derived headers, seen in old captures
LINKTYPE_LINUX_SLL = 113
LINKTYPE_LINUX_SLL2 = 276
LINK_NAMES = {LINKTYPE_ETHERNET: "Ethernet", LINKTYPE_RAW: "raw IP", LINKTYPE_RAW_OLD: "raw IP",
              LINKTYPE_LINUX_SLL: "Linux cooked (SLL)", LINKTYPE_LINUX_SLL2: "Linux cooked v2 (SLL2)"}

_TH_SYN, _TH_ACK = dpkt.tcp.TH_SYN, dpkt.tcp.TH_ACK
_ECHO_REQUESTS = {(4, 8), (6, 128)}  # (IP version, ICMP type): echo request, ICMPv4 / ICMPv6
_DNS_A, _DNS_AAAA = dpkt.dns.DNS_A, dpkt.dns.DNS_AAAA
# dpkt and the struct module raise these on truncated or malformed bytes.
_DECODE_ERRORS = (dpkt.UnpackError, struct.error, ValueError, IndexError, KeyError, TypeError, AttributeError,
                  OverflowError)


class _Seen:
    """A bounded set of recent flow keys (least recently seen evicted first)."""

    def __init__(self, limit: int = MAX_TUPLES) -> None:
        self.limit = limit
        self.keys: OrderedDict[tuple[Any, ...], None] = OrderedDict()

    def __contains__(self, key: tuple[Any, ...]) -> bool:
        if key in self.keys:
            self.keys.move_to_end(key)
            return True
        return False

    def add(self, key: tuple[Any, ...]) -> None:
        self.keys[key] = None
        if len(self.keys) > self.limit:
            self.keys.popitem(last=False)


def _open(stream: BoundedReader, fmt: str) -> Any:
    try:
        if fmt == "pcapng":
            return dpkt.pcapng.Reader(stream)
        return dpkt.pcap.Reader(stream)
    except InputError:
        raise
    except (*_DECODE_ERRORS, dpkt.NeedData) as exc:
        raise InputError(f"not a readable {fmt} file ({_why(exc)})", stream.source) from None


def _why(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text[:80] or type(exc).__name__) if not isinstance(exc, dpkt.NeedData) else "cut off"


def read_pcap(stream: BoundedReader, fmt: str, stats: ReadStats,
              max_tuples: int = MAX_TUPLES) -> Iterator[FlowRecord | DnsAnswer]:
    """Records of a pcap or pcapng capture, in packet order."""
    stream.max_read = MAX_RECORD
    reader = _open(stream, fmt)
    link = reader.datalink()
    if link not in LINK_NAMES:
        raise InputError(f"{fmt}: link type {link} is not supported (supported: "
                         f"{', '.join(sorted(set(LINK_NAMES.values())))})", stream.source)
    seen = _Seen(max_tuples)
    packets = iter(reader)
    while True:
        try:
            item = next(packets)
        except StopIteration:
            break
        except InputError:
            raise
        except (*_DECODE_ERRORS, dpkt.NeedData):
            # dpkt cannot frame the next record: the capture was cut off (a killed tcpdump) or
            # its tail is damaged. What was read stands; the tail counts as one skipped packet.
            stats.skip("truncated or damaged record (rest of file unread)")
            break
        stats.units += 1
        ts, frame = item
        try:
            records = _packet(float(ts), frame, link, seen, stats)
        except _DECODE_ERRORS:
            # Third-party decoder on hostile bytes: a packet it cannot take apart is skipped,
            # never the end of the scan.
            stats.skip("undecodable packet")
            continue
        if isinstance(records, str):
            if records:
                stats.skip(records)
            continue
        for record in records:
            stats.records += 1
            yield record


_IP_TYPES = (dpkt.ethernet.ETH_TYPE_IP, dpkt.ethernet.ETH_TYPE_IP6)


def _ip_layer(frame: bytes, link: int) -> tuple[Any, bool]:
    """The IP packet of a frame (or what dpkt made of it), and whether the link layer said IP."""
    if link == LINKTYPE_ETHERNET:
        eth = dpkt.ethernet.Ethernet(frame)
        return eth.data, eth.type in _IP_TYPES
    if link == LINKTYPE_LINUX_SLL:
        sll = dpkt.sll.SLL(frame)
        return sll.data, sll.ethtype in _IP_TYPES
    if link == LINKTYPE_LINUX_SLL2:
        sll2 = dpkt.sll2.SLL2(frame)
        return sll2.data, sll2.ethtype in _IP_TYPES
    version = frame[0] >> 4 if frame else 0
    return (dpkt.ip.IP(frame) if version == 4 else dpkt.ip6.IP6(frame) if version == 6 else None), True


def _packet(ts: float, frame: bytes, link: int, seen: _Seen, stats: ReadStats) -> list[FlowRecord | DnsAnswer] | str:
    """The records one packet gives, or why it gives none ("" when there is nothing to say)."""
    ip, claimed = _ip_layer(frame, link)
    if isinstance(ip, dpkt.ip.IP):
        version, family, proto = 4, socket.AF_INET, ip.p
    elif isinstance(ip, dpkt.ip6.IP6):
        version, family, proto = 6, socket.AF_INET6, ip.p
    else:
        return "truncated IP header" if claimed else ""  # else ARP, LLDP, STP ...: not IP traffic
    src = socket.inet_ntop(family, ip.src)
    dst = socket.inet_ntop(family, ip.dst)
    l4 = ip.data
    if proto == dpkt.ip.IP_PROTO_TCP:
        if not isinstance(l4, dpkt.tcp.TCP):
            return "truncated TCP header" if not _fragment(ip) else ""
        if l4.flags & _TH_SYN and not l4.flags & _TH_ACK:
            key: tuple[Any, ...] = ("tcp", src, l4.sport, dst, l4.dport)
            if key not in seen:
                seen.add(key)
                return [FlowRecord(ts, src, dst, l4.dport, "tcp", None)]
        return []
    if proto == dpkt.ip.IP_PROTO_UDP:
        if not isinstance(l4, dpkt.udp.UDP):
            return "truncated UDP header" if not _fragment(ip) else ""
        answer = None
        if l4.sport == 53:
            try:
                answer = _dns_answer(ts, dst, bytes(l4.data))
            except _DECODE_ERRORS:
                stats.skip("undecodable DNS response")  # the packet still counts as traffic
        out: list[FlowRecord | DnsAnswer] = []
        key = ("udp", src, l4.sport, dst, l4.dport)
        reverse = ("udp", dst, l4.dport, src, l4.sport)
        if key not in seen and reverse not in seen:
            if answer is not None or (l4.sport == 53 and l4.dport != 53):
                seen.add(reverse)  # a DNS reply whose query was not captured: the client's flow
                out.append(FlowRecord(ts, dst, src, 53, "udp", None))
            else:
                seen.add(key)
                out.append(FlowRecord(ts, src, dst, l4.dport, "udp", None))
        if answer is not None:
            out.append(answer)
        return out
    if proto in (dpkt.ip.IP_PROTO_ICMP, dpkt.ip.IP_PROTO_ICMP6):
        kind = l4.type if isinstance(l4, dpkt.icmp.ICMP | dpkt.icmp6.ICMP6) else None
        if (version, kind) in _ECHO_REQUESTS:
            key = ("icmp", src, dst)
            if key not in seen:
                seen.add(key)
                return [FlowRecord(ts, src, dst, None, "icmp", None)]
        return []
    key = ("other", src, dst, proto)
    if key not in seen:
        seen.add(key)
        return [FlowRecord(ts, src, dst, None, "other", None)]
    return []


def _fragment(ip: Any) -> bool:
    """A later fragment carries no transport header: nothing to report, nothing wrong."""
    if isinstance(ip, dpkt.ip.IP):
        return bool(ip.offset)
    return 44 in getattr(ip, "extension_hdrs", {})  # IPv6 fragment header


def _dns_answer(ts: float, client: str, payload: bytes) -> DnsAnswer | None:
    msg = dpkt.dns.DNS(payload)
    if msg.qr != dpkt.dns.DNS_R or not msg.qd:
        return None
    addresses: list[str] = []
    for rr in msg.an:
        if rr.type == _DNS_A and len(rr.rdata) == 4:
            addresses.append(socket.inet_ntop(socket.AF_INET, rr.rdata))
        elif rr.type == _DNS_AAAA and len(rr.rdata) == 16:
            addresses.append(socket.inet_ntop(socket.AF_INET6, rr.rdata))
    name = str(msg.qd[0].name).strip().rstrip(".").lower()
    if not addresses or not name or len(name) > 1024 or not name.isprintable():
        return None
    return DnsAnswer(ts, client, name, tuple(dict.fromkeys(addresses)))
