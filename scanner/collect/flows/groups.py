"""Flow records added up per key while a conn.log is read: the compiled core or its Python twin.

:func:`new_groups` gives the compiled ``_native_groups.Groups`` (C, built at install when a
compiler is there; it also reads whole blocks of plain lines, see ``scan``) or, without it, the
pure-Python :class:`PyGroups`. Both keep one slot per key, in the order first seen, and answer
:meth:`rows` alike; the tests run the fast path with each and compare both with the reader.
Set ``CITYSCAN_PURE_PYTHON=1`` to use the Python twin (to compare, or to rule the C part out).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable
from itertools import compress
from types import ModuleType
from typing import Protocol

from scanner.model.flows import SAMPLES, FlowKey, FlowStats, NetStats

_PURE = "pure Python"   # why not the compiled core, for describe()
try:
    from scanner.collect.flows import _native_groups
    native: ModuleType | None = _native_groups
except ImportError:   # not built (no compiler at install): the Python twin does the same
    native = None
    _PURE = "pure Python (the compiled core is not built: no C compiler at install)"
if os.environ.get("CITYSCAN_PURE_PYTHON"):
    native = None
    _PURE = "pure Python (CITYSCAN_PURE_PYTHON is set)"

_INF = float("inf")

# (key, connections, bytes, bytes out, first seen, last seen, sample addresses, more addresses)
Row = tuple[FlowKey, int, "int | None", "int | None", "float | None", "float | None", "list[str] | None", bool]


class Groups(Protocol):
    """What :class:`~scanner.collect.flows.conn_fold.ConnFold` asks of a groups store."""

    def __len__(self) -> int: ...
    def add_one(self, key: FlowKey, ts: float | None, total: int | None, out: int | None,
                ip: str | None = None, /) -> None: ...
    def add_row(self, key: FlowKey, connections: int, total: int | None, out: int | None,
                first: float | None, last: float | None, /) -> None: ...
    def rows(self) -> list[Row]: ...
    def clear(self) -> None: ...
    def scan(self, body: bytes, sep: str, width: int, cols: tuple[int, ...], byte_cols: tuple[int, ...],
             out_first: bool, transports: dict[str, str], heads: object, label: object, /) -> int: ...


def describe() -> str:
    """Which store Zeek conn logs are folded with, for ``cityscan --version`` (a 3-4x difference)."""
    return "the compiled core (C)" if native is not None else _PURE


def new_groups(samples: int = 0) -> Groups:
    """An empty store; ``samples``: keep that many distinct destination addresses per key."""
    if native is not None:
        made: Groups = native.Groups(samples)
        return made
    return PyGroups(samples)


class PyGroups(dict[FlowKey, int]):
    """Records added up per key in flat lists, one slot per key (``self[key]`` makes a new one).

    The per-record work is one look-up and three list updates; the Python twin of the compiled
    ``Groups`` (same rows, same order).
    """

    def __init__(self, samples: int = 0) -> None:
        super().__init__()
        self.keep = samples
        self._reset()

    def _reset(self) -> None:
        self.connections: Counter[int] = Counter()
        self.bytes: list[int] = []
        self.first: list[float] = []
        self.last: list[float] = []
        self.nobytes: set[int] = set()            # slots no record of which said its bytes
        self.bytes_out: list[int] = []            # what the source sent ...
        self.noout: set[int] = set()              # ... unless no record said
        self.samples: list[list[str]] | None = [] if self.keep else None
        self.more: set[int] = set()               # slots with more distinct addresses than samples

    def __missing__(self, key: FlowKey) -> int:
        slot = self[key] = len(self)
        self.nobytes.add(slot)   # until a record says its bytes
        self.noout.add(slot)
        self.bytes.append(0)
        self.bytes_out.append(0)
        self.first.append(_INF)
        self.last.append(-_INF)
        if self.samples is not None:
            self.samples.append([])
        return slot

    def add_block(self, keys: Iterable[FlowKey], times: list[float], totals: list[int], outs: list[int] | None,
                  ips: list[str] | None) -> int:
        """Records that all have a time and a byte count (and, unless ``outs`` is None, the bytes
        their source sent; unless ``ips`` is None, their destination address); how many."""
        slots = list(map(self.__getitem__, keys))
        self.connections.update(slots)
        self.nobytes.difference_update(slots)
        sums, first, last = self.bytes, self.first, self.last
        if outs is not None:
            self.noout.difference_update(slots)
            sent = self.bytes_out
            for slot, out in zip(slots, outs):
                sent[slot] += out
        for slot, ts, total in zip(slots, times, totals):
            sums[slot] += total
            if ts < first[slot]:
                first[slot] = ts
            if ts > last[slot]:
                last[slot] = ts
        if ips is not None and self.samples is not None:
            hungry = set(slots).difference(self.more)   # keys still taking sample addresses
            if hungry:
                self._add_samples(dict.fromkeys(compress(zip(slots, ips), map(hungry.__contains__, slots))))
        return len(slots)

    def _add_samples(self, pairs: Iterable[tuple[int, str]]) -> None:
        """``(slot, address)`` pairs, each distinct pair once, in the order first seen."""
        samples, more = self.samples, self.more
        assert samples is not None
        for slot, ip in pairs:
            if slot in more:
                continue
            kept = samples[slot]
            if ip not in kept:
                if len(kept) < self.keep:
                    kept.append(ip)
                else:
                    more.add(slot)

    def add_one(self, key: FlowKey, ts: float | None, total: int | None, out: int | None,
                ip: str | None = None, /) -> None:
        self.add_row(key, 1, total, out, ts, ts)
        if ip is not None and self.samples is not None:
            self._add_samples(((self[key], ip),))

    def add_row(self, key: FlowKey, connections: int, total: int | None, out: int | None,
                first: float | None, last: float | None, /) -> None:
        slot = self[key]
        self.connections[slot] += connections
        if total is not None:
            self.bytes[slot] += total
            self.nobytes.discard(slot)
        if out is not None:
            self.bytes_out[slot] += out
            self.noout.discard(slot)
        if first is not None and first < self.first[slot]:
            self.first[slot] = first
        if last is not None and last > self.last[slot]:
            self.last[slot] = last

    def rows(self) -> list[Row]:
        out: list[Row] = []
        for key, slot in self.items():
            first, last = self.first[slot], self.last[slot]
            out.append((key, self.connections[slot], None if slot in self.nobytes else self.bytes[slot],
                        None if slot in self.noout else self.bytes_out[slot],
                        None if first == _INF else first, None if last == -_INF else last,
                        None if self.samples is None else list(self.samples[slot]), slot in self.more))
        return out

    def clear(self) -> None:
        super().clear()
        self._reset()

    def scan(self, body: bytes, sep: str, width: int, cols: tuple[int, ...], byte_cols: tuple[int, ...],
             out_first: bool, transports: dict[str, str], heads: object, label: object, /) -> int:
        """-1: the Python twin reads no block itself (ConnFold's column path does)."""
        return -1


def absorb(groups: Groups, flows: dict[FlowKey, FlowStats]) -> None:
    """Take over exact tuples summarised before (an earlier file), in their order."""
    for key, stats in flows.items():
        groups.add_row(key, stats.connections, stats.bytes, stats.bytes_out, stats.first_ts, stats.last_ts)
    flows.clear()


def flows_into(groups: Groups, flows: dict[FlowKey, FlowStats]) -> None:
    for key, connections, total, out, first, last, _samples, _more in groups.rows():
        flows[key] = FlowStats(first, last, connections, total, out)
    groups.clear()


def networks_into(groups: Groups, networks: dict[FlowKey, NetStats]) -> None:
    """Merge into per-network aggregates (those folded from exact tuples come first)."""
    for key, connections, total, out, first, last, samples, more in groups.rows():
        agg = networks.get(key)
        if agg is None:
            agg = networks[key] = NetStats()
        assert samples   # every network record brought its address
        agg.add(samples[0], connections, total, first, last, out)
        for ip in samples[1:]:
            agg.add(ip, 0, None, None, None)
        if more:
            agg.more_addresses = True
    groups.clear()


__all__ = ["SAMPLES", "Groups", "PyGroups", "absorb", "describe", "flows_into", "native", "networks_into", "new_groups"]
