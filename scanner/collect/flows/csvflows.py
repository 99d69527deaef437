"""The simple CSV flow format (docs/flows.md): for exports of firewalls, NetFlow collectors, SIEMs.

Header line required: ``timestamp,src_ip,dst_ip,dst_port,transport,bytes`` in any order, plus the
optional ``dns_query`` and ``bytes_out`` (what ``src_ip`` sent); other columns are ignored. One
record per line. Lines without a double quote are split on commas directly (the common case,
several times faster than the csv module); quoted lines go through the csv module (RFC 4180
quoting, but no line breaks inside a field).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator

from scanner.collect.flows.inputs import (
    MAX_FIELDS,
    BoundedReader,
    canonical_ip,
    clean_name,
    decode,
    iter_lines,
    parse_count,
    parse_ip,
    parse_port,
    parse_ts,
)
from scanner.collect.flows.records import TRANSPORTS, FlowRecord, ReadStats
from scanner.errors import InputError

REQUIRED = ("timestamp", "src_ip", "dst_ip", "dst_port", "transport", "bytes")
OPTIONAL = ("dns_query", "bytes_out")
_TRANSPORT = {t: t for t in TRANSPORTS} | {t.upper(): t for t in TRANSPORTS}


def _split(line: str, source: str, lineno: int) -> list[str]:
    if '"' not in line:
        return line.split(",")
    try:
        rows = list(csv.reader([line], strict=True))
    except csv.Error as exc:
        raise InputError(f"csv: {exc}", source, lineno) from None
    return rows[0] if rows else [""]


def read_csv(stream: BoundedReader, stats: ReadStats) -> Iterator[FlowRecord]:
    """Records of a flows CSV; a bad header or value is an InputError naming file and line."""
    source = stream.source
    lines = iter_lines(stream)
    first = next(lines, None)
    if first is None:
        raise InputError(f"csv: empty file (expected the header line {','.join(REQUIRED)})", source, 1)
    stats.units += 1
    text = decode(first[1], source, 1)
    if text.startswith("\ufeff"):
        text = text[1:]  # a byte order mark, as spreadsheet exports write it
    columns = _header(text.rstrip("\r"), source, 1)
    width = len(columns)
    i_ts, i_src, i_dst, i_port, i_tr, i_bytes = (columns.index(c) for c in REQUIRED)
    i_name = columns.index("dns_query") if "dns_query" in columns else None
    i_out = columns.index("bytes_out") if "bytes_out" in columns else None
    ip_cache = canonical_ip
    transports = _TRANSPORT
    port_cache: dict[str, int] = {}
    for lineno, raw, _ in lines:
        stats.units += 1
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = decode(raw, source, lineno)
        if text.endswith("\r"):
            text = text[:-1]
        if not text:
            continue
        row = text.split(",") if '"' not in text else _split(text, source, lineno)
        if len(row) != width:
            raise InputError(f"csv: {len(row)} fields, the header has {width}", source, lineno)
        # The hot path: validated values come from caches, plain numbers are converted inline;
        # anything unusual goes to the careful parsers, which explain what is wrong.
        src = ip_cache(row[i_src]) or parse_ip(row[i_src], "src_ip", source, lineno)
        dst = ip_cache(row[i_dst]) or parse_ip(row[i_dst], "dst_ip", source, lineno)
        transport = transports.get(row[i_tr]) or _transport(row[i_tr], source, lineno)
        text = row[i_port]
        if not text:
            port = None
        else:
            port = port_cache.get(text)
            if port is None:
                port = parse_port(text, "dst_port", source, lineno)
                if len(port_cache) < 65536:
                    port_cache[text] = port
        text = row[i_bytes]
        if not text:
            size = None
        elif text.isdigit() and text.isascii() and len(text) < 19:
            size = int(text)
        else:
            size = parse_count(text, "bytes", source, lineno)
        text = row[i_ts]
        if not text:
            ts = None
        else:
            try:
                ts = float(text)
            except ValueError:
                ts = None
            if ts is None or ts - ts != 0 or "_" in text:  # not a plain finite number: ISO 8601 or an error
                ts = parse_ts(text, "timestamp", source, lineno)
        name = row[i_name] if i_name is not None else ""
        text = row[i_out] if i_out is not None else ""
        out = parse_count(text, "bytes_out", source, lineno) if text else None
        if out is not None and size is not None and out > size:
            raise InputError(f"bytes_out {out} is more than bytes {size} (both directions)", source, lineno)
        stats.records += 1
        yield FlowRecord(ts, src, dst, port, transport, size,
                         clean_name(name, "dns_query", source, lineno) if name else None, out)


def _header(text: str, source: str, lineno: int) -> list[str]:
    names = [c.strip().lower() for c in _split(text, source, lineno)]
    if len(names) > MAX_FIELDS:
        raise InputError(f"csv: {len(names)} columns (limit {MAX_FIELDS})", source, lineno)
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise InputError(f"csv: header lacks required column(s) {', '.join(missing)} "
                         f"(required: {','.join(REQUIRED)}; optional: {','.join(OPTIONAL)})", source, lineno)
    twice = sorted({c for c in names if c in REQUIRED + OPTIONAL and names.count(c) > 1})
    if twice:
        raise InputError(f"csv: column(s) {', '.join(twice)} appear twice in the header", source, lineno)
    return names


def _transport(value: str, source: str, lineno: int) -> str:
    transport = value.strip().lower()
    if transport not in TRANSPORTS:
        shown = value if len(value) <= 20 else value[:17] + "..."
        raise InputError(f"transport {shown!r} is not one of {', '.join(TRANSPORTS)}", source, lineno)
    return transport
