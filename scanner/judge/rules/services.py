"""Rules about how a device is managed: management interfaces without encryption."""

from __future__ import annotations

from collections.abc import Iterable

from scanner.judge.rules.base import (
    Context,
    Param,
    RuleConfig,
    finding,
    label,
    rule,
)
from scanner.model import Evidence, Finding, ScanResult

# --- cleartext-management --------------------------------------------------------------------

CLEARTEXT = {"telnet": "Telnet", "ftp": "FTP", "http": "plain HTTP"}
CLEARTEXT_PROBES = {"telnet": ("banner",), "ftp": ("banner",), "http": ("http-get", "onvif", "upnp")}


@rule("cleartext-management", "Management interface without encryption", "medium",
      services=Param("strings", ["telnet", "ftp", "http"], tuple(CLEARTEXT)))
def cleartext_management(result: ScanResult, cfg: RuleConfig, ctx: Context) -> Iterable[Finding]:
    wanted = set(cfg.params["services"])
    for device in result.devices:
        for svc in device.services:
            kind = _cleartext_kind(svc.name, svc.port) or (
                "http" if any(o.port == svc.port and o.probe == "http-get" for o in device.observations) else None)
            if kind is None or kind not in wanted:
                continue
            seen = [o for o in device.observations if o.port == svc.port and o.probe in CLEARTEXT_PROBES[kind]]
            if not seen and svc.method != "probed":
                continue  # nmap only guessed the service from the port number: no proof it speaks it
            proof = (f"{seen[0].probe} read {seen[0].field} {seen[0].value[:80]!r}" if seen
                     else f"nmap service detection: {svc.name} {svc.product or ''}".strip())
            yield finding(cfg, device, f"{label(device)} at {device.ip} offers {CLEARTEXT[kind]} on "
                                       f"{svc.port}/{svc.transport}",
                          [Evidence("nmap", f"port {svc.port}/{svc.transport} open ({svc.name or 'unknown'})"),
                           Evidence("probe", proof)], port=svc.port)


def _cleartext_kind(name: str | None, port: int) -> str | None:
    name = (name or "").lower()
    if name in ("telnet", "ftp"):
        return name
    if name in ("http", "http-alt", "http-proxy") or (not name and port in (80, 8080)):
        return "http"
    return None
