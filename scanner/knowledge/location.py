"""Where a server physically is: cloud providers' regions first, anycast services, then geolocation.

Location is not the registry country (where the block's holder is registered) and not the
operator's home: AWS Frankfurt is registered to a US company, operated by a US group, and stands
in Germany. The sources, in order, each named in the answer:

1. ``cloud-ranges``: the providers' own published prefixes with their regions
   (``cloud-ranges.tsv.gz``) and the region -> country table (``cloud-regions.yaml``). A region
   served from many places (AWS GLOBAL, Google Cloud global, all of Cloudflare) is anycast.
2. ``anycast``: well-known anycast services (public DNS resolvers, NTP), ``anycast.yaml``.
3. ``dbip-country``: DB-IP Country Lite (CC BY 4.0), an MMDB read with ``maxminddb``.

Every answer holds for a whole network (the interval over which none of the sources changes), so
:class:`NetworkIndex` looks each network up once however many of its addresses the traffic uses.
"""

from __future__ import annotations

import gzip
import io
import ipaddress
import lzma
import socket
from bisect import bisect_right
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scanner.errors import InputError
from scanner.knowledge.yamlfile import entries, load
from scanner.model.addresses import parse_ip

CLOUD = "cloud-ranges"
ANYCAST = "anycast"
GEO = "dbip-country"


@dataclass(frozen=True)
class Location:
    """Where one network is: a country, or anycast (no single country), and which data set said so."""

    country: str | None
    source: str | None
    anycast: bool = False
    detail: str | None = None   # "AWS eu-central-1", "Google Public DNS", ...


UNKNOWN = Location(None, None)


class _Flat:
    """Non-overlapping address intervals with a value each (nested prefixes: the most specific wins)."""

    def __init__(self, prefixes: list[tuple[int, int, Any]]) -> None:
        out: list[tuple[int, int, Any]] = []
        stack: list[tuple[int, int, Any]] = []
        cursor = 0

        def emit(lo: int, hi: int, value: Any) -> None:
            if lo <= hi:
                out.append((lo, hi, value))

        for lo, hi, value in sorted(prefixes, key=lambda p: (p[0], -(p[1] - p[0]))):
            while stack and stack[-1][1] < lo:
                top = stack.pop()
                emit(cursor, top[1], top[2])
                cursor = top[1] + 1
            if stack:
                emit(cursor, lo - 1, stack[-1][2])
            cursor = lo
            stack.append((lo, hi, value))
        while stack:
            top = stack.pop()
            emit(cursor, top[1], top[2])
            cursor = top[1] + 1
        self.los = [lo for lo, _, _ in out]
        self.his = [hi for _, hi, _ in out]
        self.values = [value for _, _, value in out]

    def find(self, value: int, lo: int, hi: int) -> tuple[Any, int, int]:
        """The value at ``value`` (None) and the part of [lo, hi] around it where that holds."""
        index = bisect_right(self.los, value) - 1
        if index >= 0 and value <= self.his[index]:
            return self.values[index], max(lo, self.los[index]), min(hi, self.his[index])
        if index >= 0:
            lo = max(lo, self.his[index] + 1)
        if index + 1 < len(self.los):
            hi = min(hi, self.los[index + 1] - 1)
        return None, lo, hi


def _prefix(text: str, where: str, lineno: int | None = None) -> tuple[int, int, int]:
    """``(version, first, last)`` of ``1.2.3.0/24`` or ``2001:db8::/32`` (fast: 50,000 per load)."""
    address, _, length = text.strip().partition("/")
    try:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        value = int.from_bytes(socket.inet_pton(family, address), "big")
        bits = 128 if family == socket.AF_INET6 else 32
        size = int(length) if length else bits
        if not 0 <= size <= bits:
            raise ValueError
    except (OSError, ValueError):
        raise InputError(f"not a network: {text!r}", where, lineno) from None
    span = 1 << (bits - size)
    first = value - value % span
    return (6 if bits == 128 else 4), first, first + span - 1


@dataclass
class Regions:
    """Provider -> region -> country, and which regions (or whole providers) are anycast."""

    countries: dict[str, dict[str, str]]
    anycast_regions: dict[str, set[str]]
    anycast_providers: set[str]
    geofeed_providers: set[str]

    def locate(self, provider: str, region: str) -> Location | None:
        detail = f"{provider} {region}".strip()
        if provider in self.anycast_providers or region in self.anycast_regions.get(provider, set()):
            return Location(None, CLOUD, True, detail)
        table = self.countries.get(provider, {})
        name = region
        while name:
            if name in table:
                return Location(table[name], CLOUD, False, detail)
            name = name.rpartition("-")[0]
        if provider in self.geofeed_providers and len(region) >= 2 and region[:2].isalpha():
            return Location(region[:2].upper(), CLOUD, False, detail)
        return None   # a prefix without a usable region: geolocation decides


