"""Signals every device gives away without a probe: its MAC's IEEE registration and nmap's data.

Extracted generically, before any vendor rule, so fingerprints match on normalised fields.
"""

from __future__ import annotations

import netaddr

from scanner.model import Device, Observation


def oui_org(mac: str | None) -> str | None:
    """The IEEE registry's organisation for a MAC address (offline, from netaddr's copy)."""
    if not mac:
        return None
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
