"""Fold traffic records into a :class:`~scanner.model.flows.FlowSummary`: who talks to what, by which name.

Exact per-address tuples are kept while there are few of them (every lab and most segments);
past ``summary.max_flows`` distinct tuples the summary folds per destination *network* while
reading (the interval over which operator and location are the same, from
:func:`scanner.knowledge.loader.network_index`), so a million connections to hundreds of
thousands of addresses cost memory for the networks only, each looked up once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from scanner.collect.flows.conn_fold import ConnFold
from scanner.collect.flows.inputs import MAX_BYTES, open_input
from scanner.collect.flows.json_fold import JsonConnFold
from scanner.collect.flows.netfold import fold, labeller
from scanner.collect.flows.reader import read_flows, sniff_format
from scanner.collect.flows.records import DnsAnswer, FlowRecord, ReadStats
from scanner.model.flows import FlowStats, FlowSummary, NetStats

__all__ = ["fold", "labeller", "summarize", "summarize_file"]


def summarize(records: Iterable[FlowRecord | DnsAnswer], summary: FlowSummary | None = None) -> FlowSummary:
    """Fold records (any number of files, in any order) into one summary; pass ``summary`` to add."""
    out = summary if summary is not None else FlowSummary()
    flows = out.flows
    networks = out.networks
    label: Callable[[str], str] | None = labeller() if out.folded else None
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
                        label = labeller()
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
                    if rec.bytes_out is not None:
                        stats.bytes_out = (stats.bytes_out or 0) + rec.bytes_out
            if label is not None:
                nkey = (rec.src_ip, label(rec.dst_ip), rec.dst_port, rec.transport)
                agg = networks.get(nkey)
                if agg is None:
                    agg = networks[nkey] = NetStats()
                agg.add(rec.dst_ip, 1, rec.bytes, ts, ts, rec.bytes_out)
            if rec.dns_query:
                out.add_name(rec.dst_ip, rec.dns_query)
        elif isinstance(rec, DnsAnswer):
            out.dns_answers += 1
            for address in rec.answers:
                out.add_name(address, rec.query)
    return out


def summarize_file(path: str, fmt: str | None = None, summary: FlowSummary | None = None,
                   stats: ReadStats | None = None) -> FlowSummary:
    """One flows file folded into ``summary``: Zeek conn.logs on a fast path (TSV:
    :class:`~scanner.collect.flows.conn_fold.ConnFold`, blocks of lines checked and added up
    column by column; JSON: :class:`~scanner.collect.flows.json_fold.JsonConnFold`), every other
    format through :func:`read_flows` and :func:`summarize`.

    A line the fast path does not recognise at a glance (an ISO time, a bad field) goes through
    the reader's own parser, which gives the same record or the same error (file, line, what is
    wrong) as :func:`read_flows`.
    """
    if fmt in (None, "auto"):
        fmt = sniff_format(path)
    out = summary if summary is not None else FlowSummary()
    stats = stats if stats is not None else ReadStats()
    fold = {"zeek-conn": ConnFold, "zeek-json-conn": JsonConnFold}.get(fmt)
    if fold is None:
        return summarize(read_flows(path, fmt, stats=stats), out)
    with open_input(path, MAX_BYTES) as stream:
        fold(out, path).read(stream, stats)
    return out
