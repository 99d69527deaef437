"""Aggregate traffic records into what the resolve stage asks: who talks to what, and by which name."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from .records import DnsAnswer, FlowRecord

FlowKey = tuple[str, str, int | None, str]   # (src_ip, dst_ip, dst_port, transport)


@dataclass
class FlowStats:
    """One (source, destination, port, transport): when first and last seen, how often, how much."""

    first_ts: float | None = None
    last_ts: float | None = None
    connections: int = 0
    bytes: int | None = None      # None when no record said


@dataclass
class FlowSummary:
    """Per-flow aggregates plus the DNS names that tie to each destination address.

    ``names[dst_ip]`` is every name any client was told lives at ``dst_ip`` (or that a CSV record
    gave); ``client_names[client][dst_ip]`` is the same per client, because a device's own look-ups
    say more about its traffic than a neighbour's.
    """

    flows: dict[FlowKey, FlowStats] = field(default_factory=dict)
    names: dict[str, set[str]] = field(default_factory=dict)
    client_names: dict[str, dict[str, set[str]]] = field(default_factory=dict)
    records: int = 0
    dns_answers: int = 0

    def names_for(self, dst_ip: str, client: str | None = None) -> set[str]:
        """Names tied to ``dst_ip``: the client's own look-ups first, else anyone's."""
        if client is not None:
            own = self.client_names.get(client, {}).get(dst_ip)
            if own:
                return set(own)
        return set(self.names.get(dst_ip, ()))

    def _name(self, client: str, dst_ip: str, name: str) -> None:
        self.names.setdefault(dst_ip, set()).add(name)
        self.client_names.setdefault(client, {}).setdefault(dst_ip, set()).add(name)


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
                out._name(rec.src_ip, rec.dst_ip, rec.dns_query)
        elif isinstance(rec, DnsAnswer):
            out.dns_answers += 1
            for address in rec.answers:
                out._name(rec.client_ip, address, rec.query)
    return out