def read_regions(path: Path) -> Regions:
    doc = load(path)
    providers = doc.get("providers") if isinstance(doc, dict) else None
    if not isinstance(providers, dict):
        raise InputError("cloud region data needs a 'providers' mapping", str(path))
    countries: dict[str, dict[str, str]] = {}
    anycast_regions: dict[str, set[str]] = {}
    anycast_providers: set[str] = set()
    geofeed: set[str] = set()
    for name, info in providers.items():
        info = info or {}
        regions = info.get("regions") or {}
        for region, code in regions.items():
            if not isinstance(code, str) or len(code) != 2:
                raise InputError(f"{name} {region}: country must be an ISO alpha-2 code, not {code!r}", str(path))
        countries[str(name)] = {str(k): str(v).upper() for k, v in regions.items()}
        anycast_regions[str(name)] = {str(r) for r in info.get("anycast") or []}
        if info.get("anycast_provider"):
            anycast_providers.add(str(name))
        if info.get("region_format") == "geofeed":
            geofeed.add(str(name))
    return Regions(countries, anycast_regions, anycast_providers, geofeed)


@dataclass
class Locator:
    """The three location sources, queried in order for one address at a time."""

    v4: _Flat
    v6: _Flat
    geo: Any = None     # a maxminddb Reader, or None when the MMDB is not available
    notes: list[str] = field(default_factory=list)
    special4: _Flat = field(default_factory=lambda: _Flat([]))   # special-purpose blocks: no
    special6: _Flat = field(default_factory=lambda: _Flat([]))   # interval crosses their edges

    def locate(self, ip: str) -> tuple[Location, int, int]:
        """Where ``ip`` is, and the interval [lo, hi] of addresses for which the same answer holds.

        Non-public addresses (private, documentation, loopback) have no location.
        """
        addr = parse_ip(ip)
        if addr is None:
            return UNKNOWN, 0, -1
        value = int(addr)
        bits = 32 if addr.version == 4 else 128
        lo, hi = 0, (1 << bits) - 1
        if not addr.is_global:
            return UNKNOWN, value, value
        # Within one special-purpose block (multicast, say) or one gap between them: a network that
        # crossed an edge would also hold addresses of another kind (the broadcast address).
        _, lo, hi = (self.special4 if addr.version == 4 else self.special6).find(value, lo, hi)
        found, lo, hi = (self.v4 if addr.version == 4 else self.v6).find(value, lo, hi)
        if found is not None and (found.country is not None or found.anycast):
            return found, lo, hi
        if self.geo is not None:
            record, length = self.geo.get_with_prefix_len(str(addr))
            span = 1 << (bits - length)
            start = value - value % span
            lo, hi = max(lo, start), min(hi, start + span - 1)
            code = record.get("country_code") if isinstance(record, dict) else None
            if isinstance(code, str) and len(code) == 2:
                return Location(code.upper(), GEO, False, found.detail if found else None), lo, hi
        return (found or UNKNOWN), lo, hi


def read_cloud_ranges(ranges: Path, regions: Regions) -> tuple[list[tuple[int, int, Any]], list[tuple[int, int, Any]]]:
    """``prefix TAB provider TAB region`` lines (gzip) -> (first, last, :class:`Location`) per family."""
    v4: list[tuple[int, int, Any]] = []
    v6: list[tuple[int, int, Any]] = []
    seen: dict[tuple[str, str], Location] = {}
    with gzip.open(ranges, "rt", encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, 1):
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 3:
                raise InputError(f"expected prefix, provider and region, got {len(parts)} fields", str(ranges), lineno)
            version, first, last = _prefix(parts[0], str(ranges), lineno)
            key = (parts[1], parts[2])
            where = seen.get(key)
            if where is None:
                where = seen[key] = (regions.locate(*key)
                                     or Location(None, CLOUD, False, f"{parts[1]} {parts[2]}".strip()))
            (v4 if version == 4 else v6).append((first, last, where))
    return v4, v6


def read_anycast(path: Path) -> list[tuple[int, int, int, Location]]:
    """(version, lo, hi, location) of every prefix in ``anycast.yaml``."""
    out = []
    for item in entries(path, "services", "anycast", "anycast entry needs a name and a source", ("name", "source")):
        where = Location(None, ANYCAST, True, str(item["name"]))
        for text in item.get("prefixes") or []:
            out.append((*_prefix(str(text), str(path)), where))
    return out


def open_mmdb(path: Path) -> Any:
    """A ``maxminddb`` reader over an MMDB file, plain or compressed (``.xz``, ``.gz``)."""
    import maxminddb

    try:
        if path.suffix == ".xz":
            return maxminddb.open_database(io.BytesIO(lzma.decompress(path.read_bytes())), maxminddb.MODE_FD)
        if path.suffix == ".gz":
            return maxminddb.open_database(io.BytesIO(gzip.decompress(path.read_bytes())), maxminddb.MODE_FD)
        return maxminddb.open_database(str(path))
    except (OSError, lzma.LZMAError, maxminddb.InvalidDatabaseError, ValueError) as exc:
        raise InputError(f"cannot read the geolocation database: {exc}", str(path)) from None


