"""Resolve stage: where each device's data goes, who owns it, and whose law reaches it.

Destinations come from observed traffic (``--flows``, captures) and from the vendor cloud
endpoints the fingerprint database lists for an identified device (source ``fingerprint``), so a
device is flagged for where it is built to talk even when no traffic was captured. Each is then
enriched offline (shipped ASN and country data, the curated ownership table) and, only with
``--online``, through cached, rate-limited RDAP/DNS look-ups.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from . import ipdata
from .fingerprint_db import FingerprintDB, Vendor, default_db
from .model import Destination, Device, Evidence, ScanResult
from .ownership import Ownership, load_ownership

if TYPE_CHECKING:
    from .flows import FlowSummary
    from .online import OnlineLookups


@dataclass(frozen=True)
class FlowKey:
    device_ip: str
    ip: str
    port: int | None
    transport: str


def _is_local(ip: str) -> bool:
    try:
        return not ipaddress.ip_address(ip).is_global
    except ValueError:
        return False


@lru_cache(maxsize=65536)
def _is_host(ip: str) -> bool:
    """A unicast address a device can have: not 0.0.0.0 (DHCP), multicast, broadcast or loopback."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return not (addr.is_unspecified or addr.is_multicast or addr.is_loopback
                or (addr.version == 4 and addr == ipaddress.IPv4Address("255.255.255.255")))


def destinations_from_flows(result: ScanResult, summary: FlowSummary, create_devices: bool = True) -> list[Destination]:
    """One destination per (device, remote address, port, transport) seen in the traffic.

    Traffic from addresses that are not yet devices is attributed to a new device when the source
    is a local (non-global) address, so a flow log alone is enough to map a segment. Flows between
    two local devices stay too: where a camera streams to is part of the map.
    """
    known = {d.ip for d in result.devices}
    out: list[Destination] = []
    for (src, dst, port, transport), stats in summary.flows.items():
        if not _is_host(src) or not _is_host(dst):
            continue  # DHCP, SSDP/mDNS announcements, broadcasts: the segment's own chatter, not a destination
        if src not in known:
            if not create_devices or not _is_local(src):
                continue
            result.devices.append(Device(ip=src, evidence=[Evidence("flows", "seen as a traffic source")]))
            known.add(src)
        names = sorted(summary.names.get(dst, ()))
        detail = (f"{stats.connections} connection(s), {stats.bytes or 0} bytes"
                  + (f", DNS name {', '.join(names[:3])}" if names else ""))
        out.append(Destination(device_ip=src, host=names[0] if names else None, ip=dst, port=port,
                               transport=transport, sources=["flows"],
                               evidence=[Evidence("flows", f"{src} -> {dst}:{port}/{transport}: {detail}")]))
    return out


def destinations_from_fingerprints(result: ScanResult, db: FingerprintDB) -> list[Destination]:
    """The vendor cloud / P2P / update hosts a device is built to talk to."""
    out = []
    for device in result.devices:
        if not device.vendor:
            continue
        for name in db.maker_chain(device.vendor):
            vendor = db.vendor(name)
            if vendor is None:
                continue
            for endpoint in vendor.cloud_endpoints:
                out.append(Destination(
                    device_ip=device.ip, host=endpoint.host, port=endpoint.port, sources=["fingerprint"],
                    evidence=[Evidence("fingerprint", f"{name} devices use {endpoint.host} ({endpoint.purpose}); "
                                                      f"source: {endpoint.source or vendor.file}")]))
    return out


def _vendor_for_host(host: str | None, db: FingerprintDB) -> Vendor | None:
    if not host:
        return None
    host = host.lower().rstrip(".")
    for vendor in db.vendors.values():
        for endpoint in vendor.cloud_endpoints:
            domain = ".".join(endpoint.host.split(".")[-2:])
            if host == endpoint.host or host.endswith("." + domain) or host == domain:
                return vendor
    return None


