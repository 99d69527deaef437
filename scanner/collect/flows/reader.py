"""Which format a flows file is in, and one streaming entry point for all of them."""

from __future__ import annotations

import json
from collections.abc import Iterator

from scanner.collect.flows.csvflows import REQUIRED as CSV_REQUIRED
from scanner.collect.flows.csvflows import read_csv
from scanner.collect.flows.inputs import MAX_BYTES, MAX_LINE, open_input
from scanner.collect.flows.pcap import PCAP_MAGICS, PCAPNG_MAGIC, read_pcap
from scanner.collect.flows.records import DnsAnswer, FlowRecord, ReadStats
from scanner.collect.flows.zeek import (
    CONN_KEYS,
    DNS_KEYS,
    read_zeek_json,
    read_zeek_tsv,
)
from scanner.errors import InputError

FORMATS: tuple[str, ...] = ("zeek-conn", "zeek-dns", "zeek-json-conn", "zeek-json-dns", "csv", "pcap", "pcapng")
SNIFF_BYTES = MAX_LINE + 1


def sniff_format(path: str) -> str:
    """The format of ``path``, from its first bytes (gzip is looked through); InputError if unsure."""
    with open_input(path) as stream:
        head = stream.read(SNIFF_BYTES)
    if head[:4] in PCAP_MAGICS:
        return "pcap"
    if head[:4] == PCAPNG_MAGIC:
        return "pcapng"
    text = head.decode("utf-8", "replace").lstrip("\ufeff")
    lines = [line.rstrip("\r") for line in text.split("\n")]
    if len(lines) == 1 and len(head) == SNIFF_BYTES:
        raise InputError(f"cannot tell the format: first line longer than {MAX_LINE} bytes", path, 1)
    if text.startswith("#"):
        return _sniff_zeek_tsv(lines, path)
    first = next((line.strip() for line in lines if line.strip()), "")
    if first.startswith("{"):
        return _sniff_zeek_json(first, path)
    names = {c.strip().strip('"').lower() for c in first.split(",")}
    if {"src_ip", "dst_ip"} <= names:
        return "csv"
    raise InputError("cannot tell the format (not a pcap/pcapng capture, a Zeek conn/dns log or a flows CSV "
                     f"with the header {','.join(CSV_REQUIRED)}); name it with --flows-format", path, 1)


def _sniff_zeek_tsv(lines: list[str], path: str) -> str:
    sep = "\t"
    for line in lines:
        if line.startswith("#separator "):
            sep = "\t" if line[11:] in ("\\x09", "\t") else line[11:]
        key, _, value = line.partition(sep)
        if key == "#path" and value in ("conn", "dns"):
            return f"zeek-{value}"
        if key == "#fields":
            names = set(value.split(sep))
            if names & DNS_KEYS:
                return "zeek-dns"
            if names & CONN_KEYS or "id.resp_h" in names:
                return "zeek-conn"
        if not line.startswith("#"):
            break
    raise InputError("a Zeek log, but neither conn.log nor dns.log (no '#path conn'/'#path dns' "
                     "and no conn/dns #fields)", path, 1)


def _sniff_zeek_json(line: str, path: str) -> str:
    try:
        obj = json.loads(line)
    except (ValueError, RecursionError):
        raise InputError("cannot tell the format: the first line starts like JSON but is not", path, 1) from None
    if isinstance(obj, dict):
        if obj.get("_path") in ("conn", "dns"):
            return f"zeek-json-{obj['_path']}"
        keys = set(obj)
        if keys & DNS_KEYS:
            return "zeek-json-dns"
        if keys & CONN_KEYS or "id.resp_h" in keys or "id_resp_h" in keys:
            return "zeek-json-conn"
    raise InputError("a JSON log, but not a Zeek conn.log or dns.log line", path, 1)


def read_flows(path: str, fmt: str | None = None, *, max_bytes: int = MAX_BYTES,
               stats: ReadStats | None = None) -> Iterator[FlowRecord | DnsAnswer]:
    """Every record of a flows file, streaming (constant memory), in file order.

    ``fmt`` is one of :data:`FORMATS` (None or "auto": sniffed). Errors are InputError with file
    and line; records before a bad line have been yielded already, as a streaming reader must.
    ``stats`` receives counts of lines/packets read and of packets skipped, and why.
    """
    if fmt in (None, "auto"):
        fmt = sniff_format(path)
    if fmt not in FORMATS:
        raise InputError(f"unknown flows format {fmt!r} (known: {', '.join(FORMATS)})", path)
    stats = stats if stats is not None else ReadStats()
    with open_input(path, max_bytes) as stream:
        if fmt == "csv":
            yield from read_csv(stream, stats)
        elif fmt in ("pcap", "pcapng"):
            yield from read_pcap(stream, fmt, stats)
        elif fmt.startswith("zeek-json-"):
            yield from read_zeek_json(stream, fmt.rsplit("-", 1)[1], stats)
        else:
            yield from read_zeek_tsv(stream, fmt.rsplit("-", 1)[1], stats)
