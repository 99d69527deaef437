"""Opt-in authenticated checks: documented read-only GET endpoints, with the user's credentials.

For the staging-lab user who owns the devices: what a device itself says it can do (e.g.
Hikvision's ISAPI capability document: face comparison, face capture, people counting). Only a
GET of the endpoints listed in ``knowledge/data/authenticated-checks.yaml``, only to a device in
scope whose identified vendor and address match a credential. The answer becomes observations
``capability.<name>`` = ``supported`` or ``unsupported``; the credential appears nowhere.
"""

from __future__ import annotations

from collections.abc import Iterator

from scanner.collect.credentials import Credential
from scanner.collect.probes import HTTPS_PORTS, service_kind
from scanner.collect.probes.digest import authorization
from scanner.collect.probes.http import request
from scanner.collect.probes.net import ProbeFailed
from scanner.collect.probes.protocols import parse_xml
from scanner.knowledge.checks import CapabilityCheck
from scanner.model import Device, Observation, ScanError
from scanner.runtime.interrupt import stop_requested

PROBE = "authenticated-get"


def web_ports(device: Device) -> list[tuple[int, bool]]:
    """(port, tls) of the device's web services, HTTPS first (credentials should not cross in clear):
    ports nmap names HTTP(S), and unknown ports the probes found answering HTTP."""
    answered = {o.port: o.probe == "https-get" for o in device.observations if o.probe in ("http-get", "https-get")}
    ports = []
    for svc in device.services:
        kind = service_kind(svc.port, svc.name)
        if svc.transport == "tcp" and (kind in ("http", "https") or svc.port in answered):
            ports.append((svc.port, kind == "https" or svc.port in HTTPS_PORTS or answered.get(svc.port, False)))
    return sorted(ports, key=lambda p: not p[1])


def check_device(device: Device, credential: Credential, checks: list[CapabilityCheck],
                 timeout: float) -> tuple[list[Observation], list[ScanError]]:
    observations: list[Observation] = []
    errors: list[ScanError] = []
    ports = web_ports(device)
    if not ports:
        return [], [ScanError("authenticated-check", "no web service to ask", device.ip)]
    port, tls = ports[0]
    for check in checks:
        if stop_requested():
            break
        try:
            observations += _run(device.ip, port, tls, check, credential, timeout)
        except ProbeFailed as exc:
            errors.append(ScanError("authenticated-check", f"GET {check.path}: {exc}", device.ip))
    return observations, errors


def _run(ip: str, port: int, tls: bool, check: CapabilityCheck, credential: Credential,
         timeout: float) -> list[Observation]:
    first = request(ip, port, check.path, timeout, tls=tls)
    challenge = first.header("www-authenticate")
    if first.status != 401 or not challenge:
        raise ProbeFailed(f"expected a login challenge, got {first.status}")
    try:
        header = authorization(challenge, "GET", check.path, credential.username, credential.password)
    except ValueError as exc:
        raise ProbeFailed(str(exc)) from None
    answer = request(ip, port, check.path, timeout, tls=tls, headers=[("Authorization", header)])
    if answer.status == 401:
        raise ProbeFailed(f"the credential from {credential.where} was refused")
    if answer.status != 200:
        raise ProbeFailed(f"answered {answer.status}")
    root = parse_xml(answer.body)
    values = _element_texts(root)
    found: dict[str, str] = {}
    for element, capability in check.elements:
        text = values.get(element)
        if text == "true":
            found[capability] = "supported"
        elif text == "false":
            found.setdefault(capability, "unsupported")
    return [Observation(f"capability.{name}", state, PROBE, port, check.path) for name, state in found.items()]


def _element_texts(root: object) -> dict[str, str]:
    """'Parent/Child' (local names below the root) -> text, for every element with text."""
    out: dict[str, str] = {}

    def walk(node: object, prefix: str) -> None:
        for child in list(node):  # type: ignore[call-overload]
            name = str(child.tag).rsplit("}", 1)[-1]
            path = f"{prefix}/{name}" if prefix else name
            text = (child.text or "").strip()
            if text and path not in out:
                out[path] = text.lower()
            walk(child, path)

    walk(root, "")
    return out


def run_checks(devices: list[Device], credentials: list[Credential], checks: list[CapabilityCheck],
               timeout: float) -> Iterator[tuple[Device, list[Observation], list[ScanError]]]:
    """Each device with a matching credential and checks for its vendor, one after another."""
    for device in devices:
        if stop_requested():
            return
        credential = next((c for c in credentials if c.applies(device.ip, device.vendor)), None)
        mine = [c for c in checks if device.vendor and c.vendor.lower() == device.vendor.lower()]
        if credential is None or not mine:
            continue
        observations, errors = check_device(device, credential, mine, timeout)
        yield device, observations, errors
