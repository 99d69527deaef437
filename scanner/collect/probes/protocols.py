"""One function per read-only probe; each returns observations or raises ProbeFailed.

Allowed by cityscan's rules of engagement: HTTP GET/OPTIONS (and the read-only ONVIF
GetDeviceInformation query), RTSP OPTIONS/DESCRIBE, banner reads, TLS handshakes, unicast SSDP
searches and SNMP GETs with the configured community. Never a login, never a change.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import socket

import defusedxml.ElementTree as SafeET
from cryptography import x509
from defusedxml import DefusedXmlException

from scanner.collect.probes import snmp
from scanner.collect.probes.http import (
    ONVIF_GET_DEVICE_INFORMATION,
    ONVIF_PATH,
    HttpResponse,
    parse_response,
    request,
)
from scanner.collect.probes.net import (
    Budget,
    ProbeFailed,
    ProbeNote,
    connect,
    read_until,
    send,
)
from scanner.knowledge.loader import enterprise
from scanner.model import Observation
from scanner.model.text import decode_untrusted

MAX_KEEP = 16384  # bytes of a response body kept as evidence
MAX_CERT = 256 * 1024
MAX_XML = 256 * 1024


_REALM = re.compile(r"""\brealm\s*=\s*(?:"([^"]{0,256})"|([^\s,"]{1,256}))""", re.IGNORECASE)


def realm(challenge: str) -> str | None:
    """The ``realm`` of a ``WWW-Authenticate`` challenge (Basic or Digest): the name a device gives its login."""
    match = _REALM.search(challenge)
    if not match:
        return None
    value = (match.group(1) if match.group(1) is not None else match.group(2)).strip()
    return value or None


def http_observations(resp: HttpResponse, port: int, path: str, probe: str) -> list[Observation]:
    out = [Observation("http.status", str(resp.status), probe, port, path)]  # what was served, e.g. only a redirect
    for header, fieldname in (("server", "http.server"), ("www-authenticate", "http.www_authenticate"),
                              ("location", "http.location")):
        value = resp.header(header)
        if value:
            out.append(Observation(fieldname, decode_untrusted(value.encode("latin-1"), 1024), probe, port, path))
            if fieldname == "http.www_authenticate" and realm(out[-1].value):
                out.append(Observation("http.realm", realm(out[-1].value) or "", probe, port, path))
    title = resp.title()
    if title:
        out.append(Observation("http.title", title, probe, port, path))
    if resp.body and resp.status < 400:
        out.append(Observation("http.body", decode_untrusted(resp.body, MAX_KEEP), probe, port, path))
    return out


def http_get(ip: str, port: int, path: str, timeout: float, tls: bool) -> list[Observation]:
    probe = "https" if tls else "http"
    resp = request(ip, port, path, timeout, tls=tls)
    found = http_observations(resp, port, path, f"{probe}-get")
    if resp.truncated:
        raise ProbeNote(f"answer larger than {len(resp.body) // 1024} KiB: truncated (an endless body?)", found,
                        stop=True)
    location = resp.header("location")
    if location and 300 <= resp.status < 400:
        target = re.match(r"^[a-z][a-z0-9+.-]*://\[?([^/:\]]+)", location.strip(), re.IGNORECASE)
        if target and target.group(1) != ip:
            raise ProbeNote(f"redirect to {location[:120]!r}, another host: not followed", found)
        if location.split("?")[0] in (path.split("?")[0], f"http://{ip}{path}", f"http://{ip}:{port}{path}"):
            raise ProbeNote(f"redirect loop ({path} -> {location[:80]!r}): not followed", found)
    return found


def favicon(ip: str, port: int, timeout: float, tls: bool) -> list[Observation]:
    """MD5 of ``/favicon.ico`` (the hash Rapid7 recog's favicons.xml and nmap's http-favicon use)."""
    resp = request(ip, port, FAVICON_PATH, timeout, tls=tls)
    if resp.status != 200 or not resp.body:
        raise ProbeFailed(f"no favicon ({resp.status})", absent=True)
    if resp.truncated or len(resp.body) > MAX_FAVICON:
        raise ProbeFailed(f"favicon larger than {MAX_FAVICON // 1024} KiB: not hashed", absent=True)
    digest = hashlib.md5(resp.body, usedforsecurity=False).hexdigest()
    return [Observation("http.favicon_md5", digest, "https-get" if tls else "http-get", port, FAVICON_PATH)]


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse_xml(data: bytes) -> SafeET.Element:
    """Untrusted XML: no DTD entities, no external references, bounded size."""
    if len(data) > MAX_XML:
        raise ProbeFailed("XML document too large")
    try:
        return SafeET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise ProbeFailed(f"refused unsafe XML ({type(exc).__name__})") from None
    except (SafeET.ParseError, ValueError, RecursionError) as exc:
        raise ProbeFailed(f"malformed XML: {str(exc)[:80]}") from None


def xml_fields(root: SafeET.Element, wanted: dict[str, str]) -> dict[str, str]:
    """First text of each wanted element (namespace-agnostic), e.g. {'Manufacturer': 'onvif.manufacturer'}."""
    found: dict[str, str] = {}
    for element in root.iter():
        name = _local(str(element.tag))
        if name in wanted and wanted[name] not in found and element.text and element.text.strip():
            found[wanted[name]] = element.text.strip()[:1024]
    return found


ONVIF_FIELDS = {"Manufacturer": "onvif.manufacturer", "Model": "onvif.model",
                "FirmwareVersion": "onvif.firmware", "HardwareId": "onvif.hardware_id"}
UPNP_FIELDS = {"manufacturer": "upnp.manufacturer", "modelName": "upnp.model_name",
               "modelNumber": "upnp.model_number", "modelDescription": "upnp.model_description",
               "friendlyName": "upnp.friendly_name", "serialNumber": "upnp.serial",
               # not in the UPnP Device Architecture, but what vendors add for the firmware (e.g. Sonos)
               "firmwareVersion": "upnp.firmware", "softwareVersion": "upnp.firmware"}
FAVICON_PATH = "/favicon.ico"
MAX_FAVICON = 64 * 1024
MAX_SANS = 20


def onvif_device_information(ip: str, port: int, timeout: float) -> list[Observation]:
    resp = request(ip, port, ONVIF_PATH, timeout, method="POST", body=ONVIF_GET_DEVICE_INFORMATION,
                   content_type='application/soap+xml; charset=utf-8; action="http://www.onvif.org/ver10/device/wsdl/GetDeviceInformation"')
    if resp.status != 200 or not resp.body:
        raise ProbeFailed(f"ONVIF GetDeviceInformation answered {resp.status}", absent=True)
    fields = xml_fields(parse_xml(resp.body), ONVIF_FIELDS)
    return [Observation(k, v, "onvif", port, ONVIF_PATH) for k, v in fields.items()]


def tls_certificate(ip: str, port: int, timeout: float) -> list[Observation]:
    budget = Budget(timeout)
    sock = connect(ip, port, budget, tls=True)
    try:
        der = sock.getpeercert(binary_form=True)  # type: ignore[attr-defined]
    finally:
        sock.close()
    if not der:
        raise ProbeFailed("no certificate presented")
    if len(der) > MAX_CERT:
        raise ProbeFailed(f"certificate of {len(der)} bytes refused")
    try:
        cert = x509.load_der_x509_certificate(der)
        subject, issuer = cert.subject.rfc4514_string(), cert.issuer.rfc4514_string()
        not_after = cert.not_valid_after_utc
    except ValueError as exc:
        raise ProbeFailed(f"unreadable certificate: {exc}") from None
    found = [Observation("tls.subject", subject[:1024], "tls", port), Observation("tls.issuer", issuer[:1024], "tls", port)]
    found += [Observation("tls.san", name, "tls", port) for name in subject_alt_names(cert)]
    notes = []
    if len(der) > 16 * 1024:
        notes.append(f"oversized certificate ({len(der)} bytes)")
    if not_after < dt.datetime.now(dt.timezone.utc):
        notes.append(f"certificate expired {not_after.date().isoformat()}")
    if notes and cert.subject == cert.issuer:  # self-signed alone is normal for embedded devices
        notes.append("self-signed")
    if notes:
        raise ProbeNote("; ".join(notes), found)
    return found


def subject_alt_names(cert: x509.Certificate) -> list[str]:
    """The certificate's DNS names and IP addresses as ``DNS:name`` / ``IP:address`` (at most 20)."""
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (x509.ExtensionNotFound, ValueError):
        return []
    names = [f"DNS:{n}" for n in ext.get_values_for_type(x509.DNSName)]
    names += [f"IP:{a}" for a in ext.get_values_for_type(x509.IPAddress)]
    return [decode_untrusted(n.encode("utf-8", "surrogateescape"), 512) for n in names[:MAX_SANS]]