def read_special(path: Path) -> list[tuple[int, int, int, str]]:
    """(version, lo, hi, name) of every block in ``special-addresses.yaml``."""
    blocks = entries(path, "blocks", "special-purpose address", "special-purpose block needs a prefix and a name",
                     ("prefix", "name"))
    return [(*_prefix(str(item["prefix"]), str(path)), str(item["name"])) for item in blocks]


def build_locator(ranges: Path, regions_path: Path, anycast_path: Path, mmdb: Path | None,
                  special_path: Path | None = None) -> Locator:
    """All three sources; anycast services are painted over the cloud ranges (more specific wins)."""
    regions = read_regions(regions_path)
    v4, v6 = read_cloud_ranges(ranges, regions)
    for version, lo, hi, where in read_anycast(anycast_path):
        (v4 if version == 4 else v6).append((lo, hi, where))
    geo = open_mmdb(mmdb) if mmdb is not None and mmdb.exists() else None
    notes = [] if geo is not None else ["geolocation database missing: locations come from cloud ranges only"]
    special = read_special(special_path) if special_path is not None else []
    return Locator(_Flat(v4), _Flat(v6), geo, notes,
                   _Flat([(lo, hi, name) for version, lo, hi, name in special if version == 4]),
                   _Flat([(lo, hi, name) for version, lo, hi, name in special if version == 6]))


@dataclass(frozen=True)
class Network:
    """The facts of one network, looked up once: its interval, its location."""

    version: int
    lo: int
    hi: int
    location: Location

    @property
    def label(self) -> str:
        """``52.28.0.0/15`` when the interval is one CIDR block, else ``first-last``."""
        first = ipaddress.ip_address(self.lo) if self.version == 4 else ipaddress.IPv6Address(self.lo)
        last = ipaddress.ip_address(self.hi) if self.version == 4 else ipaddress.IPv6Address(self.hi)
        blocks = list(ipaddress.summarize_address_range(first, last))  # type: ignore[type-var]
        return str(blocks[0]) if len(blocks) == 1 else f"{first}-{last}"


def asn_narrowing(version: int, value: int, lo: int, hi: int) -> tuple[int, int]:
    """Narrow [lo, hi] to the announced range of the shipped ASN table around ``value`` (or the
    gap between two ranges), so that one network is also one operator."""
    from scanner.knowledge import ipdata

    table = ipdata._v4() if version == 4 else ipdata._v6()  # noqa: SLF001 - same package, read-only
    index = bisect_right(table.starts, value) - 1
    if index >= 0 and value <= table.ends[index]:
        return max(lo, int(table.starts[index])), min(hi, int(table.ends[index]))
    if index >= 0:
        lo = max(lo, int(table.ends[index]) + 1)
    if index + 1 < len(table.starts):
        hi = min(hi, int(table.starts[index + 1]) - 1)
    return lo, hi


class NetworkIndex:
    """Address -> :class:`Network`, each network looked up once (cached by /24, resp. /48 bucket).

    ``extra`` narrows the interval further (e.g. to the announcing AS's range), so one network
    means one location *and* one operator.
    """

    def __init__(self, locator: Locator, extra: Any = None) -> None:
        self.locator = locator
        self.extra = extra
        self.buckets: dict[tuple[int, int], list[Network]] = {}
        self.large: dict[int, tuple[list[int], list[Network]]] = {4: ([], []), 6: ([], [])}  # by lo, sorted
        self.lookups = 0

    def network(self, ip: str) -> Network | None:
        try:   # socket, not ipaddress: this runs once per distinct address of a city's traffic
            if ":" in ip:
                value, version = int.from_bytes(socket.inet_pton(socket.AF_INET6, ip.split("%", 1)[0]), "big"), 6
            else:
                value, version = int.from_bytes(socket.inet_aton(ip), "big"), 4
                if ip.count(".") != 3:
                    return None   # inet_aton also takes "10.1" and similar short forms
        except (OSError, ValueError):
            return None
        shift = 8 if version == 4 else 80
        key = (version, value >> shift)
        bucket = self.buckets.get(key)
        if bucket is not None:
            for net in bucket:
                if net.lo <= value <= net.hi:
                    return net
        los, large = self.large[version]
        at = bisect_right(los, value) - 1
        if at >= 0 and large[at].hi >= value:   # a network wider than 64 buckets, seen before
            self.buckets.setdefault(key, []).append(large[at])
            return large[at]
        self.lookups += 1
        location, lo, hi = self.locator.locate(ip)
        if self.extra is not None:
            lo, hi = self.extra(version, value, lo, hi)
        net = Network(version, lo, hi, location)
        first, last = lo >> shift, hi >> shift
        if last - first < 64:
            for index in range(first, last + 1):
                self.buckets.setdefault((version, index), []).append(net)
        else:   # networks are cells of one partition of the address space: they never overlap
            at = bisect_right(los, lo)
            los.insert(at, lo)
            large.insert(at, net)
            self.buckets.setdefault(key, []).append(net)
        return net
