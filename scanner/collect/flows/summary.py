"""Fold traffic records into a :class:`~scanner.model.flows.FlowSummary`: who talks to what, by which name."""

from __future__ import annotations

from collections.abc import Iterable

from scanner.collect.flows.records import DnsAnswer, FlowRecord
from scanner.model.flows import FlowStats, FlowSummary


def summarize(records: Iterable[FlowRecord | DnsAnswer], summary: FlowSummary | None = None) -> FlowSummary:
    """Fold records (any number of files, in any order) into one summary; pass ``summary`` to add."""
    out = summary if summary is not None else FlowSummary()
    flows = out.flows
    for rec in records:
        if type(rec) is FlowRecord:
            out.records += 1
            key = (rec.src_ip, rec.dst_ip, rec.dst_port, rec.transport)
            stats = flows.get(key)
            if stats is None:
                stats = flows[key] = FlowStats()
            stats.connections += 1
            ts = rec.ts
            if ts is not None:
                if stats.first_ts is None or ts < stats.first_ts:
                    stats.first_ts = ts
                if stats.last_ts is None or ts > stats.last_ts:
                    stats.last_ts = ts
            if rec.bytes is not None:
                stats.bytes = (stats.bytes or 0) + rec.bytes
            if rec.dns_query:
                out.add_name(rec.dst_ip, rec.dns_query)
        elif isinstance(rec, DnsAnswer):
            out.dns_answers += 1
            for address in rec.answers:
                out.add_name(address, rec.query)
    return out
