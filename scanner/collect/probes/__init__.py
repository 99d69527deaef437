"""Probe stage: cityscan's own read-only identification probes of the services nmap found.

Devices are probed concurrently; the probes of one device run one after another (gentle on
small embedded web servers), each bounded by ``timing.probe_timeout``. Every failure is an
entry in ``errors`` with what happened, never an exception out of the stage.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field

from scanner.collect.nmap import OT_TCP_PORTS, OT_UDP_PORTS
from scanner.collect.probes import protocols
from scanner.collect.probes.net import ProbeFailed, ProbeNote
from scanner.collect.scope import Scope
from scanner.collect.timing import Timing
from scanner.knowledge.fingerprints import FingerprintDB
from scanner.knowledge.loader import default_db
from scanner.model import Device, Observation, ScanError
from scanner.runtime.interrupt import stop_requested
from scanner.runtime.progress import Progress

HTTP_PORTS = {80, 81, 82, 88, 8000, 8008, 8080, 8081, 8088, 8888, 8899, 9000}
HTTPS_PORTS = {443, 4343, 4443, 7443, 8443, 9443}
RTSP_PORTS = {554, 8554}
# Services that greet first: reading the greeting is all cityscan does (an SMTP server's 220 line
# names its software; nothing is sent, no login). MQTT has no greeting: a broker says nothing
# before a client's CONNECT, so it is not read.
BANNERS = {21: "ftp.banner", 22: "ssh.banner", 23: "telnet.banner", 25: "smtp.banner", 587: "smtp.banner",
           2222: "ssh.banner", 2323: "telnet.banner"}
OT_PORTS = frozenset(OT_TCP_PORTS + OT_UDP_PORTS)
NAME_BANNERS = {"ftp": "ftp.banner", "ssh": "ssh.banner", "telnet": "telnet.banner", "smtp": "smtp.banner"}


@dataclass
class ProbeOptions:
    timing: Timing = field(default_factory=Timing)
    snmp_community: str = "public"
    snmp: bool = True
    ssdp: bool = True


def http_paths(db: FingerprintDB) -> list[str]:
    """``/`` plus every vendor endpoint the fingerprint database knows how to read."""
    paths = ["/"]
    for entry in db.entries:
        if entry.field.startswith("http.") and entry.path and entry.path not in paths and entry.path.startswith("/"):
            paths.append(entry.path)
    return paths


def service_kind(port: int, name: str | None) -> str | None:
    if port in OT_PORTS:
        return None  # a control system's port gets nmap's OT scripts (--ot) or nothing, never an HTTP GET
    name = (name or "").lower()
    if port in HTTPS_PORTS or name in ("https", "ssl/http", "https-alt") or name.startswith("ssl/"):
        return "https"
    if port in RTSP_PORTS or name == "rtsp":
        return "rtsp"
    if name in NAME_BANNERS or port in BANNERS:
        return "banner"
    if port in HTTP_PORTS or name.startswith("http"):
        return "http"
    if name in ("", "unknown", "tcpwrapped"):
        return "http?"  # unknown service: most embedded devices put web UIs on odd ports
    return None


def probe_device(device: Device, options: ProbeOptions, paths: list[str]) -> tuple[list[Observation], list[ScanError]]:
    timeout = options.timing.probe_timeout
    obs: list[Observation] = []
    errors: list[ScanError] = []
    ip = device.ip

    def attempt(what: str, func: Callable[[], list[Observation]], optional: bool = False) -> bool:
        """Run one probe; False when it failed or the service misbehaves (ask it nothing more)."""
        if stop_requested():
            return False
        try:
            obs.extend(func())
            return True
        except ProbeNote as note:  # an answer, with something odd about it
            obs.extend(note.observations)
            errors.append(ScanError("probe", f"{what}: {note}", ip))
            return not note.stop
        except ProbeFailed as exc:
            if not (optional and exc.absent):
                errors.append(ScanError("probe", f"{what}: {exc}", ip))
        except (ValueError, UnicodeError, OSError) as exc:
            errors.append(ScanError("probe", f"{what}: unexpected answer ({type(exc).__name__}: {str(exc)[:120]})", ip))
        return False

    for svc in device.services:
        if svc.transport != "tcp":
            continue
        kind = service_kind(svc.port, svc.name)
        port = svc.port
        if kind in ("http", "https", "http?"):
            tls = kind == "https"
            if tls:
                attempt(f"tls {port}", lambda: protocols.tls_certificate(ip, port, timeout))
            before = len(errors)
            if not attempt(f"http {port} GET /", lambda: protocols.http_get(ip, port, "/", timeout, tls)):
                if kind == "http?":
                    del errors[before:]  # an unknown service that is not HTTP: nothing to read without guessing
                continue  # a web port that does not answer is not worth 20 more time-outs
            kind = "https" if tls else "http"
            stalled = False
            for path in paths[1:]:
                before = len(errors)
                if not attempt(f"{kind} {port} GET {path}", functools.partial(protocols.http_get, ip, port, path, timeout, tls)) \
                        and len(errors) > before and ("timed out" in errors[-1].message or "no answer" in errors[-1].message):
                    stalled = True
                    break
            if not stalled:  # a missing favicon is the normal case, not an error
                attempt(f"{kind} {port} GET {protocols.FAVICON_PATH}",
                        functools.partial(protocols.favicon, ip, port, timeout, tls), optional=True)
            if not tls:  # most web servers are not ONVIF devices: a plain refusal is no error
                attempt(f"onvif {port}", lambda: protocols.onvif_device_information(ip, port, timeout), optional=True)
        elif kind == "rtsp":
            attempt(f"rtsp {port} OPTIONS", lambda: protocols.rtsp_options(ip, port, timeout))
        elif kind == "banner":
            field_name = NAME_BANNERS.get((svc.name or "").lower()) or BANNERS[port]
            attempt(f"banner {port}", lambda: protocols.banner(ip, port, timeout, field_name))
    if options.snmp and ":" not in ip:  # silence is the normal answer of a device without an agent
        attempt("snmp 161", lambda: protocols.snmp_get(ip, min(timeout, 2.0), options.snmp_community), optional=True)
    if options.ssdp and ":" not in ip and not stop_requested():
        try:
            found, location = protocols.ssdp_search(ip, min(timeout, 2.0))
            obs.extend(found)
            if location:
                attempt("upnp description", lambda: protocols.upnp_description(ip, location, timeout))
        except ProbeFailed as exc:
            if not exc.absent:
                errors.append(ScanError("probe", f"ssdp: {exc}", ip))
    return obs, errors


def in_scope(devices: list[Device], scope: Scope) -> tuple[list[Device], list[ScanError]]:
    """The devices probes may touch, and an error for each one outside the scope (never probed)."""
    targets = [d for d in devices if scope.contains_ip(d.ip)]
    skipped = [ScanError("probe", "outside the scope: not probed", d.ip) for d in devices if not scope.contains_ip(d.ip)]
    return targets, skipped


def probe(targets: list[Device], options: ProbeOptions | None = None, db: FingerprintDB | None = None,
          progress: Progress | None = None) -> Iterator[tuple[Device, list[Observation], list[ScanError]]]:
    """Run the identification probes against ``targets`` (already checked against the scope).

    Yields each device's observations and errors as soon as it is done, so that a stop signal
    keeps what the finished devices said.
    """
    options = options or ProbeOptions()
    paths = http_paths(db or default_db())
    if not targets:
        return
    workers = max(1, min(options.timing.probe_workers, len(targets)))
    done = 0

    def run(device: Device) -> tuple[list[Observation], list[ScanError]]:
        nonlocal done
        outcome = probe_device(device, options, paths)
        done += 1
        if progress:
            progress.update(probed=f"{done}/{len(targets)}")
        return outcome

    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="probe")
    pending = {pool.submit(run, device): device for device in targets}
    try:
        for future in as_completed(pending):
            device = pending.pop(future)
            obs, errors = future.result()
            yield device, obs, errors
    finally:
        # On a stop signal: devices not yet started are never probed; running probes see
        # stop_requested() and give up at their next step.
        pool.shutdown(wait=not pending, cancel_futures=True)
