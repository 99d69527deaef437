"""What the traffic said, folded: the value the collect stage hands to the resolve stage.

A summary of any number of flow logs and captures: per (source, destination, port, transport)
when it was first and last seen, how often and how much, and which DNS names tie to each
destination address. Readers and the folding itself live in ``scanner.collect.flows``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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
    """Per-flow aggregates plus the DNS names any client was told live at each destination address."""

    flows: dict[FlowKey, FlowStats] = field(default_factory=dict)
    names: dict[str, set[str]] = field(default_factory=dict)
    records: int = 0
    dns_answers: int = 0

    def add_name(self, dst_ip: str, name: str) -> None:
        self.names.setdefault(dst_ip, set()).add(name)
