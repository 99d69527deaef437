"""Where each device's data goes: destinations from observed traffic and from vendor endpoints.

Observed traffic (``--flows``, captures) gives what a device did; the fingerprint database's cloud
endpoints give where an identified device is built to talk (source ``fingerprint``), so a device is
flagged for it even when no traffic was captured. A vendor endpoint the traffic confirms is one
destination, not two.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any

from scanner.knowledge.fingerprints import FingerprintDB
from scanner.model import Destination, Device, Evidence
from scanner.model.addresses import is_global, parse_ip
from scanner.model.flows import FlowSummary, NetStats


_BROADCAST = ipaddress.IPv4Address("255.255.255.255")


@lru_cache(maxsize=65536)
def _is_host(ip: str) -> bool:
    """A unicast address a device can have: not 0.0.0.0 (DHCP), multicast, broadcast or loopback."""
    addr = parse_ip(ip)
    if addr is None:
        return False
    return not (addr.is_unspecified or addr.is_multicast or addr.is_loopback
                or (addr.version == 4 and addr == _BROADCAST))


def destinations_from_flows(known_ips: set[str], summary: FlowSummary,
                            create_devices: bool = True) -> tuple[list[Destination], list[Device]]:
    """One destination per (device, remote address, port, transport) seen in the traffic.

    Traffic from addresses that are not yet devices is attributed to a new device when the source
    is a local (non-global) address, so a flow log alone is enough to map a segment. Flows between
    two local devices stay too: where a camera streams to is part of the map. Returns the
    destinations and the devices first seen as traffic sources.
    """
    known = set(known_ips)
    out: list[Destination] = []
    new_devices: list[Device] = []
    for (src, network, port, transport), agg in summary.networks.items():
        dst = agg.addresses[0] if agg.addresses else network
        if not _is_host(src) or not _is_host(dst):
            continue
        if src not in known:
            if not create_devices or is_global(src):
                continue
            new_devices.append(Device(ip=src, evidence=[Evidence("flows", "seen as a traffic source")]))
            known.add(src)
        out.append(_network_destination(src, network, port, transport, agg, summary))
    for (src, dst, port, transport), stats in summary.flows.items():
        if not _is_host(src) or not _is_host(dst):
            continue  # DHCP, SSDP/mDNS announcements, broadcasts: the segment's own chatter, not a destination
        if src not in known:
            if not create_devices or is_global(src):
                continue
            new_devices.append(Device(ip=src, evidence=[Evidence("flows", "seen as a traffic source")]))
            known.add(src)
        names = sorted(summary.names.get(dst, ()))
        detail = (f"{stats.connections} connection(s), {stats.bytes or 0} bytes"
                  + (f", DNS name {', '.join(names[:3])}" if names else ""))
        out.append(Destination(device_ip=src, host=names[0] if names else None, ip=dst, port=port,
                               transport=transport, sources=["flows"],
                               evidence=[Evidence("flows", f"{src} -> {dst}:{port}/{transport}: {detail}")],
                               traffic={"connections": stats.connections, "bytes": stats.bytes,
                                        "bytes_out": stats.bytes_out,
                                        "first_seen": _iso(stats.first_ts), "last_seen": _iso(stats.last_ts)}))
    return out, new_devices


def _network_destination(src: str, network: str, port: int | None, transport: str, agg: NetStats,
                         summary: FlowSummary) -> Destination:
    """One destination for all addresses of one network (traffic folded at city scale): the first
    address stands for the network, the evidence names the network and the sample addresses."""
    names = sorted({n for ip in agg.addresses for n in summary.names.get(ip, ())})
    shown = ", ".join(agg.addresses) + (", ..." if agg.more_addresses else "")
    count = f"{len(agg.addresses)}{'+' if agg.more_addresses else ''} address(es)"
    detail = (f"{agg.connections} connection(s), {agg.bytes or 0} bytes to {count} in {network} ({shown})"
              + (f", DNS name {', '.join(names[:3])}" if names else ""))
    return Destination(device_ip=src, host=names[0] if names else None, ip=agg.addresses[0] if agg.addresses else None,
                       port=port, transport=transport, sources=["flows"],
                       evidence=[Evidence("flows", f"{src} -> {network}:{port}/{transport}: {detail}")],
                       traffic={"connections": agg.connections, "bytes": agg.bytes, "bytes_out": agg.bytes_out,
                                "first_seen": _iso(agg.first_ts), "last_seen": _iso(agg.last_ts)})


def destinations_from_fingerprints(devices: list[Device], db: FingerprintDB) -> list[Destination]:
    """The vendor cloud / P2P / update hosts a device is built to talk to."""
    out = []
    for device in devices:
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


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _add_traffic(a: dict[str, Any] | None, b: dict[str, Any] | None) -> dict[str, Any] | None:
    """The traffic of one destination seen in two inputs: counts added, the wider time span."""
    if a is None or b is None:
        return a or b
    def pick(key: str, fold: Callable[[list[str]], str]) -> str | None:
        values = [v for v in (a.get(key), b.get(key)) if v]
        return fold(values) if values else None
    def add(key: str) -> int | None:
        return None if a.get(key) is None and b.get(key) is None else int(a.get(key) or 0) + int(b.get(key) or 0)
    return {"connections": int(a.get("connections") or 0) + int(b.get("connections") or 0), "bytes": add("bytes"),
            "bytes_out": add("bytes_out"), "first_seen": pick("first_seen", min), "last_seen": pick("last_seen", max)}


def merge(destinations: Iterable[Destination]) -> list[Destination]:
    """One destination per device + host/ip + port; sources and evidence combined."""
    by_key: dict[str, Destination] = {}
    for dest in destinations:
        key = dest.key()
        if key in by_key:
            old = by_key[key]
            old.sources = list(dict.fromkeys([*old.sources, *dest.sources]))
            old.evidence.extend(e for e in dest.evidence if e not in old.evidence)
            old.traffic = _add_traffic(old.traffic, dest.traffic)
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
