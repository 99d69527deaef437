"""A Zeek TSV conn.log folded while it is read: a million connections in a few seconds.

The file is read 1 MiB at a time (as the reader reads it) and folded in blocks of about 64 KiB
(small enough that a block's values stay in the CPU cache). A block of plain data lines (ASCII,
no header line, every line exactly as wide as the ``#fields`` line, every value in the form Zeek
writes it) is checked and converted column by column with calls that run in C: each distinct
address and /24 is validated and labelled once per file, every port, time and byte count once
per block. Records are then added up in slots (:mod:`~scanner.collect.flows.groups`): one
dictionary look-up per record finds its slot, and only the sums run record by record. Where the
compiled groups store is built, its ``scan`` checks and adds up a block of plain lines in one
call, with the same checks; the Python column path is then the way for the plain blocks it
leaves (IPv4-mapped addresses, zone ids, times of 64 characters or more, another separator than
one ASCII character). Any other block (a header, an
unset or unusual value, a bad line, invalid UTF-8), and every line of a log whose unset marker
could be read as a value, is read line by line with the reader's own checks, so the summary and
any error (file, line, what is wrong) are those of ``summarize(read_flows(...))``; the tests
compare the two, and a differential fuzzer did too.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterable, Iterator
from itertools import repeat
from operator import add, itemgetter
from typing import cast

from scanner.collect.flows import groups as store
from scanner.collect.flows import zeek
from scanner.collect.flows.inputs import (
    CHUNK,
    MAX_LINE,
    BoundedReader,
    canonical_ip,
    decode,
    parse_port,
)
from scanner.collect.flows.netfold import Labeller, fold, labeller
from scanner.collect.flows.records import ReadStats
from scanner.errors import InputError
from scanner.model.flows import SAMPLES, FlowKey, FlowSummary

BLOCK = 64 * 1024
_NAMES = ("ts", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto")
_TIME_CHARS = str.maketrans("", "", "0123456789.")   # what is left of a plain epoch time: nothing
_MAX_CACHE = 262_144   # entries per address cache (IPv6 traffic can bring millions of distinct ones)
_INF = float("inf")
_OCTETS = frozenset(map(str, range(256)))   # the last part of a dotted quad, as inet_pton takes it


def _blocks(stream: BoundedReader, size: int = BLOCK, max_line: int = MAX_LINE) -> Iterator[tuple[int, bytes, bool]]:
    """``(lines before, block of whole lines without the last newline, ended by a newline)``.

    The line-length rule of :func:`~scanner.collect.flows.inputs.iter_lines` holds: a line still
    unended after ``max_line`` bytes is an error at its own line number.
    """
    lineno = 0
    rest = b""
    while True:
        chunk = stream.read(CHUNK)   # the reader's read size: a read error (gzip cut off, the size
        if not chunk:                # limit) comes after the same lines
            break
        if rest:
            chunk = rest + chunk
        start = 0
        while True:   # blocks of about ``size`` bytes, each ended at a line break
            cut = chunk.rfind(b"\n", start, start + size)
            if cut < 0:
                cut = chunk.find(b"\n", start + size)
                if cut < 0:
                    break
            body = chunk[start:cut]
            yield lineno, body, True
            lineno += body.count(b"\n") + 1
            start = cut + 1
        rest = chunk[start:]
        if len(rest) > max_line:
            raise InputError(f"line longer than {max_line} bytes", stream.source, lineno + 1)
    if rest:
        yield lineno, rest, False


class _Addresses(dict[str, str]):
    """Address text -> canonical address (the reader's :func:`canonical_ip`), each distinct text
    validated once (KeyError: not one). Bounded."""

    def __missing__(self, text: str) -> str:
        value = canonical_ip(text)
        if value is None:
            raise KeyError(text)
        if len(self) >= _MAX_CACHE:
            self.clear()
        self[text] = value
        return value


class _Heads(dict[str, str]):
    """IPv4 "a.b.c" -> the label all of its /24 has ("" when they differ), each /24 checked and
    looked up once; KeyError when "a.b.c.0" is not an address. Bounded."""

    def __init__(self, label: Labeller) -> None:
        super().__init__()
        self.label = label

    def __missing__(self, head: str) -> str:
        try:
            socket.inet_pton(socket.AF_INET, head + ".0")
        except (OSError, ValueError):
            raise KeyError(head) from None
        if len(self) >= _MAX_CACHE:
            self.clear()
        value = self[head] = self.label.of_24(head)
        return value


def _digits(column: list[str], width: int) -> bool:
    """Every value plain ASCII digits (the block is ASCII), none empty, none wider than ``width``."""
    return all(column) and "".join(column).isdigit() and max(map(len, column)) <= width


class ConnFold:
    """The state of one conn.log being folded into a :class:`FlowSummary`."""

    def __init__(self, out: FlowSummary, source: str, block: int = BLOCK) -> None:
        self.out = out
        self.block = block
        self.source = source
        self.head = zeek._Header()  # noqa: SLF001 - the reader's own header state, shared on purpose
        self.label: Labeller | None = labeller() if out.folded else None
        self.exact = store.new_groups()
        self.networks = store.new_groups(SAMPLES)
        self.ips = _Addresses()
        self.heads = _Heads(self.label) if self.label is not None else None
        self.ports: dict[str, int] = {}
        self.cols: tuple[int, ...] = ()
        self.byte_cols: tuple[int, ...] = ()
        self.pick: Callable[[list[str]], tuple[str, ...]] | None = None   # all six columns present
        self.have_fields = False
        self.odd_unset = False
        self.out_first = False
        self.width = 0
        self.records = 0
        self.units = 0
        self.column_blocks = 0   # blocks read as columns (the tests look) ...
        self.scanned_blocks = 0  # ... of them by the compiled store's scan

    def read(self, stream: BoundedReader, stats: ReadStats) -> None:
        """Fold the whole stream; what was read before an error stays in the summary."""
        if self.label is None:
            store.absorb(self.exact, self.out.flows)
        try:
            self._feed(stream)
        finally:
            store.flows_into(self.exact, self.out.flows)
            store.networks_into(self.networks, self.out.networks)
            stats.units += self.units
            stats.records += self.records
            self.out.records += self.records

    def _feed(self, stream: BoundedReader) -> None:
        for before, body, terminated in _blocks(stream, self.block):
            if not (terminated and self.pick is not None and self.byte_cols and self._columns(body)):
                self._lines(body, before, terminated)

    def _fold(self) -> None:
        """Too many exact tuples: from now on per destination network (:func:`fold`)."""
        store.flows_into(self.exact, self.out.flows)
        self.label = labeller()
        self.heads = _Heads(self.label)
        fold(self.out, self.label)

    # --- a block as columns ---------------------------------------------------------------------

    def _columns(self, body: bytes) -> bool:
        """Fold ``body`` column by column; False (nothing changed) when a line needs the reader."""
        if self._scan(body):
            return True
        sep, width = self.head.sep, self.width
        if len(sep) != 1 or not body.isascii():
            return False
        text = body.decode("ascii")
        if text[:1] == "#" or "\n#" in text:
            return False
        lines = text.split("\n")
        if (lines[0].count(sep) != width - 1 or len(set(map(str.count, lines, repeat(sep)))) != 1
                or (len(text) > MAX_LINE and max(map(len, lines)) > MAX_LINE)):
            return False   # a line of another width (or an empty one, or one too long): the reader says
        flat = text.replace("\n", sep).split(sep)
        del lines, text
        ts_c, src_c, sport_c, dst_c, port_c, proto_c, *byte_cs = [flat[i::width] for i in (*self.cols, *self.byte_cols)]
        del flat
        transports = zeek._TRANSPORT  # noqa: SLF001
        protos = set(proto_c)
        if not (protos <= transports.keys() and _digits(sport_c, 5) and _digits(port_c, 5)
                and all(ts_c) and not "".join(ts_c).translate(_TIME_CHARS)
                and all(_digits(column, 19) for column in byte_cs)):
            return False
        numbers = list(map(int, port_c))
        if max(map(int, sport_c)) > 65535 or max(numbers) > 65535:
            return False
        ports = cast("list[int | None]", numbers)
        try:
            times = list(map(float, ts_c))   # digits and dots: "1.2.3" and "." fail here ...
            if max(times) == _INF:
                return False                 # ... and 310 digits or more overflow: the reader's error
            src_c = list(map(self.ips.__getitem__, src_c))
            nets = None if self.label is None else self._labels(dst_c)
            if nets is None or ":" in "".join(dst_c):
                dst_c = list(map(self.ips.__getitem__, dst_c))
        except (KeyError, ValueError):
            return False
        # Everything is valid: from here on the block is folded in.
        first_column: list[int] = list(map(int, byte_cs[0]))
        outs = first_column if self.out_first else None   # the originator's side, when the log has it
        totals = first_column
        for column in byte_cs[1:]:
            totals = list(map(add, totals, map(int, column)))
        kinds = list(map(transports.__getitem__, proto_c))
        if "icmp" in protos:   # Zeek puts the ICMP type/code in the port fields: not a port
            ports = [None if kind == "icmp" else port for port, kind in zip(ports, kinds, strict=True)]
        if nets is None:
            before = len(self.exact)
            count = self._add_block(self.exact, zip(src_c, dst_c, ports, kinds), times, totals, outs, None)
            if len(self.exact) > max(before, self.out.max_flows):   # a new tuple past max_flows
                self._fold()
        else:
            count = self._add_block(self.networks, zip(src_c, nets, ports, kinds), times, totals, outs, dst_c)
        self._took(count)
        return True

    def _took(self, count: int) -> None:
        self.records += count
        self.units += count
        self.column_blocks += 1

    @staticmethod
    def _add_block(groups: store.Groups, keys: Iterable[FlowKey], times: list[float], totals: list[int],
                   outs: list[int] | None, ips: list[str] | None) -> int:
        if isinstance(groups, store.PyGroups):
            return groups.add_block(keys, times, totals, outs, ips)
        count = 0   # the compiled store, for a block its own scan leaves (an IPv4-mapped address, say)
        for key, ts, total, out, ip in zip(keys, times, totals, outs or repeat(None), ips or repeat(None)):
            groups.add_one(key, ts, total, out, ip)
            count += 1
        return count

    def _scan(self, body: bytes) -> bool:
        """The compiled store's own reading of a block of plain lines (same checks, same sums)."""
        label = self.label
        groups = self.exact if label is None else self.networks
        before = len(groups)
        count = groups.scan(body, self.head.sep, self.width, self.cols, self.byte_cols, self.out_first,
                            zeek._TRANSPORT, None if label is None else self.heads, label)  # noqa: SLF001
        if count < 0:
            return False
        if label is None and len(groups) > max(before, self.out.max_flows):   # a new tuple past max_flows
            self._fold()
        self._took(count)
        self.scanned_blocks += 1
        return True

    def _labels(self, dst_c: list[str]) -> list[str]:
        """The network label of each destination (KeyError: one is not an address). IPv4 by
        its /24 where the whole /24 has one label, else address by address."""
        label, heads = self.label, self.heads
        assert label is not None and heads is not None
        if ":" in "".join(dst_c):
            return list(map(label, map(self.ips.__getitem__, dst_c)))
        parts = list(map(str.rpartition, dst_c, repeat(".")))
        if not _OCTETS.issuperset(map(itemgetter(2), parts)):
            raise KeyError("not a dotted quad")
        labels = list(map(heads.__getitem__, map(itemgetter(0), parts)))
        if "" in labels:
            labels = [known or label(ip) for known, ip in zip(labels, dst_c, strict=True)]
        return labels

    # --- line by line, with the reader's checks ----------------------------------------------------

    def _lines(self, body: bytes, before: int, terminated: bool) -> None:
        source = self.source
        for lineno, raw in enumerate(body.split(b"\n"), before + 1):
            if len(raw) > MAX_LINE:
                raise InputError(f"line longer than {MAX_LINE} bytes", source, lineno)
            self._line(raw, lineno, terminated)

    def _header(self, line: str, lineno: int) -> None:
        head = self.head
        head.directive(line, "conn", self.source, lineno)
        index = head.index
        self.have_fields = head.fields is not None
        self.cols = tuple(index.get(name, -1) for name in _NAMES)
        pair = zeek._byte_fields(index)  # noqa: SLF001
        self.byte_cols = tuple(index[n] for n in pair if n in index)
        self.out_first = pair[0] in index   # byte_cols[0] is the originator's bytes
        self.width = len(head.fields or ())
        unset = head.unset
        # An unset marker that reads as a value ("443", "tcp", "1.0", an address): only the reader's
        # own rules tell the two apart, line by line.
        self.odd_unset = (unset in zeek._TRANSPORT or not unset.translate(_TIME_CHARS)  # noqa: SLF001
                          or canonical_ip(unset) is not None)
        self.pick = itemgetter(*self.cols) if min(self.cols) >= 0 and not self.odd_unset else None

    def _line(self, raw: bytes, lineno: int, terminated: bool) -> None:
        """One line, as the reader reads it (the per-line fast checks, then the reader's parser)."""
        self.units += 1
        source = self.source
        line = decode(raw, source, lineno)
        if not line:
            return
        if line[0] == "#":
            self._header(line, lineno)
            return
        head = self.head
        if not self.have_fields:
            raise InputError(zeek._cut("zeek conn.log: data before the #fields header line", terminated),  # noqa: SLF001
                             source, lineno)
        values = line.split(head.sep)
        if len(values) != self.width:
            raise InputError(zeek._cut(f"zeek conn.log: {len(values)} fields, #fields header says {self.width}",  # noqa: SLF001
                                       terminated), source, lineno)
        cols, unset, ips, ports = self.cols, head.unset, self.ips, self.ports
        try:
            if self.odd_unset:
                raise KeyError(unset)
            if self.pick is not None:
                t_ts, t_src, t_sport, t_dst, t_port, t_proto = self.pick(values)
            else:
                t_ts, t_src, t_sport, t_dst, t_port, t_proto = (values[i] if i >= 0 else unset for i in cols)
            src, dst = ips[t_src], ips[t_dst]
            transport = zeek._TRANSPORT[t_proto]  # noqa: SLF001
            port: int | None = ports.get(t_port)
            if port is None:
                port = ports[t_port] = parse_port(t_port, "id.resp_p", source, lineno)
            if t_sport not in ports:   # validated once, as the reader does every time
                ports[t_sport] = parse_port(t_sport, "id.orig_p", source, lineno)
            ts: float | None = None
            if t_ts != unset:
                ts = float(t_ts)
                if ts - ts != 0.0 or "_" in t_ts:   # nan, inf, 1_000: the reader's error
                    raise KeyError(t_ts)
            total: int | None = None
            out: int | None = None
            for side, i in enumerate(self.byte_cols):
                text = values[i]
                if text != unset:
                    if not (text.isdigit() and text.isascii() and len(text) <= 19):
                        raise KeyError(text)
                    count = int(text)
                    total = (total or 0) + count
                    if side == 0 and self.out_first:
                        out = count
            if transport == "icmp":
                port = None
        except (KeyError, ValueError, InputError):   # the reader's parser says what is wrong
            with zeek._cut_if_unterminated(terminated):  # noqa: SLF001
                record = zeek._conn_tsv(values, head, source, lineno)  # noqa: SLF001 - exact record or error
            src, dst, port, transport, total, ts = (record.src_ip, record.dst_ip, record.dst_port,
                                                    record.transport, record.bytes, record.ts)
            out = record.bytes_out
            for i, value in ((cols[1], src), (cols[3], dst)):
                ips[values[i]] = value   # the reader validated them: the fast path takes them next time
        self.records += 1
        self._add(src, dst, port, transport, ts, total, out)

    def _add(self, src: str, dst: str, port: int | None, transport: str, ts: float | None, total: int | None,
             out: int | None) -> None:
        if self.label is None:
            before = len(self.exact)
            self.exact.add_one((src, dst, port, transport), ts, total, out)
            if len(self.exact) > max(before, self.out.max_flows):   # a new tuple past max_flows
                self._fold()
        else:
            self.networks.add_one((src, self.label(dst), port, transport), ts, total, out, dst)