def banner(ip: str, port: int, timeout: float, field: str) -> list[Observation]:
    """Read what the service sends first (SSH/FTP/SMTP/Telnet); nothing is sent but a polite close.

    A telnet greeting often starts with empty lines and puts the version on the line before the
    login prompt ("MikroTik v6.42.3 (stable)\\r\\nLogin:"), so telnet is read until it falls silent.
    """
    budget = Budget(timeout)
    sock = connect(ip, port, budget)
    try:
        if field == "telnet.banner":
            data = read_until(sock, budget, 4096, idle=min(1.0, timeout), partial_ok=True)
        else:
            data = read_until(sock, budget, 4096, stop=b"\n", idle=min(2.0, timeout))
    finally:
        sock.close()
    if field == "telnet.banner":
        data = _strip_telnet_negotiation(data)
    text = decode_untrusted(data, 1024).strip()
    if not text:
        raise ProbeFailed("service sent no banner")
    return [Observation(field, text, "banner", port)]


def _strip_telnet_negotiation(data: bytes) -> bytes:
    return re.sub(rb"\xff[\xfb-\xfe].|\xff\xfa.*?\xff\xf0", b"", data, flags=re.DOTALL)


def rtsp_options(ip: str, port: int, timeout: float) -> list[Observation]:
    budget = Budget(timeout)
    sock = connect(ip, port, budget)
    described = None
    try:
        send(sock, f"OPTIONS rtsp://{ip}:{port}/ RTSP/1.0\r\nCSeq: 1\r\nUser-Agent: cityscan\r\n\r\n".encode(), budget)
        raw = read_until(sock, budget, 16384, stop=b"\r\n\r\n")
        # DESCRIBE (read-only) tells whether the stream description is served without a login.
        try:
            send(sock, f"DESCRIBE rtsp://{ip}:{port}/ RTSP/1.0\r\nCSeq: 2\r\nAccept: application/sdp\r\n"
                       "User-Agent: cityscan\r\n\r\n".encode(), budget)
            described = parse_response(read_until(sock, budget, 16384, stop=b"\r\n\r\n"))
        except (ProbeFailed, OSError, ValueError):
            described = None  # the OPTIONS answer still counts
    finally:
        sock.close()
    resp = parse_response(raw)
    out = []
    server = resp.header("server")
    if server:
        out.append(Observation("rtsp.server", decode_untrusted(server.encode("latin-1"), 1024), "rtsp-options", port))
    if described is not None and described.status:
        out.append(Observation("rtsp.describe_status", str(described.status), "rtsp-describe", port))
    return out  # many cameras send no Server header: a normal answer, just nothing to identify


