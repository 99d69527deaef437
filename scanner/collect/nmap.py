"""Discover stage: devices and open services, from a live nmap run or from nmap XML files.

Both paths go through one streaming XML reader (:func:`parse_nmap_stream`): expat with defusedxml's
protections (no entity declarations, no external references, no parameter entities) feeding C's
TreeBuilder, because an imported file is outside input and may be malformed, hostile or very large,
and a city's file is big enough that a pure-Python tree builder doubled the import time. Hosts
are turned into devices as soon as their element ends and are then dropped from the tree, so a
city-size file is read in bounded memory. What nmap itself concluded (service, OS match, NSE
script output) becomes observations under the same normalised fields the probes use.
"""

from __future__ import annotations

import contextlib
import io
import ipaddress
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterable
from typing import Any, BinaryIO
from xml.etree.ElementTree import Element, TreeBuilder
from xml.parsers import expat

from defusedxml import DefusedXmlException, EntitiesForbidden, ExternalReferenceForbidden

from scanner.collect.scope import Network, Scope
from scanner.collect.timing import Timing
from scanner.errors import CannotRunError, InputError
from scanner.files import open_input
from scanner.model import Device, Observation, ScanError, Service
from scanner.model.addresses import ip_sort_key
from scanner.model.text import terminal_safe
from scanner.runtime.interrupt import end_with_us, release

MAX_XML_BYTES = 256 * 1024 * 1024
MAX_DEPTH = 32                   # nmap nests five deep; more is not nmap output
MAX_ELEMENTS_PER_HOST = 200_000  # a host with every port and many scripts stays far below
CHUNK = 1024 * 1024
# Ports where city devices expose management, video and identification services.
# 4343: Aruba controller web UI; 16113: NMSP (a WLC feeding a location engine).
DEFAULT_PORTS = "21,22,23,80,81,443,554,1883,4343,4370,5000,7547,8000,8080,8081,8443,8554,8883,8899,9000,16113,37777"
# --ot (opt-in): the ports of industrial control protocols, and the only NSE scripts cityscan runs,
# nmap's read-only identification scripts (docs/research/ot-identification.md says what each sends).
# 102: S7comm (ISO-TSAP), 502: Modbus/TCP, 20000: DNP3 (port scan only: nmap has no DNP3 script),
# 44818: EtherNet/IP; UDP 47808: BACnet/IP (a UDP scan needs raw packets: root or CAP_NET_RAW).
OT_TCP_PORTS = (102, 502, 20000, 44818)
OT_UDP_PORTS = (47808,)
OT_SCRIPTS = ("s7-info", "modbus-discover", "bacnet-info", "enip-info")
OT_UNPRIVILEGED = ("--ot without raw-packet privileges: BACnet (UDP 47808) is not scanned (a UDP scan needs root, "
                   "or nmap with CAP_NET_RAW and NMAP_PRIVILEGED=1); only the TCP OT ports (S7, Modbus, DNP3, "
                   "EtherNet/IP) are")


_LINE = "{urn:cityscan}line"  # where an element started, kept only for the elements errors name
_LINE_TAGS = frozenset({"host", "address", "port"})
# Character references XML 1.0 forbids (C0 controls but tab/newline/CR, surrogates, U+FFFE/F)
# and the same bytes raw: nmap writes device-supplied banners with them (e.g. &#x1b; of an ANSI
# colour code). They are made visible as the text ``\x1b`` instead of failing the whole file.
_CHAR_REF = re.compile(rb"&#(?:[xX]([0-9a-fA-F]{1,8})|([0-9]{1,10}));")
_RAW_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_MAC = re.compile(r"^[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}$")


def _visible(code: int) -> bytes:
    if code < 0x100:
        return b"\\x%02x" % code
    return b"\\u%04x" % code if code < 0x10000 else b"\\U%08x" % code


def _allowed(code: int) -> bool:
    return code in (0x9, 0xA, 0xD) or 0x20 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD or 0x10000 <= code <= 0x10FFFF


