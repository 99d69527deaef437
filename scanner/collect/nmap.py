"""Discover stage: devices and open services, from a live nmap run or from nmap XML files.

Both paths go through one XML reader (:func:`parse_nmap_xml`), which parses with defusedxml:
an imported file is outside input and may be malformed or hostile.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
import shutil
import subprocess
from collections.abc import Iterable
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from scanner.collect.scope import Network, Scope
from scanner.collect.timing import Timing
from scanner.errors import CannotRunError, InputError
from scanner.files import read_bounded
from scanner.model import Device, ScanError, Service
from scanner.model.addresses import ip_sort_key
from scanner.model.text import terminal_safe

MAX_XML_BYTES = 256 * 1024 * 1024
# Ports where city devices expose management, video and identification services.
# 4343: Aruba controller web UI; 16113: NMSP (a WLC feeding a location engine).
DEFAULT_PORTS = "21,22,23,80,81,443,554,1883,4343,4370,5000,7547,8000,8080,8081,8443,8554,8883,8899,9000,16113,37777"


def parse_nmap_xml(data: bytes | str, source: str = "<nmap>") -> tuple[list[Device], list[ScanError], dict[str, str]]:
    """Devices (hosts that are up), per-host problems, and run metadata from nmap XML."""
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogateescape")
    if len(data) > MAX_XML_BYTES:
        raise InputError(f"nmap XML larger than {MAX_XML_BYTES} bytes", source)
    try:
        root = SafeET.fromstring(data, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise InputError(f"refusing unsafe XML ({type(exc).__name__})", source) from None
    except SafeET.ParseError as exc:
        line = exc.position[0] if getattr(exc, "position", None) else None
        raise InputError(f"malformed nmap XML: {_parse_reason(exc)}", source, line) from None
    except RecursionError:
        raise InputError("malformed nmap XML: nested too deeply", source) from None
    if root.tag != "nmaprun":
        raise InputError(f"not nmap XML output (root element <{root.tag[:40]}>, expected <nmaprun>)", source, 1)
    meta = {"nmap_version": root.get("version") or "", "args": root.get("args") or ""}
    devices: list[Device] = []
    errors: list[ScanError] = []
    for host in root.iter("host"):
        device = _host(host)
        if device is None:
            continue
        if host.get("endtime") is None and host.find("ports") is None and host.find("status") is None:
            errors.append(ScanError("discover", "host record incomplete", device.ip))
        devices.append(device)
    for task in root.iter("taskend"):
        extra = task.get("extrainfo") or ""
        if "timed out" in extra:
            errors.append(ScanError("discover", f"nmap: {extra}"))
    if root.find("runstats") is None:
        errors.append(ScanError("discover", f"{source}: nmap run incomplete (no <runstats>); results may be partial"))
    return devices, errors, meta


def _parse_reason(exc: Exception) -> str:
    text = str(exc)
    return text.split(":")[0] if ": line" in text else text


def _host(host: Element) -> Device | None:
    status = host.find("status")
    if status is not None and status.get("state") not in (None, "up"):
        return None
    own = status is not None and status.get("reason") == "localhost-response"
    ip = mac = mac_vendor = None
    for addr in host.findall("address"):
        kind = addr.get("addrtype")
        if kind in ("ipv4", "ipv6") and ip is None:
            ip = addr.get("addr")
        elif kind == "mac":
            mac = (addr.get("addr") or "").lower() or None
            mac_vendor = addr.get("vendor")
    if not ip or (own and not ipaddress.ip_address(ip).is_loopback):
        return None  # the scanning host's own interface is not a device on the segment
    hostname = None
    for name in host.iter("hostname"):
        hostname = name.get("name")
        break
    services: list[Service] = []
    for port in host.iter("port"):
        state = port.find("state")
        state_name = state.get("state") if state is not None else None
        if state_name not in ("open", "open|filtered"):
            continue
        try:
            number = int(port.get("portid") or "")
        except ValueError:
            continue
        svc = port.find("service")
        services.append(Service(
            port=number,
            transport=port.get("protocol") or "tcp",
            name=svc.get("name") if svc is not None else None,
            product=svc.get("product") if svc is not None else None,
            version=svc.get("version") if svc is not None else None,
            extrainfo=svc.get("extrainfo") if svc is not None else None,
            state=state_name or "open",
            method=svc.get("method") if svc is not None else None,
            cpe=[c.text.strip() for c in svc.findall("cpe") if c.text and c.text.strip()][:8] if svc is not None else [],
        ))
    return Device(ip=ip, mac=mac, hostname=hostname, mac_vendor=mac_vendor, services=services)


def import_nmap_xml(paths: Iterable[str]) -> tuple[list[Device], list[ScanError], list[dict[str, str]]]:
    devices: list[Device] = []
    errors: list[ScanError] = []
    inputs: list[dict[str, str]] = []
    for path in paths:
        data = read_bounded(path, MAX_XML_BYTES, "nmap XML file")
        found, errs, meta = parse_nmap_xml(data, path)
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


def nmap_arguments(ports: str | None, timing: Timing, privileged: bool) -> list[str]:
    """nmap options as an argv list: gentle timing, bounded per host, the ports to look at."""
    if ports is not None and not valid_ports(ports):
        raise InputError(f"--ports {ports[:80]!r} is not a port list like '80,443,8000-8100'")
    args = ["-n", f"-T{int(timing.template)}", "--host-timeout", f"{int(timing.host_timeout)}s",
            "--max-retries", str(int(timing.max_retries)), "-p", ports or DEFAULT_PORTS]
    args += ["-sS"] if privileged else ["-sT"]
    if timing.max_rate:
        args += ["--max-rate", str(int(timing.max_rate))]
    return args


def nmap_argv(targets: list[Network], ports: str | None, timing: Timing, privileged: bool) -> list[str]:
    """The whole command, one list element per argument (no shell, no splitting): XML on stdout,
    the options, then the targets, each an address or network cityscan parsed itself."""
    return [nmap_path(), "-oX", "-", *nmap_arguments(ports, timing, privileged), *(str(t) for t in targets)]


def scan_live(targets: list[Network], scope: Scope, ports: str | None,
              timing: Timing) -> tuple[list[Device], list[ScanError], str]:
    """Run nmap against targets already checked against ``scope``; its XML is read like an import."""
    scope.check(targets)  # defence in depth: never send a packet outside the scope
    argv = nmap_argv(targets, ports, timing, os.geteuid() == 0)
    wall = max(60, timing.host_timeout * 2 + 30)
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except OSError as exc:
        raise CannotRunError(f"nmap could not be started: {exc.strerror}") from None
    try:
        out, err = proc.communicate(timeout=wall)
    except subprocess.TimeoutExpired:
        _stop(proc)
        raise CannotRunError(f"nmap did not finish within {wall} s") from None
    except BaseException:
        _stop(proc)  # a stop signal: nmap must not go on sending after the scan has ended
        raise
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
