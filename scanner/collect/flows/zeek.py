"""Zeek conn.log and dns.log, as Zeek's ASCII writer writes them (TSV) and as JSON lines.

Format, as followed here (sources):

- TSV: header lines ``#separator \\x09``, ``#set_separator ,``, ``#empty_field (empty)``,
  ``#unset_field -``, ``#path conn``, ``#open <time>``, ``#fields ...``, ``#types ...``; one tab
  separated line per entry; ``-`` for an unset value, ``(empty)`` for an empty set/vector; vector
  elements (dns.log ``answers``, ``TTLs``) joined with the set separator; ``#close <time>`` last.
  Zeek docs, "Zeek Log Formats and Inspection" (zeek/zeek-docs log-formats.rst: conn.log and
  dns.log of tm1t.pcap in both formats); baselines in zeek/zeek, e.g.
  testing/btest/Baseline/scripts.base.protocols.mysql.encrypted-aws-rds/tls-12.conn.log and
  testing/btest/Baseline/scripts.base.protocols.dns.dns-key/dns.log.
- JSON (``LogAscii::use_json=T`` / policy/tuning/json-logs.zeek): one object per line, keys are
  the TSV field names (``"id.orig_h"``), unset fields are left out, vectors are arrays, ``ts`` is
  epoch seconds (or ISO 8601 with ``LogAscii::json_timestamps``). Keys with ``_`` instead of
  ``.`` (``id_orig_h``, a common field-name map) are accepted too.
- Fields, per the Zeek script reference (Conn::Info, DNS::Info): conn ``ts uid id.orig_h
  id.orig_p id.resp_h id.resp_p proto service duration orig_bytes resp_bytes conn_state ...``;
  dns ``ts uid id.orig_h id.orig_p id.resp_h id.resp_p proto trans_id rtt query qclass
  qclass_name qtype qtype_name rcode rcode_name AA TC RD RA Z answers TTLs rejected``.

The readers are driven by the ``#fields`` line (TSV) and by key names (JSON), so fields added by
other Zeek versions or packages (``ip_proto``, ``community_id``, MAC logging) do no harm.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from scanner.collect.flows.inputs import (
    MAX_FIELDS,
    BoundedReader,
    canonical_ip,
    check_count,
    check_port,
    check_ts,
    clean_name,
    decode,
    iter_lines,
    parse_count,
    parse_ip,
    parse_port,
    parse_ts,
)
from scanner.collect.flows.records import DnsAnswer, FlowRecord, ReadStats
from scanner.errors import InputError

KINDS = ("conn", "dns")
_TRANSPORT = {"tcp": "tcp", "udp": "udp", "icmp": "icmp", "unknown_transport": "other"}
_REQUIRED = {"conn": ("id.orig_h", "id.resp_h", "proto"), "dns": ("id.orig_h", "query")}
# Keys that only one of the two logs has: how a JSON line says which log it belongs to.
DNS_KEYS = frozenset(("query", "qtype", "qtype_name", "trans_id", "rcode", "rcode_name", "answers"))
CONN_KEYS = frozenset(("conn_state", "history", "orig_bytes", "resp_bytes", "duration", "service",
                       "orig_pkts", "missed_bytes"))


def _cut(text: str, terminated: bool) -> str:
    return text if terminated else f"{text} (last line, cut off?)"


@contextmanager
def _cut_if_unterminated(terminated: bool) -> Iterator[None]:
    """A record's error on a line that was cut at the length limit says so."""
    try:
        yield
    except InputError as exc:
        if not terminated:
            exc.message = _cut(exc.message, False)
        raise


def _unescape_header(value: str) -> str:
    """``\\x09`` -> tab: how Zeek writes the separator in the ``#separator`` line."""
    out, i = [], 0
    while i < len(value):
        if value.startswith("\\x", i) and i + 4 <= len(value):
            try:
                out.append(chr(int(value[i + 2:i + 4], 16)))
                i += 4
                continue
            except ValueError:
                pass
        out.append(value[i])
        i += 1
    return "".join(out)