def _fix_ref(match: re.Match[bytes]) -> bytes:
    code = int(match.group(1), 16) if match.group(1) else int(match.group(2))
    return match.group(0) if _allowed(code) else _visible(code)


def visible_controls(data: bytes) -> bytes:
    """``data`` with every character XML 1.0 forbids (as a reference or raw) written as ``\\xNN`` text.

    Only control characters are touched, never newlines, so line numbers stay those of the file.
    """
    if b"&#" in data:
        data = _CHAR_REF.sub(_fix_ref, data)
    return _RAW_CONTROL.sub(lambda m: _visible(m.group(0)[0]), data)


class _NmapBuilder:
    """Builds one host at a time: each ``<host>`` becomes a device when it ends and is then dropped."""

    def __init__(self, source: str, sink: list[Device] | None = None) -> None:
        self.source = source
        self.sink = sink  # the caller's list: what was read survives a stop signal in the middle of a file
        self.tree = TreeBuilder()  # the C builder: expat calls back here only for start and end
        self.parser = expat.ParserCreate()  # nmap's XML uses no namespaces
        parser = self.parser
        parser.buffer_text = True
        parser.StartElementHandler = self.start
        parser.EndElementHandler = self.end
        parser.CharacterDataHandler = self.tree.data
        # defusedxml's protections, on the parser itself: entity expansion (billion laughs) and
        # external references (XXE) are refused; a DOCTYPE without them is harmless
        parser.EntityDeclHandler = self._entity
        parser.UnparsedEntityDeclHandler = self._unparsed_entity
        parser.ExternalEntityRefHandler = self._external_reference
        parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
        self.depth = 0
        self.elements = 0  # in the current child of <nmaprun>: one host's record is bounded, not only the file
        self.root: Element | None = None
        self.meta = {"nmap_version": "", "args": ""}
        self.devices: list[Device] = []
        self.errors: list[ScanError] = []
        self.finished = False

    def _entity(self, name: str, is_parameter: bool, value: str | None, base: str | None, sysid: str | None,
                pubid: str | None, notation: str | None) -> None:
        raise EntitiesForbidden(name, value, base, sysid, pubid, notation)

    def _unparsed_entity(self, name: str, base: str | None, sysid: str | None, pubid: str | None,
                         notation: str | None) -> None:
        raise EntitiesForbidden(name, None, base, sysid, pubid, notation)

    def _external_reference(self, context: str, base: str | None, sysid: str | None, pubid: str | None) -> Any:
        raise ExternalReferenceForbidden(context, base, sysid, pubid)

    def line(self) -> int | None:
        return self.parser.CurrentLineNumber

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        self.depth += 1
        if self.depth == 2:
            self.elements = 0
        self.elements += 1
        if self.depth > MAX_DEPTH or self.elements > MAX_ELEMENTS_PER_HOST:
            raise InputError(f"malformed nmap XML: an element nested {self.depth} deep or a <{tag[:40]}> record of "
                             f"more than {MAX_ELEMENTS_PER_HOST} elements (hostile or not nmap output)",
                             self.source, self.line())
        if self.depth == 1:
            if tag != "nmaprun":
                raise InputError(f"not nmap XML output (root element <{tag[:40]}>, expected <nmaprun>)",
                                 self.source, self.line())
            self.meta = {"nmap_version": attrs.get("version") or "", "args": attrs.get("args") or ""}
        if tag in _LINE_TAGS:
            attrs[_LINE] = str(self.line() or "")
        element = self.tree.start(tag, attrs)
        if self.depth == 1:
            self.root = element

    def end(self, tag: str) -> None:
        element = self.tree.end(tag)
        self.depth -= 1
        if tag == "host":
            self._host(element)
        elif tag == "taskend":
            extra = element.get("extrainfo") or ""
            if "timed out" in extra:
                self.errors.append(ScanError("discover", f"nmap: {terminal_safe(extra, 200)}"))
        elif tag == "runstats":
            self.finished = True
        if self.depth == 1 and self.root is not None and len(self.root):
            del self.root[-1]  # done with this child of <nmaprun>: keep memory flat

    def _host(self, host: Element) -> None:
        device = _host(host, self.source)
        if device is None:
            return
        if host.get("endtime") is None and host.find("ports") is None and host.find("status") is None:
            self.errors.append(ScanError("discover", "host record incomplete", device.ip))
        self.devices.append(device)
        if self.sink is not None:
            self.sink.append(device)