def enrich(dest: Destination, own: Ownership, db: FingerprintDB, online: OnlineLookups | None = None) -> Destination:
    """Fill ASN, owner, company, parent, country and jurisdictions, each with its source."""
    if online is not None:
        online.complete(dest)
    if dest.ip:
        info = ipdata.asn_of(dest.ip)
        if info and dest.asn is None:
            dest.asn = info.asn
            dest.network_owner = dest.network_owner or info.name
            dest.sources.append("asn-table")
        if dest.country is None:
            dest.country = ipdata.country_of(dest.ip)
            if dest.country:
                dest.sources.append("rir-country")
    company = own.by_asn(dest.asn, dest.network_owner) if dest.asn or dest.network_owner else None
    how = "network owner"
    if company is None:
        company = own.by_host(dest.host)
        how = "host name"
    vendor = _vendor_for_host(dest.host, db) if company is None else None
    if vendor is not None:
        company, how = own.canonical(vendor.company) or vendor.company, f"{vendor.name} cloud endpoint"
    owner = own.owner(company)
    if owner is not None and owner.country is None and vendor is not None:
        owner = type(owner)(owner.company, vendor.country, vendor.parent if not owner.parent else owner.parent,
                            vendor.parent_country if not owner.parent else owner.parent_country)
    if owner is not None:
        dest.company = owner.company
        dest.parent_company = owner.parent or owner.company
        dest.sources.append("ownership")
        dest.evidence.append(Evidence("ownership", f"{dest.host or dest.ip}: {how} -> {owner.company}"
                                                   f" ({owner.country or 'country unknown'})"
                                                   + (f", ultimate parent {owner.parent} ({owner.parent_country})"
                                                      if owner.parent else "")))
    jurisdictions: list[str] = []
    for code in [dest.country, *(owner.jurisdictions() if owner else [])]:
        if code and code not in jurisdictions:
            jurisdictions.append(code)
    dest.jurisdictions = jurisdictions
    dest.sources = list(dict.fromkeys(dest.sources))
    return dest


def merge(destinations: Iterable[Destination]) -> list[Destination]:
    """One destination per device + host/ip + port; sources and evidence combined."""
    by_key: dict[str, Destination] = {}
    for dest in destinations:
        key = dest.key()
        if key in by_key:
            old = by_key[key]
            old.sources = list(dict.fromkeys([*old.sources, *dest.sources]))
            old.evidence.extend(e for e in dest.evidence if e not in old.evidence)
        else:
            by_key[key] = dest
    return sorted(_fold_expected(list(by_key.values())),
                  key=lambda d: (d.device_ip, d.host or "", d.ip or "", d.port or 0))


def _fold_expected(dests: list[Destination]) -> list[Destination]:
    """A vendor endpoint the traffic confirms is one destination, not two: the observed one
    (with its address) keeps the fingerprint's evidence; unconfirmed endpoints stay as they are."""
    seen: dict[tuple[str, str], list[Destination]] = {}
    for dest in dests:
        if dest.ip and dest.host:
            seen.setdefault((dest.device_ip, dest.host.lower().rstrip(".")), []).append(dest)
    out = []
    for dest in dests:
        observed = [] if dest.ip or not dest.host else [
            d for d in seen.get((dest.device_ip, dest.host.lower().rstrip(".")), [])
            if dest.port is None or d.port == dest.port]
        if not observed:
            out.append(dest)
            continue
        for target in observed:
            target.sources = list(dict.fromkeys([*target.sources, *dest.sources]))
            target.evidence.extend(e for e in dest.evidence if e not in target.evidence)
    return out


def resolve(result: ScanResult, summary: FlowSummary | None = None, online: OnlineLookups | None = None,
            db: FingerprintDB | None = None) -> ScanResult:
    db = db or default_db()
    own = load_ownership()
    found: list[Destination] = list(result.destinations)
    if summary is not None:
        found += destinations_from_flows(result, summary)
    found += destinations_from_fingerprints(result, db)
    merged = merge(found)
    for dest in merged:
        if not dest.jurisdictions:
            enrich(dest, own, db, online)
    result.destinations = merged
    if online is not None:
        result.errors.extend(online.drain_errors())
    return result
