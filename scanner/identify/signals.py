"""Signals every device gives away without a probe: its MAC's IEEE registration and nmap's data.

Extracted generically, before any vendor rule, so fingerprints match on normalised fields.
"""

from __future__ import annotations

import re
from functools import lru_cache

import netaddr

from scanner.model import Device, Observation

_MAC = re.compile(r"([0-9a-f]{2})([:-]?)([0-9a-f]{2})\2([0-9a-f]{2})(?:\2[0-9a-f]{2}){3}")


def oui_org(mac: str | None) -> str | None:
    """The IEEE registry's organisation for a MAC address (offline, from netaddr's copy).

    Looked up once per OUI: netaddr reads its registry file on every look-up, which at city size
    (10,000 devices, a few hundred OUIs) was a quarter of the identify stage."""
    if not mac:
        return None
    plain = _MAC.fullmatch(mac.strip().lower())
    if plain:
        return _registered_org(plain.group(1) + plain.group(3) + plain.group(4))
    return _lookup(mac)  # other spellings netaddr accepts (or refuses), uncached


@lru_cache(maxsize=65536)
def _registered_org(oui: str) -> str | None:
    return _lookup(oui + "000000")


def _lookup(mac: str) -> str | None:
    try:
        return str(netaddr.EUI(mac).oui.registration().org).strip() or None
    except (netaddr.core.AddrFormatError, netaddr.core.NotRegisteredError, ValueError, IndexError, TypeError):
        return None


def base_observations(device: Device) -> list[Observation]:
    """Observations every device has without probing: its MAC's OUI and nmap's service data."""
    out: list[Observation] = []
    org = oui_org(device.mac)
    if org:
        out.append(Observation("mac.oui_org", org, "ieee-oui"))
    if device.mac_vendor:
        out.append(Observation("nmap.mac_vendor", device.mac_vendor, "nmap"))
    for svc in device.services:
        if svc.product:
            out.append(Observation("nmap.product", svc.product, "nmap-sV", svc.port))
        if svc.version:
            out.append(Observation("nmap.version", svc.version, "nmap-sV", svc.port))
        for cpe in svc.cpe:
            out.append(Observation("nmap.cpe", cpe, "nmap-sV", svc.port))
    return out