def parse_nmap_stream(handle: BinaryIO, source: str = "<nmap>", limit: int = MAX_XML_BYTES,
                      sink: list[Device] | None = None) -> tuple[list[Device], list[ScanError], dict[str, str]]:
    """Devices (hosts that are up), per-host problems and run metadata from nmap XML read from ``handle``.
    Each device is also appended to ``sink`` as soon as its host element ends."""
    builder = _NmapBuilder(source, sink)
    parser = builder.parser
    total = 0
    carry = b""
    try:
        while True:
            try:
                chunk = handle.read(CHUNK)
            except OSError as exc:
                raise InputError(f"cannot read: {exc.strerror or exc}", source) from None
            total += len(chunk)
            if total > limit:
                raise InputError(f"nmap XML larger than {limit} bytes", source)
            if not chunk:
                break
            data = carry + chunk
            cut = data.rfind(b"&", max(0, len(data) - 24))
            if cut >= 0 and b";" not in data[cut:]:
                data, carry = data[:cut], data[cut:]  # a reference split between two reads
            else:
                carry = b""
            parser.Parse(visible_controls(data), False)
        parser.Parse(visible_controls(carry), True)
    except DefusedXmlException as exc:
        raise InputError(f"refusing unsafe XML ({type(exc).__name__})", source) from None
    except expat.ExpatError as exc:
        raise InputError(f"malformed nmap XML: {_parse_reason(exc)}", source, exc.lineno or None) from None
    if builder.root is None:
        raise InputError("malformed nmap XML: no element found", source, 1)
    errors = builder.errors
    if not builder.finished:
        errors.append(ScanError("discover", f"{source}: nmap run incomplete (no <runstats>); results may be partial"))
    return builder.devices, errors, builder.meta


def parse_nmap_xml(data: bytes | str, source: str = "<nmap>") -> tuple[list[Device], list[ScanError], dict[str, str]]:
    """:func:`parse_nmap_stream` of XML already in memory (nmap's own output of a live scan)."""
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogateescape")
    if len(data) > MAX_XML_BYTES:
        raise InputError(f"nmap XML larger than {MAX_XML_BYTES} bytes", source)
    return parse_nmap_stream(io.BytesIO(data), source)


def _parse_reason(exc: Exception) -> str:
    text = str(exc)
    return text.split(":")[0] if ": line" in text else text


def _line(element: Element) -> int | None:
    text = element.get(_LINE) or ""
    return int(text) if text.isdigit() else None


def _address(addr: Element, source: str) -> tuple[str, str] | None:
    """``(kind, address)`` of an ``<address>``, checked: a malformed one is an input error."""
    kind = addr.get("addrtype") or ""
    value = (addr.get("addr") or "").strip()
    if kind in ("ipv4", "ipv6"):
        try:
            parsed = ipaddress.ip_address(value)
        except ValueError:
            raise InputError(f"invalid {kind} address {terminal_safe(value, 60)!r}", source, _line(addr)) from None
        if parsed.version != (4 if kind == "ipv4" else 6):
            raise InputError(f"address {terminal_safe(value, 60)!r} is not {kind}", source, _line(addr))
        return kind, str(parsed)
    if kind == "mac":
        if not _MAC.match(value):
            raise InputError(f"invalid MAC address {terminal_safe(value, 60)!r}", source, _line(addr))
        return kind, value.lower()
    return None


def _port_number(port: Element, source: str) -> int:
    text = (port.get("portid") or "").strip()
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise InputError(f"port number {terminal_safe(text, 20)!r} is not in 0-65535", source, _line(port))
    return int(text)