def snmp_get(ip: str, timeout: float, community: str, port: int = 161) -> list[Observation]:
    request_id = int.from_bytes(os.urandom(3), "big")
    packet = snmp.get_request(community, [snmp.SYS_DESCR, snmp.SYS_OBJECT_ID, snmp.SYS_NAME], request_id)
    budget = Budget(timeout)
    with socket.socket(socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.sendto(packet, (ip, port))
            while True:
                sock.settimeout(budget.left())
                data, addr = sock.recvfrom(snmp.MAX_PACKET)
                if addr[0] != ip:
                    continue
                try:
                    msg = snmp.decode(data)
                except snmp.SnmpError as exc:
                    raise ProbeFailed(f"malformed SNMP answer: {exc}") from None
                if msg.request_id == request_id:
                    break
        except (TimeoutError, socket.timeout):
            raise ProbeFailed(f"no SNMP answer within {timeout:g} s", absent=True) from None
        except OSError as exc:  # ICMP port unreachable: no agent
            raise ProbeFailed(f"SNMP failed: {exc.strerror or exc}", absent=True) from None
    out = []
    for oid, value in msg.varbinds:
        if oid == snmp.SYS_DESCR and isinstance(value, bytes) and value:
            out.append(Observation("snmp.sysdescr", decode_untrusted(value, 2048), "snmp", port))
        elif oid == snmp.SYS_OBJECT_ID and isinstance(value, str) and value.startswith("oid:"):
            out.append(Observation("snmp.sysobjectid", value[4:], "snmp", port))
            org = enterprise(value[4:])
            if org:  # the IANA registrant of the enterprise number: the maker of the agent, not a guess
                out.append(Observation("snmp.enterprise", org, "snmp", port))
        elif oid == snmp.SYS_NAME and isinstance(value, bytes) and value:
            out.append(Observation("snmp.sysname", decode_untrusted(value, 256), "snmp", port))
    return out


def ssdp_search(ip: str, timeout: float, port: int = 1900) -> tuple[list[Observation], str | None]:
    """A unicast M-SEARCH to the device only (never multicast: that reaches out-of-scope hosts)."""
    msg = (f"M-SEARCH * HTTP/1.1\r\nHOST: {ip}:{port}\r\nMAN: \"ssdp:discover\"\r\nMX: 1\r\n"
           "ST: upnp:rootdevice\r\n\r\n").encode()
    budget = Budget(timeout)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.sendto(msg, (ip, port))
            while True:
                sock.settimeout(budget.left())
                data, addr = sock.recvfrom(8192)
                if addr[0] == ip:
                    break
        except (TimeoutError, socket.timeout):
            raise ProbeFailed(f"no SSDP answer within {timeout:g} s", absent=True) from None
        except OSError as exc:
            raise ProbeFailed(f"SSDP failed: {exc.strerror or exc}", absent=True) from None
    resp = parse_response(data)
    out = []
    server = resp.header("server")
    if server:
        out.append(Observation("upnp.server", decode_untrusted(server.encode("latin-1"), 1024), "ssdp", port))
    return out, resp.header("location")


def upnp_description(ip: str, location: str, timeout: float) -> list[Observation]:
    """Fetch the UPnP description only from the device itself (a LOCATION elsewhere is refused)."""
    match = re.match(r"^http://([^/:]+)(?::(\d+))?(/[^\s]*)?$", location.strip())
    if not match:
        raise ProbeFailed(f"unsupported UPnP LOCATION {location[:80]!r}")
    host, port_text, path = match.group(1), match.group(2), match.group(3) or "/"
    if host != ip:
        raise ProbeFailed(f"UPnP LOCATION points to {host[:60]}, not the device; not followed")
    port = int(port_text or 80)
    resp = request(ip, port, path, timeout)
    if resp.status != 200:
        raise ProbeFailed(f"UPnP description answered {resp.status}")
    fields = xml_fields(parse_xml(resp.body), UPNP_FIELDS)
    return [Observation(k, v, "upnp", port, path) for k, v in fields.items()]
