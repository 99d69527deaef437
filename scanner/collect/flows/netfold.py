"""Folding exact (source, address, port) tuples into per-network aggregates, once there are too many.

A network is the interval over which operator and location are the same
(:func:`scanner.knowledge.loader.network_index`); each address is looked up once.
"""

from __future__ import annotations

import socket
from collections.abc import Callable

from scanner.knowledge.loader import network_index
from scanner.knowledge.location import Network
from scanner.model.flows import FlowSummary, NetStats


class Labeller:
    """Address -> its network's label, remembered per address, per network, and per IPv4 /24
    that lies inside one network (so a new address of a known /24 costs one dictionary look-up)."""

    def __init__(self) -> None:
        self.index = network_index()
        self.by_ip: dict[str, str] = {}
        self.by_net: dict[int, str] = {}
        self.by_24: dict[str, str] = {}   # "a.b.c" -> label, for a /24 wholly inside one network

    def __call__(self, ip: str) -> str:
        found = self.by_ip.get(ip)
        if found is not None:
            return found
        head = None if ":" in ip else ip.rpartition(".")[0]
        if head is not None:
            found = self.by_24.get(head)
            if found is not None:
                return found
        net: Network | None = self.index.network(ip)
        if net is None:
            found = ip
        else:
            found = self.by_net.get(id(net))
            if found is None:
                found = self.by_net[id(net)] = ip if net.lo == net.hi else net.label
            if head is not None and net.version == 4:
                base = int.from_bytes(socket.inet_aton(ip), "big") & ~0xFF
                if net.lo <= base and base + 0xFF <= net.hi:
                    self.by_24[head] = found
                    return found
        if len(self.by_ip) >= 1_000_000:
            self.by_ip.clear()   # bounded: the /24 and network memories keep the common case fast
        self.by_ip[ip] = found
        return found

    def of_24(self, head: str) -> str:
        """The label every address of the IPv4 /24 ``head`` ("a.b.c", checked by the caller) has,
        or "" when its addresses differ (network boundaries inside it, or no network at all)."""
        found = self.by_24.get(head)
        if found is None:
            self(head + ".0")
            found = self.by_24.get(head, "")
        return found


def labeller() -> Labeller:
    """A fresh :class:`Labeller` over the shipped network index."""
    return Labeller()


def fold(summary: FlowSummary, label: Callable[[str], str] | None = None) -> None:
    """Move every exact tuple of ``summary.flows`` into ``summary.networks``."""
    label = label or labeller()
    networks = summary.networks
    for (src, dst, port, transport), stats in summary.flows.items():
        key = (src, label(dst), port, transport)
        agg = networks.get(key)
        if agg is None:
            agg = networks[key] = NetStats()
        agg.add(dst, stats.connections, stats.bytes, stats.first_ts, stats.last_ts)
    summary.flows.clear()