def _host(host: Element, source: str = "<nmap>") -> Device | None:
    ip = mac = mac_vendor = None
    for addr in host.findall("address"):
        checked = _address(addr, source)
        if checked is None:
            continue
        kind, value = checked
        if kind in ("ipv4", "ipv6") and ip is None:
            ip = value
        elif kind == "mac":
            mac = value
            mac_vendor = addr.get("vendor")
    ports = [(port, _port_number(port, source)) for port in host.iter("port")]
    status = host.find("status")
    if status is not None and status.get("state") not in (None, "up"):
        return None
    own = status is not None and status.get("reason") == "localhost-response"
    if not ip or (own and not ipaddress.ip_address(ip).is_loopback):
        return None  # the scanning host's own interface is not a device on the segment
    hostname = None
    for name in host.iter("hostname"):
        hostname = name.get("name")
        break
    services: list[Service] = []
    observations: list[Observation] = []
    for port, number in ports:
        state = port.find("state")
        state_name = state.get("state") if state is not None else None
        if state_name not in ("open", "open|filtered"):
            continue
        transport = port.get("protocol") or "tcp"
        svc = port.find("service")
        services.append(Service(
            port=number,
            transport=transport,
            name=svc.get("name") if svc is not None else None,
            product=svc.get("product") if svc is not None else None,
            version=svc.get("version") if svc is not None else None,
            extrainfo=svc.get("extrainfo") if svc is not None else None,
            state=state_name or "open",
            method=svc.get("method") if svc is not None else None,
            cpe=[c.text.strip() for c in svc.findall("cpe") if c.text and c.text.strip()][:8] if svc is not None else [],
        ))
        for script in port.findall("script"):
            observations.extend(script_observations(script, number, svc.get("name") if svc is not None else None))
    for script in host.findall("hostscript/script"):
        observations.extend(script_observations(script, None, None))
    observations.extend(os_observations(host))
    unique = list(dict.fromkeys((o.field, o.value, o.probe, o.port, o.path) for o in observations))
    return Device(ip=ip, mac=mac, hostname=hostname, mac_vendor=mac_vendor, services=services,
                  observations=[Observation(*key) for key in unique])


# --- nmap's own knowledge -> normalised observation fields ----------------------------------------

MAX_VALUE = 2048
MIN_OS_ACCURACY = 95  # nmap's OS guesses below this are guesses, not evidence
# Subject/issuer attribute names of nmap's ssl-cert tables, written like RFC 4514 (as the TLS probe does).
_DN_NAMES = {"emailAddress": "1.2.840.113549.1.9.1", "commonName": "CN", "organizationalUnitName": "OU",
             "organizationName": "O", "streetAddress": "STREET", "localityName": "L",
             "stateOrProvinceName": "ST", "postalCode": "postalCode", "countryName": "C"}
_BANNER_PORTS = {21: "ftp.banner", 22: "ssh.banner", 23: "telnet.banner", 25: "smtp.banner", 587: "smtp.banner",
                 2222: "ssh.banner", 2323: "telnet.banner"}
_BANNER_NAMES = {"ftp": "ftp.banner", "ssh": "ssh.banner", "telnet": "telnet.banner", "smtp": "smtp.banner"}
_UPNP_LINES = {"Server": "upnp.server", "Name": "upnp.friendly_name", "Manufacturer": "upnp.manufacturer",
               "Model Descr": "upnp.model_description", "Model Name": "upnp.model_name",
               "Model Version": "upnp.model_number"}


