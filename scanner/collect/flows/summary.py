"""Fold traffic records into a :class:`~scanner.model.flows.FlowSummary`: who talks to what, by which name.

Exact per-address tuples are kept while there are few of them (every lab and most segments);
past ``summary.max_flows`` distinct tuples the summary folds per destination *network* while
reading (the interval over which operator and location are the same, from
:func:`scanner.knowledge.loader.network_index`), so a million connections to hundreds of
thousands of addresses cost memory for the networks only, each looked up once.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterable
from operator import itemgetter

from scanner.collect.flows import zeek
from scanner.collect.flows.inputs import (
    MAX_BYTES,
    BoundedReader,
    canonical_ip,
    decode,
    iter_lines,
    open_input,
)
from scanner.collect.flows.reader import read_flows, sniff_format
from scanner.collect.flows.records import DnsAnswer, FlowRecord, ReadStats
from scanner.errors import InputError
from scanner.knowledge.loader import network_index
from scanner.knowledge.location import Network
from scanner.model.flows import SAMPLES, FlowStats, FlowSummary, NetStats


def _labeller() -> Callable[[str], str]:
    """Address -> its network's label, remembered per address, per network, and per IPv4 /24
    that lies inside one network (so a new address of a known /24 costs one dictionary look-up)."""
    index = network_index()
    by_ip: dict[str, str] = {}
    by_net: dict[int, str] = {}
    by_24: dict[str, str] = {}

    def label(ip: str) -> str:
        found = by_ip.get(ip)
        if found is not None:
            return found
        head = None if ":" in ip else ip.rpartition(".")[0]
        if head is not None:
            found = by_24.get(head)
            if found is not None:
                return found
        net: Network | None = index.network(ip)
        if net is None:
            found = ip
        else:
            found = by_net.get(id(net))
            if found is None:
                found = by_net[id(net)] = ip if net.lo == net.hi else net.label
            if head is not None and net.version == 4:
                base = int.from_bytes(socket.inet_aton(ip), "big") & ~0xFF
                if net.lo <= base and base + 0xFF <= net.hi:
                    by_24[head] = found
                    return found
        by_ip[ip] = found
        return found

    return label


def fold(summary: FlowSummary, label: Callable[[str], str] | None = None) -> None:
    """Move every exact tuple of ``summary.flows`` into ``summary.networks``."""
    label = label or _labeller()
    networks = summary.networks
    for (src, dst, port, transport), stats in summary.flows.items():
        key = (src, label(dst), port, transport)
        agg = networks.get(key)
        if agg is None:
            agg = networks[key] = NetStats()
        agg.add(dst, stats.connections, stats.bytes, stats.first_ts, stats.last_ts)
    summary.flows.clear()


def summarize(records: Iterable[FlowRecord | DnsAnswer], summary: FlowSummary | None = None) -> FlowSummary:
    """Fold records (any number of files, in any order) into one summary; pass ``summary`` to add."""
    out = summary if summary is not None else FlowSummary()
    flows = out.flows
    networks = out.networks
    label: Callable[[str], str] | None = _labeller() if out.folded else None
    limit = out.max_flows
    for rec in records:
        if type(rec) is FlowRecord:
            out.records += 1
            ts = rec.ts
            if label is None:
                key = (rec.src_ip, rec.dst_ip, rec.dst_port, rec.transport)
                stats = flows.get(key)
                if stats is None:
                    if len(flows) >= limit:
                        label = _labeller()
                        fold(out, label)
                    else:
                        stats = flows[key] = FlowStats()
                if stats is not None:
                    stats.connections += 1
                    if ts is not None:
                        if stats.first_ts is None or ts < stats.first_ts:
                            stats.first_ts = ts
                        if stats.last_ts is None or ts > stats.last_ts:
                            stats.last_ts = ts
                    if rec.bytes is not None:
                        stats.bytes = (stats.bytes or 0) + rec.bytes
            if label is not None:
                nkey = (rec.src_ip, label(rec.dst_ip), rec.dst_port, rec.transport)
                agg = networks.get(nkey)
                if agg is None:
                    agg = networks[nkey] = NetStats()
                agg.add(rec.dst_ip, 1, rec.bytes, ts, ts)
            if rec.dns_query:
                out.add_name(rec.dst_ip, rec.dns_query)
        elif isinstance(rec, DnsAnswer):
            out.dns_answers += 1
            for address in rec.answers:
                out.add_name(address, rec.query)
    return out


def summarize_file(path: str, fmt: str | None = None, summary: FlowSummary | None = None,
                   stats: ReadStats | None = None) -> FlowSummary:
    """One flows file folded into ``summary``: Zeek TSV conn.logs on a fast path, every other format
    through :func:`read_flows` and :func:`summarize`.

    The fast path aggregates while it splits each line, validating every distinct value once
    (addresses, ports) instead of every occurrence; a line it does not recognise at a glance
    (an ISO time, a bad field) goes through the reader's own parser, which gives the same record
    or the same error (file, line, what is wrong) as :func:`read_flows`.
    """
    if fmt in (None, "auto"):
        fmt = sniff_format(path)
    out = summary if summary is not None else FlowSummary()
    stats = stats if stats is not None else ReadStats()
    if fmt != "zeek-conn":
        return summarize(read_flows(path, fmt, stats=stats), out)
    with open_input(path, MAX_BYTES) as stream:
        _zeek_conn_fast(stream, out, stats)
    return out


def _ip(text: str, cache: dict[str, str]) -> str:
    """A dotted-quad IPv4 address is its own canonical form once ``inet_pton`` accepts it (strict:
    four decimal parts, no leading zeros); anything else is left to the reader (KeyError)."""
    if len(cache) >= 1_000_000:
        cache.clear()
    if ":" not in text:
        try:
            socket.inet_pton(socket.AF_INET, text)
        except OSError:
            raise KeyError(text) from None
        cache[text] = text
        return text
    value = canonical_ip(text)
    if value is None:
        raise KeyError(text)
    cache[text] = value
    return value


def _port(text: str, cache: dict[str, int]) -> int:
    if not (text.isascii() and text.isdigit() and len(text) <= 5) or int(text) > 65535:
        raise KeyError(text)
    cache[text] = int(text)
    return cache[text]


def _zeek_conn_fast(stream: BoundedReader, out: FlowSummary, stats: ReadStats) -> None:
    """The loop of :func:`summarize_file` for a Zeek TSV conn.log (hot: no attribute look-ups in it)."""
    source = stream.source
    head = zeek._Header()  # noqa: SLF001 - the reader's own header state, shared on purpose
    flows, networks, limit = out.flows, out.networks, out.max_flows
    label: Callable[[str], str] | None = _labeller() if out.folded else None
    transports = zeek._TRANSPORT  # noqa: SLF001
    ips: dict[str, str] = {}
    ports: dict[str, int] = {}
    cols: tuple[int, ...] = ()
    byte_cols: tuple[int, ...] = ()
    pick: Callable[[list[str]], tuple[str, ...]] | None = None
    have_fields, width, unset, sep = False, 0, "-", "\t"
    units = records = 0
    try:
        for lineno, raw, terminated in iter_lines(stream):
            units += 1
            line = decode(raw, source, lineno)
            if not line:
                continue
            if line[0] == "#":
                head.directive(line, "conn", source, lineno)
                index = head.index
                have_fields = head.fields is not None
                cols = tuple(index.get(n, -1) for n in ("ts", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto"))
                byte_cols = tuple(index[n] for n in zeek._byte_fields(index) if n in index)  # noqa: SLF001
                width, unset, sep = len(head.fields or ()), head.unset, head.sep
                pick = itemgetter(*cols) if min(cols) >= 0 else None
                continue
            if not have_fields:
                raise InputError(zeek._cut("zeek conn.log: data before the #fields header line", terminated),  # noqa: SLF001
                                 source, lineno)
            values = line.split(sep)
            if len(values) != width:
                raise InputError(zeek._cut(f"zeek conn.log: {len(values)} fields, #fields header says {width}",  # noqa: SLF001
                                           terminated), source, lineno)
            try:
                if pick is not None:
                    t_ts, t_src, t_sport, t_dst, t_port, t_proto = pick(values)
                else:
                    t_ts, t_src, t_sport, t_dst, t_port, t_proto = (values[i] if i >= 0 else unset for i in cols)
                src = ips.get(t_src) or _ip(t_src, ips)
                dst = ips.get(t_dst) or _ip(t_dst, ips)
                transport = transports[t_proto]
                port: int | None = ports.get(t_port)
                if port is None:
                    port = _port(t_port, ports)
                if t_sport not in ports:
                    _port(t_sport, ports)   # validated once, as the reader does every time
                ts: float | None = None
                if t_ts != unset:
                    ts = float(t_ts)
                    if ts - ts != 0.0 or "_" in t_ts:   # nan, inf, 1_000: the reader's error
                        raise KeyError(t_ts)
                total: int | None = None
                for i in byte_cols:
                    text = values[i]
                    if text != unset:
                        if not (text.isdigit() and text.isascii() and len(text) <= 19):
                            raise KeyError(text)
                        total = (total or 0) + int(text)
                if transport == "icmp":
                    port = None
            except (KeyError, ValueError):
                with zeek._cut_if_unterminated(terminated):  # noqa: SLF001
                    record = zeek._conn_tsv(values, head, source, lineno)  # noqa: SLF001 - exact record or error
                src, dst, port, transport, total, ts = (record.src_ip, record.dst_ip, record.dst_port,
                                                        record.transport, record.bytes, record.ts)
                for i, value in ((cols[1], src), (cols[3], dst)):
                    ips[values[i]] = value   # the reader validated them: the fast path takes them next time
            records += 1
            if label is None:
                key = (src, dst, port, transport)
                flow = flows.get(key)
                if flow is None:
                    if len(flows) >= limit:
                        label = _labeller()
                        fold(out, label)
                    else:
                        flow = flows[key] = FlowStats()
                if flow is not None:
                    flow.connections += 1
                    if ts is not None:
                        if flow.first_ts is None or ts < flow.first_ts:
                            flow.first_ts = ts
                        if flow.last_ts is None or ts > flow.last_ts:
                            flow.last_ts = ts
                    if total is not None:
                        flow.bytes = (flow.bytes or 0) + total
                    continue
            assert label is not None   # set when the exact tuples were folded just above
            nkey = (src, label(dst), port, transport)
            agg = networks.get(nkey)
            if agg is None:
                agg = networks[nkey] = NetStats()
            agg.connections += 1   # NetStats.add, inlined: this line runs a million times
            if total is not None:
                agg.bytes = (agg.bytes or 0) + total
            if ts is not None:
                if agg.first_ts is None or ts < agg.first_ts:
                    agg.first_ts = ts
                if agg.last_ts is None or ts > agg.last_ts:
                    agg.last_ts = ts
            if not agg.more_addresses and dst not in agg.addresses:
                if len(agg.addresses) < SAMPLES:
                    agg.addresses.append(dst)
                else:
                    agg.more_addresses = True
    finally:
        stats.units += units
        stats.records += records
        out.records += records
