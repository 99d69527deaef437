"""Rules about how a device is managed: management interfaces and streams without encryption.

Proof comes from what a read-only probe read on the port (or nmap's service detection), never
from the port number alone. An HTTP port that only redirects to HTTPS is not cleartext management.
"""

from __future__ import annotations

from collections.abc import Iterable

from scanner.judge.rules.base import (
    Context,
    Param,
    RuleConfig,
    Verdict,
    assessor,
    finding,
    ips,
    label,
    plural,
    rule,
)
from scanner.model import Device, Evidence, Finding, ScanResult, Service

CLEARTEXT = {"telnet": "Telnet", "ftp": "FTP", "http": "plain HTTP", "snmp": "SNMP v1/v2c with a guessable community",
             "mqtt": "MQTT without TLS", "rtsp": "an RTSP stream without authentication"}
# Probes whose reading of the port proves the protocol is spoken (nmap's banner script as well as ours).
CLEARTEXT_PROBES = {"telnet": ("banner", "nmap-script:banner"), "ftp": ("banner", "nmap-script:banner"),
                    "http": ("http-get", "onvif", "upnp", "nmap-script:http-title")}
SNMP_FIELDS = ("snmp.sysdescr", "snmp.sysobjectid")


@rule("cleartext-management", "Management interface without encryption", "medium",
      services=Param("strings", list(CLEARTEXT), tuple(CLEARTEXT)))
def cleartext_management(result: ScanResult, cfg: RuleConfig, ctx: Context) -> Iterable[Finding]:
    wanted = set(cfg.params["services"])
    for device in result.devices:
        for svc in device.services:
            kind = _kind(device, svc)
            if kind is None or kind not in wanted:
                continue
            proof = _proof(device, svc, kind)
            if proof is None:
                continue
            yield finding(cfg, device, f"{label(device)} at {device.ip} offers {CLEARTEXT[kind]} on "
                                       f"{svc.port}/{svc.transport}",
                          [Evidence("nmap", f"port {svc.port}/{svc.transport} open ({svc.name or 'unknown'})"),
                           Evidence("probe", proof)], port=svc.port)
        snmp = [o for o in device.observations if o.field in SNMP_FIELDS and o.probe == "snmp"]
        if "snmp" in wanted and snmp:
            yield finding(cfg, device, f"{label(device)} at {device.ip} answers SNMP v1/v2c GETs with the "
                                       "community string of the scan (by default 'public') on 161/udp",
                          [Evidence("probe", f"snmp GET answered: {snmp[0].field} {snmp[0].value[:80]!r}")], port=161)


def _kind(device: Device, svc: Service) -> str | None:
    name = (svc.name or "").lower()
    if name in ("telnet", "ftp", "mqtt", "rtsp"):
        return name
    if name in ("http", "http-alt", "http-proxy") or (not name and svc.port in (80, 8080)):
        return "http"
    if any(o.port == svc.port and o.probe == "http-get" for o in device.observations):
        return "http"
    if any(o.port == svc.port and o.field == "rtsp.describe_status" for o in device.observations):
        return "rtsp"
    return None


def _proof(device: Device, svc: Service, kind: str) -> str | None:
    """What shows the service really is cleartext management; None: no proof (or not cleartext)."""
    port = svc.port
    if kind == "rtsp":
        described = next((o for o in device.observations if o.port == port and o.field == "rtsp.describe_status"), None)
        return "rtsp DESCRIBE answered 200 without credentials" if described and described.value == "200" else None
    if kind == "mqtt":  # no MQTT probe (a CONNECT is a login attempt): nmap's service detection only
        return f"nmap service detection: {svc.name} {svc.product or ''}".strip() if svc.method == "probed" else None
    if kind == "http":
        statuses = [o for o in device.observations if o.port == port and o.field == "http.status"
                    and o.probe == "http-get"]
        served = [o for o in statuses if o.value.startswith("2") or o.value == "401"]
        if statuses and not served:
            return None  # only redirects (e.g. to HTTPS) or errors: no management page in cleartext
        if served:
            path = served[0].path or "/"
            return f"http-get {path} answered {served[0].value} over plain HTTP" + (
                " (a login challenge: credentials would cross the network in cleartext)" if served[0].value == "401"
                else "")
    seen = [o for o in device.observations if o.port == port and o.probe in CLEARTEXT_PROBES.get(kind, ())]
    if seen:
        return f"{seen[0].probe} read {seen[0].field} {seen[0].value[:80]!r}"
    if svc.method == "probed":
        return f"nmap service detection: {svc.name} {svc.product or ''}".strip()
    return None  # nmap only guessed the service from the port number: no proof it speaks it


def _cleared(device: Device, svc: Service) -> bool:
    """A probe read the service and found no cleartext management: only redirects (e.g. to HTTPS),
    an RTSP stream that asks for a login."""
    port = svc.port
    statuses = [o.value for o in device.observations if o.port == port and o.field == "http.status"]
    if statuses and not any(s.startswith("2") or s == "401" for s in statuses):
        return True
    return any(o.port == port and o.field == "rtsp.describe_status" and o.value != "200" for o in device.observations)


@assessor("cleartext-management")
def cleartext_assess(result: ScanResult, cfg: RuleConfig, ctx: Context) -> Verdict:
    if not result.devices:
        return Verdict("not-assessable", "no devices were found")
    services = [(d, s) for d in result.devices for s in d.services]
    if not services:
        return Verdict("not-assessable", "no open ports are known (a host discovery without a port scan?)")
    wanted = set(cfg.params["services"])
    unproved = [d for d, s in services if (_kind(d, s) or "") in wanted and _proof(d, s, _kind(d, s) or "") is None
                and not _cleared(d, s)]
    if unproved:
        unique = list({d.ip: d for d in unproved}.values())
        return Verdict("not-assessable", f"{plural(len(unproved), 'management port')} on {ips(unique)} were not "
                                         "probed, so what they serve is unknown")
    return Verdict("passed", f"{plural(len(services), 'open service')} on {plural(len(result.devices), 'device')} "
                             "checked; none serves management without encryption")