# nmap's read-only OT identification scripts (--ot, or imported XML): output key -> field.
_OT_KEYS: dict[str, dict[str, str]] = {
    "s7-info": {"Module": "s7.module", "Basic Hardware": "s7.basic_hardware", "Version": "s7.version",
                "System Name": "s7.system_name", "Module Type": "s7.module_type", "Serial Number": "s7.serial",
                "Copyright": "s7.copyright", "Plant Identification": "s7.plant_id"},
    "bacnet-info": {"Vendor ID": "bacnet.vendor_id", "Vendor Name": "bacnet.vendor_name",
                    "Firmware": "bacnet.firmware", "Application Software": "bacnet.application_software",
                    "Object Name": "bacnet.object_name", "Model Name": "bacnet.model_name",
                    "Description": "bacnet.description"},
    "enip-info": {"vendor": "enip.vendor", "productName": "enip.product_name", "type": "enip.device_type",
                  "revision": "enip.revision", "serialNumber": "enip.serial", "productCode": "enip.product_code"},
}
_MODBUS_KEYS = {"Slave ID data": "modbus.slave_id", "Device identification": "modbus.device_id"}
MAX_MODBUS_UNITS = 8  # an aggressive modbus-discover run lists up to 246 unit ids; the first few identify


def _clip(value: str | None) -> str:
    return (value or "").strip()[:MAX_VALUE]


def _elems(table: Element | None) -> dict[str, str]:
    if table is None:
        return {}
    return {e.get("key") or "": (e.text or "").strip() for e in table.findall("elem")}


def _table(script: Element, key: str) -> Element | None:
    return next((t for t in script.findall("table") if t.get("key") == key), None)


def distinguished_name(table: Element | None) -> str | None:
    """An ssl-cert ``subject``/``issuer`` table as ``CN=..,OU=..,O=..,L=..,ST=..,C=..`` (the TLS probe's form)."""
    fields = _elems(table)
    if not fields:
        return None
    order = list(_DN_NAMES)
    keys = sorted(fields, key=lambda k: (order.index(k) if k in order else len(order), k))
    parts = [f"{_DN_NAMES.get(k, k)}={_dn_escape(fields[k])}" for k in keys if fields[k]]
    return ",".join(parts)[:MAX_VALUE] or None


def _dn_escape(value: str) -> str:
    return re.sub(r"([,+=<>#;\\])", r"\\\1", value)


def san_names(text: str) -> list[str]:
    """OpenSSL's ``DNS:a, IP Address:192.0.2.1`` as ``["DNS:a", "IP:192.0.2.1"]`` (at most 20)."""
    names = []
    for part in text.split(","):
        part = part.strip()
        if part.startswith("IP Address:"):
            part = "IP:" + part[len("IP Address:"):]
        if part:
            names.append(part[:512])
    return names[:20]


def script_observations(script: Element, port: int | None, service: str | None) -> list[Observation]:
    """What an NSE script's output says, under the fields the probes fill (http-title -> http.title, ...)."""
    sid = script.get("id") or ""
    output = (script.get("output") or "").strip()
    probe = f"nmap-script:{sid}"[:64]

    def obs(field: str, value: str | None) -> list[Observation]:
        value = _clip(value)
        return [Observation(field, value, probe, port)] if value else []

    if sid == "http-title":
        title = _elems(script).get("title")
        if title is None:
            first = output.splitlines()[0].strip() if output else ""
            title = None if first.startswith(("Site doesn't have a title", "Did not follow redirect")) else first
        return obs("http.title", title)
    if sid == "http-server-header":
        return [o for line in output.splitlines() for o in obs("http.server", line)][:4]
    if sid == "ssl-cert":
        found = obs("tls.subject", distinguished_name(_table(script, "subject")))
        found += obs("tls.issuer", distinguished_name(_table(script, "issuer")))
        extensions = _table(script, "extensions")
        for ext in extensions.findall("table") if extensions is not None else []:
            values = _elems(ext)
            if values.get("name") == "X509v3 Subject Alternative Name":
                found += [Observation("tls.san", name, probe, port) for name in san_names(values.get("value", ""))]
        if not found and output:  # an old nmap without structured output: "Subject: commonName=x/..."
            match = re.search(r"^Subject: (.+)$", output, re.MULTILINE)
            if match:
                found += obs("tls.subject", ",".join(_DN_NAMES.get(k, k) + "=" + v for k, _, v in
                                                    (p.partition("=") for p in match.group(1).split("/")) if v))
        return found
    if sid == "snmp-sysdescr":
        return obs("snmp.sysdescr", re.split(r"\n\s*System uptime:", output)[0])
    if sid == "upnp-info":
        found = []
        for line in output.splitlines():
            key, sep, value = line.strip().partition(": ")
            if sep and key in _UPNP_LINES:
                found += obs(_UPNP_LINES[key], value)
        return found[:32]
    if sid == "rtsp-methods":
        return obs("rtsp.methods", output)
    if sid == "http-favicon":
        match = re.search(r"\b([0-9A-Fa-f]{32})\b", output)
        return obs("http.favicon_md5", match.group(1).lower() if match else None)
    if sid in _OT_KEYS:
        return ot_observations(sid, script, output, obs)
    if sid == "modbus-discover":
        return modbus_observations(script, output, obs)
    if sid == "banner" and port is not None:
        field = _BANNER_NAMES.get((service or "").lower()) or _BANNER_PORTS.get(port)
        return obs(field, output) if field else []
    return []


