"""Folding exact (source, address, port) tuples into per-network aggregates, once there are too many.

A network is the interval over which operator and location are the same
(:func:`scanner.knowledge.loader.network_index`); each address is looked up once.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

from scanner.knowledge.loader import network_index
from scanner.knowledge.location import Network
from scanner.model.flows import FlowSummary, NetStats


class Labeller:
    """Address -> its network's label, remembered per address, per network, and per IPv4 /24 or
    IPv6 /48 that lies inside one network (so a new address of a known /24 or /48 costs one
    dictionary look-up: CDN and cloud front ends rotate their addresses)."""

    def __init__(self) -> None:
        self.index = network_index()
        self.by_ip: dict[str, str] = {}
        self.by_net: dict[int, str] = {}
        self.by_24: dict[str, str] = {}   # "a.b.c" -> label, for a /24 wholly inside one network
        self.by_48: dict[bytes, str] = {}  # the first 6 bytes -> label, for a /48 wholly inside one network

    def __call__(self, ip: str) -> str:
        found = self.by_ip.get(ip)
        if found is not None:
            return found
        if ":" in ip:
            try:
                head48: bytes | None = socket.inet_pton(socket.AF_INET6, ip.split("%", 1)[0])[:6]
            except (OSError, ValueError):
                head48 = None
            found = self.by_48.get(head48) if head48 is not None else None
            if found is not None:
                return found
            return self._look_up(ip, None, head48)
        head = ip.rpartition(".")[0]
        found = self.by_24.get(head)
        if found is not None:
            return found
        return self._look_up(ip, head, None)

    def _look_up(self, ip: str, head: str | None, head48: bytes | None) -> str:
        """Label of ``ip`` from the index, remembered for its /24 (/48) when that lies in one network."""
        net: Network | None = self.index.network(ip)
        if net is None:
            found = ip
        else:
            known = self.by_net.get(id(net))
            if known is None:
                known = self.by_net[id(net)] = ip if net.lo == net.hi else net.label
            found = known
            if head is not None and net.version == 4:
                base = int.from_bytes(socket.inet_aton(ip), "big") & ~0xFF
                if net.lo <= base and base + 0xFF <= net.hi:
                    return _remember(self.by_24, head, found)
            if head48 is not None and net.version == 6:
                base = int.from_bytes(head48, "big") << 80
                if net.lo <= base and base + (1 << 80) - 1 <= net.hi:
                    return _remember(self.by_48, head48, found)
        return _remember(self.by_ip, ip, found)

    def of_24(self, head: str) -> str:
        """The label every address of the IPv4 /24 ``head`` ("a.b.c", checked by the caller) has,
        or "" when its addresses differ (network boundaries inside it, or no network at all)."""
        found = self.by_24.get(head)
        if found is None:
            self(head + ".0")
            found = self.by_24.get(head, "")
        return found


def _remember(memory: dict[Any, str], key: object, label: str) -> str:
    """``memory[key] = label``, the memory emptied first when it holds a million (bounded)."""
    if len(memory) >= 1_000_000:
        memory.clear()
    memory[key] = label
    return label


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
        agg.add(dst, stats.connections, stats.bytes, stats.first_ts, stats.last_ts, stats.bytes_out)
    summary.flows.clear()