class _Header:
    """The state a TSV log's ``#`` lines set: separators, markers, path and field positions."""

    def __init__(self) -> None:
        self.sep = "\t"
        self.set_sep = ","
        self.empty = "(empty)"
        self.unset = "-"
        self.path: str | None = None
        self.fields: list[str] | None = None
        self.index: dict[str, int] = {}

    def directive(self, line: str, kind: str, source: str, lineno: int) -> None:
        if line.startswith("#separator "):
            sep = _unescape_header(line[len("#separator "):])
            if not 1 <= len(sep) <= 8:
                raise InputError("zeek log: #separator must be 1 to 8 characters", source, lineno)
            self.sep = sep
            return
        key, _, value = line.partition(self.sep)
        if key == "#set_separator":
            self.set_sep = value or ","
        elif key == "#empty_field":
            self.empty = value
        elif key == "#unset_field":
            self.unset = value
        elif key == "#path":
            if value in KINDS and value != kind:
                raise InputError(f"zeek log: #path is {value}, but this is read as {kind}.log", source, lineno)
            self.path = value
        elif key == "#fields":
            names = value.split(self.sep)
            if len(names) > MAX_FIELDS:
                raise InputError(f"zeek {kind}.log: {len(names)} fields (limit {MAX_FIELDS})", source, lineno)
            missing = [n for n in _REQUIRED[kind] if n not in names]
            if missing:
                raise InputError(f"zeek {kind}.log: #fields lacks {', '.join(missing)}", source, lineno)
            self.fields = names
            self.index = {name: i for i, name in enumerate(names)}
        elif key == "#types" and self.fields is not None:
            count = len(value.split(self.sep))
            if count != len(self.fields):
                raise InputError(f"zeek {kind}.log: #types has {count} entries, #fields has {len(self.fields)}",
                                 source, lineno)
        # #open, #close and directives of later Zeek versions carry nothing a reader needs.


def read_zeek_tsv(stream: BoundedReader, kind: str, stats: ReadStats) -> Iterator[FlowRecord | DnsAnswer]:
    """Records of a Zeek TSV conn.log or dns.log; concatenated logs (several headers) are fine."""
    source = stream.source
    head = _Header()
    make = _conn_tsv if kind == "conn" else _dns_tsv
    for lineno, raw, terminated in iter_lines(stream):
        stats.units += 1
        line = decode(raw, source, lineno)
        if not line:
            continue
        if line[0] == "#":
            head.directive(line, kind, source, lineno)
            continue
        if head.fields is None:
            raise InputError(_cut(f"zeek {kind}.log: data before the #fields header line", terminated),
                             source, lineno)
        values = line.split(head.sep)
        if len(values) != len(head.fields):
            raise InputError(_cut(f"zeek {kind}.log: {len(values)} fields, #fields header says "
                                  f"{len(head.fields)}", terminated), source, lineno)
        with _cut_if_unterminated(terminated):
            record = make(values, head, source, lineno)
        if record is not None:
            stats.records += 1
            yield record


IP_BYTES = ("orig_ip_bytes", "resp_ip_bytes")
PAYLOAD_BYTES = ("orig_bytes", "resp_bytes")


def _byte_fields(present: dict[str, Any]) -> tuple[str, str]:
    """Which fields make ``bytes``: IP-layer bytes both ways (what NetFlow and firewall exports
    count, and always set by Zeek), else payload bytes for a log without them. The first
    (the originator's side) is also ``bytes_out``."""
    return IP_BYTES if IP_BYTES[0] in present or IP_BYTES[1] in present else PAYLOAD_BYTES


def _get(values: list[str], head: _Header, name: str) -> str | None:
    """A field's text, or None when the log lacks the field or it is unset."""
    i = head.index.get(name)
    if i is None:
        return None
    value = values[i]
    return None if value == head.unset else value