def _text_pairs(output: str) -> list[tuple[str, str]]:
    """``Key: value`` lines of a script's text output (nmap without structured output, or a hand-made file)."""
    pairs = []
    for line in output.splitlines()[:64]:
        key, sep, value = line.strip().partition(": ")
        if sep:
            pairs.append((key.strip(), value))
    return pairs


def ot_observations(sid: str, script: Element, output: str,
                    obs: Callable[[str, str | None], list[Observation]]) -> list[Observation]:
    """s7-info, bacnet-info, enip-info: one flat table of the device's own identification strings."""
    keys = _OT_KEYS[sid]
    values = _elems(script)
    pairs = list(values.items()) if values else _text_pairs(output)
    found: list[Observation] = []
    for key, value in pairs:
        if key in keys:
            found += obs(keys[key], value)
    return found[:len(keys)]


def modbus_observations(script: Element, output: str,
                        obs: Callable[[str, str | None], list[Observation]]) -> list[Observation]:
    """modbus-discover: a table per answering unit id (``sid 0x64``) with its Report Slave ID data and its
    Read Device Identification objects (vendor, product code, revision joined by spaces)."""
    found: list[Observation] = []
    tables = [t for t in script.findall("table") if (t.get("key") or "").startswith("sid ")][:MAX_MODBUS_UNITS]
    if tables:
        for table in tables:
            for key, value in _elems(table).items():
                if key in _MODBUS_KEYS and value != "<unknown>":
                    found += obs(_MODBUS_KEYS[key], value)
        return found
    for key, value in _text_pairs(output)[:4 * MAX_MODBUS_UNITS]:
        if key in _MODBUS_KEYS and value != "<unknown>":
            found += obs(_MODBUS_KEYS[key], value)
    return found


def os_observations(host: Element) -> list[Observation]:
    """nmap's OS matches of high accuracy (``-O``) and their CPEs: what the TCP/IP stack looks like."""
    out: list[Observation] = []
    for match in host.findall("os/osmatch")[:3]:
        accuracy = match.get("accuracy") or ""
        if not accuracy.isdigit() or int(accuracy) < MIN_OS_ACCURACY:
            continue
        if match.get("name"):
            out.append(Observation("nmap.os", _clip(match.get("name")), "nmap-O"))
        for cpe in match.findall("osclass/cpe")[:4]:
            if cpe.text and cpe.text.strip():
                out.append(Observation("nmap.os_cpe", _clip(cpe.text), "nmap-O"))
    return out


def import_nmap_xml(paths: Iterable[str], sink: list[Device] | None = None) -> tuple[
        list[Device], list[ScanError], list[dict[str, str]]]:
    """Every file's devices, merged by address. ``sink`` receives each device as it is read, so a
    stop signal in the middle of a city's file still leaves the hosts read so far to the caller."""
    devices: list[Device] = []
    errors: list[ScanError] = []
    inputs: list[dict[str, str]] = []
    for path in paths:
        with open_input(path, "nmap XML file", regular_only=True) as handle:
            found, errs, meta = parse_nmap_stream(handle, path, sink=sink)
        devices = merge_devices(devices, found)
        errors.extend(errs)
        inputs.append({"kind": "nmap-xml", "path": path, "nmap_version": meta["nmap_version"]})
    return devices, errors, inputs


