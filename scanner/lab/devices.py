"""Definitions of the lab's emulated devices (``scanner/lab/devices/*.yaml``), validated."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scanner.errors import InputError
from scanner.knowledge import validate as v
from scanner.knowledge.paths import lab_devices_dir
from scanner.knowledge.yamlfile import load

KINDS = ("http", "https", "rtsp", "banner", "snmp", "ssdp", "silent", "modbus", "s7", "bacnet", "enip")
BEHAVIOURS = ("stall", "drip", "endless", "huge-headers", "malformed")
DEVICE_KEYS = ("name", "title", "ip", "mac", "expect", "sources", "services", "notes", "hostile", "destinations")
SERVICE_KEYS = {
    "http": ("kind", "port", "headers", "routes", "default", "notes", "behaviour"),
    "https": ("kind", "port", "headers", "routes", "default", "cert_subject", "cert_days", "cert_extra_sans",
              "notes", "behaviour"),
    "rtsp": ("kind", "port", "server", "public", "describe_status", "www_authenticate", "notes", "behaviour"),
    "banner": ("kind", "port", "banner", "notes", "behaviour"),
    "snmp": ("kind", "port", "community", "sysdescr", "sysobjectid", "sysname", "notes", "behaviour"),
    "ssdp": ("kind", "port", "server", "location_path", "location_port", "st", "usn", "notes", "behaviour"),
    "silent": ("kind", "port", "notes", "behaviour"),
    # industrial control protocols (scanner/lab/ot.py): what nmap's read-only identification scripts read
    "modbus": ("kind", "port", "slave_id", "device_id", "notes"),
    "s7": ("kind", "port", "module", "basic_hardware", "firmware", "system_name", "module_type", "plant_id",
           "copyright", "serial", "notes"),
    "bacnet": ("kind", "port", "instance", "vendor_id", "vendor_name", "model_name", "firmware",
               "application_software", "object_name", "description", "location", "notes"),
    "enip": ("kind", "port", "vendor_id", "device_type", "product_code", "revision", "status", "serial",
             "product_name", "state", "notes"),
}
OT_KINDS = frozenset({"modbus", "s7", "bacnet", "enip"})
ROUTE_KEYS = ("path", "method", "status", "headers", "body", "auth", "notes")
DEFAULT_PORTS = {"http": 80, "https": 443, "rtsp": 554, "snmp": 161, "ssdp": 1900, "modbus": 502, "s7": 102,
                 "bacnet": 47808, "enip": 44818}


@dataclass
class DeviceSpec:
    name: str
    title: str
    ip: str
    mac: str
    expect: dict[str, Any]
    sources: list[str]
    services: list[dict[str, Any]]
    file: str
    hostile: bool = False
    destinations: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ot(self) -> bool:
        """Whether the device speaks an industrial control protocol: only a scan with ``--ot`` asks it."""
        return any(svc["kind"] in OT_KINDS for svc in self.services)


def load_device(path: Path) -> DeviceSpec:
    doc = load(path)
    if not isinstance(doc, dict):
        raise InputError("a lab device must be a YAML mapping", str(path), 1)
    v.check_keys(doc, DEVICE_KEYS, "lab device", required=("name", "ip", "mac", "services"))
    ip = v.typed(doc, "ip", str, "lab device")
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        raise v.fail(doc, "ip", f"lab device ip {ip!r} is not an IP address") from None
    if not any(addr in ipaddress.ip_network(n) for n in ("198.51.100.0/24", "203.0.113.0/24", "192.0.2.0/24")):
        raise v.fail(doc, "ip", "lab device ip must be in a documentation range (RFC 5737)")
    mac = v.typed(doc, "mac", str, "lab device").lower()
    if not re.fullmatch(r"([0-9a-f]{2}:){5}[0-9a-f]{2}", mac):
        raise v.fail(doc, "mac", f"lab device mac {mac!r} is not a MAC address")
    services = doc["services"] or []
    if not isinstance(services, list):
        raise v.fail(doc, "services", "lab device services must be a list")
    checked = []
    for index, raw in enumerate(services):
        svc = v.mapping(raw, services, index, "service")
        kind = v.choice(svc, "kind", KINDS, "service")
        if kind is None:
            raise v.fail(svc, None, "service needs a 'kind'")
        v.check_keys(svc, SERVICE_KEYS[kind], f"{kind} service")
        v.choice(svc, "behaviour", BEHAVIOURS, f"{kind} service")
        svc = dict(svc)
        svc.setdefault("port", DEFAULT_PORTS.get(kind))
        if not isinstance(svc["port"], int):
            raise v.fail(raw, "port", f"{kind} service needs a port")
        for r_index, route in enumerate(svc.get("routes") or []):
            route = v.mapping(route, svc["routes"], r_index, "route")
            v.check_keys(route, ROUTE_KEYS, "route", required=("path",))
        checked.append(svc)
    return DeviceSpec(
        name=v.typed(doc, "name", str, "lab device"),
        title=v.typed(doc, "title", str, "lab device", "") or "",
        ip=ip, mac=mac,
        expect=dict(doc.get("expect") or {}),
        sources=v.string_list(doc, "sources", "lab device"),
        services=checked, file=str(path),
        hostile=bool(doc.get("hostile", False)),
        destinations=list(doc.get("destinations") or []),
    )


def load_devices(directory: Path | None = None) -> list[DeviceSpec]:
    root = directory or lab_devices_dir()
    devices = [load_device(p) for p in sorted(root.glob("*.yaml"))]
    seen: dict[str, str] = {}
    for dev in devices:
        for key in (dev.name, dev.ip, dev.mac):
            if key in seen:
                raise InputError(f"{key} is used by two lab devices ({seen[key]})", dev.file)
            seen[key] = dev.file
    return devices