def _conn_tsv(values: list[str], head: _Header, source: str, lineno: int) -> FlowRecord:
    where = "zeek conn.log"
    ts = _get(values, head, "ts")
    orig = _get(values, head, "id.orig_h")
    resp = _get(values, head, "id.resp_h")
    proto = _get(values, head, "proto")
    if orig is None or resp is None or proto is None:
        raise InputError(f"{where}: id.orig_h, id.resp_h and proto must be set", source, lineno)
    transport = _TRANSPORT.get(proto)
    if transport is None:
        raise InputError(f"{where}: proto {proto[:20]!r} is not tcp, udp, icmp or unknown_transport", source, lineno)
    port_text = _get(values, head, "id.resp_p")
    port = parse_port(port_text, f"{where}: id.resp_p", source, lineno) if port_text is not None else None
    if transport == "icmp":
        port = None  # Zeek puts the ICMP type/code in the port fields: not a port
    if (sport := _get(values, head, "id.orig_p")) is not None:
        parse_port(sport, f"{where}: id.orig_p", source, lineno)
    total = out = None
    for side, name in enumerate(_byte_fields(head.index)):
        text = _get(values, head, name)
        if text is not None:
            count = parse_count(text, f"{where}: {name}", source, lineno)
            total = (total or 0) + count
            out = count if side == 0 else out
    return FlowRecord(
        ts=parse_ts(ts, f"{where}: ts", source, lineno) if ts is not None else None,
        src_ip=parse_ip(orig, f"{where}: id.orig_h", source, lineno),
        dst_ip=parse_ip(resp, f"{where}: id.resp_h", source, lineno),
        dst_port=port, transport=transport, bytes=total, bytes_out=out)


def _dns_tsv(values: list[str], head: _Header, source: str, lineno: int) -> DnsAnswer | None:
    where = "zeek dns.log"
    client = _get(values, head, "id.orig_h")
    if client is None:
        raise InputError(f"{where}: id.orig_h must be set", source, lineno)
    client = parse_ip(client, f"{where}: id.orig_h", source, lineno)
    ts = _get(values, head, "ts")
    when = parse_ts(ts, f"{where}: ts", source, lineno) if ts is not None else None
    query = _get(values, head, "query")
    answers = _get(values, head, "answers")
    items = [] if answers is None or answers == head.empty else answers.split(head.set_sep)
    return _dns_record(when, client, query if query != head.empty else None, items, source, lineno)


def _dns_record(ts: float | None, client: str, query: str | None, answers: list[str], source: str,
                lineno: int) -> DnsAnswer | None:
    """A DnsAnswer if the entry tied its name to at least one address (CNAMEs, TXT, ... are not)."""
    if len(answers) > MAX_FIELDS:
        raise InputError(f"zeek dns.log: {len(answers)} answers (limit {MAX_FIELDS})", source, lineno)
    name = clean_name(query, "zeek dns.log: query", source, lineno) if query is not None else None
    if name is None:
        return None
    addresses = tuple(dict.fromkeys(a for a in map(canonical_ip, answers) if a is not None))
    if not addresses:
        return None
    return DnsAnswer(ts=ts, client_ip=client, query=name, answers=addresses)


def read_zeek_json(stream: BoundedReader, kind: str, stats: ReadStats) -> Iterator[FlowRecord | DnsAnswer]:
    """Records of a Zeek conn.log or dns.log written as JSON lines."""
    source = stream.source
    for lineno, raw, terminated in iter_lines(stream):
        stats.units += 1
        record = json_line(raw, kind, source, lineno, terminated)
        if record is not None:
            stats.records += 1
            yield record