def merge_devices(known: list[Device], new: Iterable[Device]) -> list[Device]:
    """One device per IP; later data fills what earlier data lacked and adds services."""
    by_ip = {d.ip: d for d in known}
    for device in new:
        old = by_ip.get(device.ip)
        if old is None:
            by_ip[device.ip] = device
            continue
        old.mac = old.mac or device.mac
        old.mac_vendor = old.mac_vendor or device.mac_vendor
        old.hostname = old.hostname or device.hostname
        ports = {(s.port, s.transport) for s in old.services}
        old.services.extend(s for s in device.services if (s.port, s.transport) not in ports)
        seen = {(o.field, o.value, o.port, o.path) for o in old.observations}
        old.observations.extend(o for o in device.observations if (o.field, o.value, o.port, o.path) not in seen)
    return sorted(by_ip.values(), key=lambda d: ip_sort_key(d.ip))


def nmap_path() -> str:
    path = shutil.which("nmap")
    if not path:
        raise CannotRunError("nmap is not installed or not on PATH (Debian/Ubuntu: apt-get install nmap)")
    return path


_PORT_ITEM = re.compile(r"(?:[TUS]:)?(\d{1,5})(?:-(\d{1,5}))?")


def valid_ports(spec: str) -> bool:
    """A port list nmap's ``-p`` takes and nothing else: ``80,443,8000-8100``, ``T:80,U:161``.

    Anything more (a space, a second target, an option such as ``--script``) is refused, so that
    user text can never become an nmap option or a target.
    """
    if not spec or len(spec) > 4096:
        return False
    for item in spec.split(","):
        match = _PORT_ITEM.fullmatch(item)
        if match is None:
            return False
        low, high = int(match.group(1)), int(match.group(2) or match.group(1))
        if not 0 < low <= high < 65536:
            return False
    return True


def ot_port_spec(ports: str | None, udp: bool) -> str:
    """The port list of an ``--ot`` scan: the user's (or the default) TCP ports plus the OT ports,
    each protocol named (``T:...,U:...``) so that ``-sU`` scans UDP only where UDP is meant.

    nmap's ``T:``/``U:``/``S:`` prefixes hold until the next one; an item before any prefix is
    TCP here (without ``-sU`` nmap scans such items over TCP only, which is what they meant).
    """
    lists: dict[str, list[str]] = {"T": [], "U": [], "S": []}
    current = "T"
    for item in (ports or DEFAULT_PORTS).split(","):
        if item[:2] in ("T:", "U:", "S:"):
            current, item = item[0], item[2:]
        if item not in lists[current]:
            lists[current].append(item)
    lists["T"] += [str(p) for p in OT_TCP_PORTS if str(p) not in lists["T"]]
    if udp:
        lists["U"] += [str(p) for p in OT_UDP_PORTS if str(p) not in lists["U"]]
    else:
        lists["U"] = []  # no UDP scan: U: items would be ignored by nmap anyway
    return ",".join(f"{proto}:{','.join(items)}" for proto, items in lists.items() if items)


