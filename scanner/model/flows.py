"""What the traffic said, folded: the value the collect stage hands to the resolve stage.

A summary of any number of flow logs and captures: per (source, destination, port, transport)
when it was first and last seen, how often and how much, and which DNS names tie to each
destination address. Readers and the folding itself live in ``scanner.collect.flows``.

At city scale (a day of a segment is a million connections to hundreds of thousands of distinct
addresses) keeping every tuple costs gigabytes; past ``max_flows`` distinct tuples the summary
keeps one entry per (source, destination *network*, port, transport) instead (``networks``),
with a few sample addresses, so memory follows the number of networks, not of addresses.
"""

from __future__ import annotations

from dataclasses import dataclass, field

FlowKey = tuple[str, str, int | None, str]   # (src_ip, dst_ip, dst_port, transport)
NetKey = tuple[str, str, int | None, str]    # (src_ip, dst network label, dst_port, transport)
SAMPLES = 4                                  # sample addresses kept per network aggregate


@dataclass
class FlowStats:
    """One (source, destination, port, transport): when first and last seen, how often, how much."""

    first_ts: float | None = None
    last_ts: float | None = None
    connections: int = 0
    bytes: int | None = None      # None when no record said
    bytes_out: int | None = None  # sent by the source (None when no record said)


@dataclass(slots=True)
class NetStats:
    """One (source, destination network, port, transport), folded over all its addresses."""

    first_ts: float | None = None
    last_ts: float | None = None
    connections: int = 0
    bytes: int | None = None
    addresses: list[str] = field(default_factory=list)   # the first SAMPLES distinct addresses seen
    more_addresses: bool = False                          # more than those were seen
    bytes_out: int | None = None

    def add(self, ip: str, connections: int, bytes_: int | None, first: float | None, last: float | None,
            bytes_out: int | None = None) -> None:
        self.connections += connections
        if bytes_ is not None:
            self.bytes = (self.bytes or 0) + bytes_
        if bytes_out is not None:
            self.bytes_out = (self.bytes_out or 0) + bytes_out
        if first is not None and (self.first_ts is None or first < self.first_ts):
            self.first_ts = first
        if last is not None and (self.last_ts is None or last > self.last_ts):
            self.last_ts = last
        if ip not in self.addresses:
            if len(self.addresses) < SAMPLES:
                self.addresses.append(ip)
            else:
                self.more_addresses = True


@dataclass
class FlowSummary:
    """Per-flow aggregates plus the DNS names any client was told live at each destination address.

    ``flows`` holds exact per-address tuples until there are ``max_flows`` of them; from then on
    everything is folded into ``networks`` (``network_of`` maps an address to its network label
    and is set by whoever folds, the collect stage).
    """

    flows: dict[FlowKey, FlowStats] = field(default_factory=dict)
    names: dict[str, set[str]] = field(default_factory=dict)
    records: int = 0
    dns_answers: int = 0
    networks: dict[NetKey, NetStats] = field(default_factory=dict)
    max_flows: int = 20_000
    max_names: int = 8          # DNS names kept per address (a CDN address serves thousands)

    def add_name(self, dst_ip: str, name: str) -> None:
        names = self.names.get(dst_ip)
        if names is None:
            self.names[dst_ip] = {name}
        elif len(names) < self.max_names:
            names.add(name)

    @property
    def folded(self) -> bool:
        """Traffic was folded per destination network (too many distinct tuples to keep)."""
        return bool(self.networks)