def json_line(raw: bytes, kind: str, source: str, lineno: int, terminated: bool) -> FlowRecord | DnsAnswer | None:
    """One JSON line of a Zeek ``kind`` log: its record, None (blank, or no address answer), or the
    error (file, line, what is wrong). Shared with the conn.log fast path, for the lines it leaves."""
    line = decode(raw, source, lineno).strip()
    if not line:
        return None
    try:
        obj = json.loads(line)
    except RecursionError:
        raise InputError(_cut(f"zeek {kind}.log: JSON nested too deeply", terminated), source, lineno) from None
    except ValueError as exc:
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)[:80]
        raise InputError(_cut(f"zeek {kind}.log: not JSON ({reason})", terminated), source, lineno) from None
    if not isinstance(obj, dict):
        raise InputError(f"zeek {kind}.log: a JSON line must be an object", source, lineno)
    path = obj.get("_path")
    if path in KINDS and path != kind:
        raise InputError(f"zeek log: _path is {path}, but this is read as {kind}.log", source, lineno)
    make: Callable[[dict[str, Any], str, int], FlowRecord | DnsAnswer | None] = (
        _conn_json if kind == "conn" else _dns_json)
    with _cut_if_unterminated(terminated):
        return make(obj, source, lineno)


def _key(obj: dict[str, Any], name: str) -> Any:
    value = obj.get(name)
    if value is None and "." in name:
        value = obj.get(name.replace(".", "_"))
    return value


def _str(obj: dict[str, Any], name: str, where: str, source: str, lineno: int, required: bool = False) -> str | None:
    value = _key(obj, name)
    if value is None:
        if required:
            raise InputError(f"{where}: no {name!r}", source, lineno)
        return None
    if not isinstance(value, str):
        raise InputError(f"{where}: {name} must be a string", source, lineno)
    return value


def _conn_json(obj: dict[str, Any], source: str, lineno: int) -> FlowRecord:
    where = "zeek conn.log"
    orig = _str(obj, "id.orig_h", where, source, lineno, required=True)
    resp = _str(obj, "id.resp_h", where, source, lineno, required=True)
    proto = _str(obj, "proto", where, source, lineno, required=True)
    assert orig is not None and resp is not None and proto is not None
    transport = _TRANSPORT.get(proto)
    if transport is None:
        raise InputError(f"{where}: proto {proto[:20]!r} is not tcp, udp, icmp or unknown_transport", source, lineno)
    port_value = _key(obj, "id.resp_p")
    port = check_port(port_value, f"{where}: id.resp_p", source, lineno) if port_value is not None else None
    if transport == "icmp":
        port = None
    if (sport := _key(obj, "id.orig_p")) is not None:
        check_port(sport, f"{where}: id.orig_p", source, lineno)
    total = out = None
    for side, name in enumerate(_byte_fields(obj)):
        value = obj.get(name)
        if value is not None:
            count = check_count(value, f"{where}: {name}", source, lineno)
            total = (total or 0) + count
            out = count if side == 0 else out
    ts = obj.get("ts")
    return FlowRecord(
        ts=check_ts(ts, f"{where}: ts", source, lineno) if ts is not None else None,
        src_ip=parse_ip(orig, f"{where}: id.orig_h", source, lineno),
        dst_ip=parse_ip(resp, f"{where}: id.resp_h", source, lineno),
        dst_port=port, transport=transport, bytes=total, bytes_out=out)


def _dns_json(obj: dict[str, Any], source: str, lineno: int) -> DnsAnswer | None:
    where = "zeek dns.log"
    client = _str(obj, "id.orig_h", where, source, lineno, required=True)
    assert client is not None
    client = parse_ip(client, f"{where}: id.orig_h", source, lineno)
    ts = obj.get("ts")
    when = check_ts(ts, f"{where}: ts", source, lineno) if ts is not None else None
    query = _str(obj, "query", where, source, lineno)
    answers = obj.get("answers")
    if answers is None:
        answers = []
    if not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
        raise InputError(f"{where}: answers must be a list of strings", source, lineno)
    return _dns_record(when, client, query, answers, source, lineno)