def nmap_arguments(ports: str | None, timing: Timing, privileged: bool, ot: bool = False) -> list[str]:
    """nmap options as an argv list: gentle timing, bounded per host, the ports to look at.

    ``ot`` (opt-in, ``--ot``) adds the OT ports and nmap's read-only identification scripts
    (:data:`OT_SCRIPTS`, constants: never user text) with no script arguments; the UDP port
    (BACnet) only when nmap may send raw packets. Without ``ot`` no script runs at all.
    """
    if ports is not None and not valid_ports(ports):
        raise InputError(f"--ports {ports[:80]!r} is not a port list like '80,443,8000-8100'")
    spec = ot_port_spec(ports, privileged) if ot else (ports or DEFAULT_PORTS)
    args = ["-n", f"-T{int(timing.template)}", "--host-timeout", f"{int(timing.host_timeout)}s",
            "--max-retries", str(int(timing.max_retries)), "-p", spec]
    args += ["-sS"] if privileged else ["-sT"]
    if ot:
        if privileged:
            args += ["-sU"]
        args += ["--script", ",".join(OT_SCRIPTS), "--script-timeout", f"{ot_script_timeout(timing)}s"]
    if timing.max_rate:
        args += ["--max-rate", str(int(timing.max_rate))]
    return args


def ot_script_timeout(timing: Timing) -> int:
    """Seconds one OT script may run on one port: half the host's budget, at least 10 s, so that
    modbus-discover's search for an answering unit id (2 s per id) cannot use the whole host time-out."""
    return max(10, int(timing.host_timeout) // 2)


def nmap_argv(targets: list[Network], ports: str | None, timing: Timing, privileged: bool,
              ot: bool = False) -> list[str]:
    """The whole command, one list element per argument (no shell, no splitting): XML on stdout,
    the options, then the targets, each an address or network cityscan parsed itself."""
    return [nmap_path(), "-oX", "-", *nmap_arguments(ports, timing, privileged, ot), *(str(t) for t in targets)]


UNPRIVILEGED = ("not root and NMAP_PRIVILEGED not set: nmap runs a TCP connect scan without ARP, so devices get "
                "no MAC address (no MAC-vendor identification) and hosts that ignore pings on the scanned ports may "
                "be missed; run as root, or give nmap CAP_NET_RAW and set NMAP_PRIVILEGED=1")


def privileged() -> bool:
    """Whether nmap may send raw packets: root, or nmap with CAP_NET_RAW told so (the container and
    the systemd unit set NMAP_PRIVILEGED)."""
    return os.geteuid() == 0 or "NMAP_PRIVILEGED" in os.environ


def scan_live(targets: list[Network], scope: Scope, ports: str | None,
              timing: Timing, ot: bool = False) -> tuple[list[Device], list[ScanError], str]:
    """Run nmap against targets already checked against ``scope``; its XML is read like an import.
    ``ot``: also the OT ports and nmap's read-only OT identification scripts (opt-in)."""
    scope.check(targets)  # defence in depth: never send a packet outside the scope
    argv = nmap_argv(targets, ports, timing, privileged(), ot)
    wall = max(60, timing.host_timeout * 2 + 30)
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except OSError as exc:
        raise CannotRunError(f"nmap could not be started: {exc.strerror}") from None
    end_with_us(proc)  # an immediate exit (second signal) must not leave nmap sending
    try:
        out, err = proc.communicate(timeout=wall)
    except subprocess.TimeoutExpired:
        _stop(proc)
        raise CannotRunError(f"nmap did not finish within {wall} s") from None
    except BaseException:
        _stop(proc)  # a stop signal: nmap must not go on sending after the scan has ended
        raise
    finally:
        release(proc)
    if proc.returncode != 0:
        raise _nmap_failure(err.decode("utf-8", "replace"), proc.returncode)
    devices, errors, meta = parse_nmap_xml(out, "nmap")
    devices = [d for d in devices if scope.contains_ip(d.ip)]
    return devices, errors, meta.get("nmap_version", "")


def _nmap_failure(stderr: str, code: int) -> CannotRunError:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    message = next((line for line in lines if "QUITTING" not in line), lines[0] if lines else f"exit status {code}")
    message = terminal_safe(message, 200)
    if "requires root" in message or "Operation not permitted" in message:
        return CannotRunError(f"nmap: {message} (run as root or give nmap CAP_NET_RAW)")
    return CannotRunError(f"nmap: {message}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """End our nmap child: SIGTERM, then SIGKILL if it has not gone within 5 s."""
    with contextlib.suppress(OSError):
        proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(OSError):
            proc.kill()
        proc.wait()
