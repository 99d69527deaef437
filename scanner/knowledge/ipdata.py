"""Offline IP facts: which AS announces an address and which country its block is registered to.

Both come with the package, so the default scan needs no network:
- ASN and AS organisation: scanner/knowledge/data/asn-*.gz, built by scripts/build_asn_table.py from
  ip-location-db's ASN data (CC BY 4.0: RouteViews, DB-IP, NRO); see asn-source.txt for the
  snapshot. Update it with that script.
- Country: the ``iptocc`` package (RIR delegation files, refreshed with each release). This is the
  country the registry assigned the block to, not necessarily where the server stands.
"""

from __future__ import annotations

import gzip
import struct
import sys
from array import array
from bisect import bisect_right
from dataclasses import dataclass
from functools import lru_cache

from scanner.knowledge.datafiles import find
from scanner.model.addresses import is_global, parse_ip


@dataclass(frozen=True)
class AsnInfo:
    asn: int
    name: str | None


class _Table:
    def __init__(self, starts: list[int] | array, ends: list[int] | array, asns: array) -> None:
        self.starts, self.ends, self.asns = starts, ends, asns

    def find(self, value: int) -> int | None:
        index = bisect_right(self.starts, value) - 1
        if index >= 0 and value <= self.ends[index]:
            return self.asns[index]
        return None


@lru_cache(maxsize=1)
def _v4() -> _Table:
    raw = gzip.decompress(find("asn-v4.bin.gz", "asn")[0].read_bytes())
    if len(raw) % 12:
        raise ValueError("asn-v4.bin.gz: not a whole number of (start, end, asn) records")
    values = array("I")   # big-endian 32-bit triples, read at once (not record by record)
    if values.itemsize == 4:
        values.frombytes(raw)
        if sys.byteorder == "little":
            values.byteswap()
    else:
        values.extend(v for (v,) in struct.iter_unpack(">I", raw))
    return _Table(values[0::3], values[1::3], values[2::3])


@lru_cache(maxsize=1)
def _v6() -> _Table:
    raw = gzip.decompress(find("asn-v6.bin.gz", "asn")[0].read_bytes())
    starts: list[int] = []
    ends: list[int] = []
    asns = array("I")
    for start, end, asn in struct.iter_unpack(">16s16sI", raw):
        starts.append(int.from_bytes(start, "big"))
        ends.append(int.from_bytes(end, "big"))
        asns.append(asn)
    return _Table(starts, ends, asns)


@lru_cache(maxsize=1)
def _names() -> dict[int, str]:
    out: dict[int, str] = {}
    with gzip.open(find("asn-names.tsv.gz", "asn")[0], "rt", encoding="utf-8") as handle:
        for line in handle:
            number, _, name = line.rstrip("\n").partition("\t")
            out[int(number)] = name
    return out


@lru_cache(maxsize=65536)
def asn_of(ip: str) -> AsnInfo | None:
    """The AS announcing ``ip`` in the shipped snapshot; None for private/documentation addresses."""
    addr = parse_ip(ip)
    if addr is None or not addr.is_global:
        return None
    table = _v4() if addr.version == 4 else _v6()
    number = table.find(int(addr))
    if number is None:
        return None
    return AsnInfo(number, _names().get(number))


@lru_cache(maxsize=65536)
def country_of(ip: str) -> str | None:
    """ISO alpha-2 of the registry assignment of ``ip`` (None if unassigned or not public)."""
    if not is_global(ip):
        return None
    import iptocc

    try:
        code = iptocc.country_code(ip)
    except (ValueError, TypeError):
        return None
    return code.upper() if isinstance(code, str) and len(code) == 2 else None


def snapshot() -> str:
    return find("asn-source.txt", "asn")[0].read_text().splitlines()[0]
