"""The rules a policy can switch on: each a small function from the scan model to findings.

A rule's parameters, severity and legal references come from the policy file; the knowledge
it needs (vendor families, EEA and adequacy lists, foreign laws) comes from data files.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import validate as v
from .fingerprint_db import CAPABILITIES, FingerprintDB
from .jurisdiction import Jurisdiction
from .model import DEVICE_CLASSES, Destination, Device, Evidence, Finding, ScanResult
from .versions import version_key

if TYPE_CHECKING:
    from .policy import RuleConfig


@dataclass
class Param:
    kind: str  # strings | bool | int | string
    default: Any
    choices: tuple[str, ...] = ()

    def read(self, node: dict[str, Any], name: str, what: str) -> Any:
        if self.kind == "strings":
            values = v.string_list(node, name, what)
            for value in values:
                if self.choices and value not in self.choices:
                    raise v.fail(node, name, f"{what}.{name}: {value!r} is not one of {', '.join(self.choices)}")
            return values
        if self.kind == "bool":
            return v.typed(node, name, bool, what, self.default)
        if self.kind == "int":
            return v.typed(node, name, int, what, self.default)
        if self.kind == "minimums":
            return _minimums(node, name, what)
        return v.typed(node, name, str, what, self.default)


@dataclass
class Context:
    db: FingerprintDB
    law: Jurisdiction


Evaluate = Callable[[ScanResult, "RuleConfig", Context], Iterable[Finding]]


@dataclass
class RuleSpec:
    id: str
    title: str
    severity: str
    evaluate: Evaluate
    params: dict[str, Param] = field(default_factory=dict)


RULES: dict[str, RuleSpec] = {}


def rule(rule_id: str, title: str, severity: str, **params: Param) -> Callable[[Evaluate], Evaluate]:
    def register(func: Evaluate) -> Evaluate:
        RULES[rule_id] = RuleSpec(rule_id, title, severity, func, params)
        return func
    return register


def finding(cfg: RuleConfig, device: Device | None, message: str, evidence: list[Evidence],
            destination: Destination | None = None, port: int | None = None) -> Finding:
    return Finding(
        rule=cfg.id, severity=cfg.severity, title=cfg.title,
        device_ip=device.ip if device else (destination.device_ip if destination else None),
        message=message, evidence=evidence, references=list(cfg.references),
        destination=_dest_summary(destination) if destination else None, port=port,
    )


def _dest_summary(dest: Destination) -> dict[str, Any]:
    return {k: getattr(dest, k) for k in ("host", "ip", "port", "transport", "country", "company",
                                          "parent_company", "jurisdictions")}


def _identity_evidence(device: Device) -> list[Evidence]:
    """Why the device is what the finding says: its fingerprint matches, or its stored identity."""
    found = [e for e in device.evidence if e.detail.startswith("fingerprint ")][:6]
    return found or [Evidence("identity", f"vendor {device.vendor or 'unknown'}, model {device.model or 'unknown'}, "
                                          f"firmware {device.firmware or 'unknown'}, class {device.device_class}, "
                                          f"capabilities {', '.join(device.capabilities) or 'none'}")]


def _label(device: Device) -> str:
    parts = [p for p in (device.vendor, device.model) if p]
    return " ".join(parts) if parts else "device"


# --- banned-vendor ---------------------------------------------------------------------------

@rule("banned-vendor", "Equipment from a banned vendor", "high",
      vendors=Param("strings", []), include_related=Param("bool", True), match_oui=Param("bool", True))
def banned_vendor(result: ScanResult, cfg: RuleConfig, ctx: Context) -> Iterable[Finding]:
    banned = {_fold(name) for name in cfg.params["vendors"]}
    for device in result.devices:
        chain = ctx.db.maker_chain(device.vendor) if device.vendor else []
        if not cfg.params["include_related"]:
            chain = chain[:1]
        hit = next((name for name in chain if _fold(name) in banned), None)
        if hit:
            via = "" if hit == device.vendor else f" ({device.vendor} is {_relation(ctx.db, hit, device.vendor)} {hit})"
            yield finding(cfg, device, f"{_label(device)} at {device.ip} is made by {hit}{via}, "
                                       f"a vendor this policy bans", _identity_evidence(device))
            continue
        if not cfg.params["match_oui"]:
            continue
        oui_vendor = next((ctx.db.vendor_for_oui_org(o.value) for o in device.observations
                           if o.field == "mac.oui_org"), None)
        oui_chain = ctx.db.maker_chain(oui_vendor) if oui_vendor else []
        oui_hit = next((name for name in oui_chain if _fold(name) in banned), None)
        if oui_hit:
            org = next(o.value for o in device.observations if o.field == "mac.oui_org")
            what = (f"identified as {device.vendor}, but its network interface" if device.vendor
                    else "its network interface")
            yield finding(cfg, device, f"{device.ip}: {what} is registered to {org} ({oui_hit}), "
                                       f"a vendor this policy bans",
                          [Evidence("ieee-oui", f"MAC {device.mac} OUI registered to {org!r}")])


def _relation(db: FingerprintDB, maker: str, name: str | None) -> str:
    """How ``name`` relates to ``maker`` (its direct link; a longer chain is 'related to')."""
    vendor = db.vendor(name)
    if vendor and maker not in (vendor.oem_of, vendor.subsidiary_of):
        return "related to"
    if vendor and vendor.oem_of:
        return "an OEM brand of"
    if vendor and vendor.subsidiary_of:
        return "a subsidiary of"
    return "related to"


def _fold(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


# --- wifi-tracking ---------------------------------------------------------------------------

@rule("wifi-tracking", "Tracking of passers-by through wifi or bluetooth", "high",
      capabilities=Param("strings", ["wifi-probe-capture", "bluetooth-scan"], CAPABILITIES),
      device_classes=Param("strings", ["wifi-tracker"], DEVICE_CLASSES))
def wifi_tracking(result: ScanResult, cfg: RuleConfig, ctx: Context) -> Iterable[Finding]:
    caps = set(cfg.params["capabilities"])
    classes = set(cfg.params["device_classes"])
    for device in result.devices:
        found = sorted(caps.intersection(device.capabilities))
        if found or device.device_class in classes:
            why = f"capabilities {', '.join(found)}" if found else f"device class {device.device_class}"
            yield finding(cfg, device, f"{_label(device)} at {device.ip} can track passers-by ({why})",
                          _identity_evidence(device))


# --- biometric-identification ----------------------------------------------------------------

@rule("biometric-identification", "Biometric identification in public space", "high",
      capabilities=Param("strings", ["face-recognition", "licence-plate-recognition"], CAPABILITIES))
def biometric_identification(result: ScanResult, cfg: RuleConfig, ctx: Context) -> Iterable[Finding]:
    caps = set(cfg.params["capabilities"])
    for device in result.devices:
        found = sorted(caps.intersection(device.capabilities))
        if found:
            yield finding(cfg, device, f"{_label(device)} at {device.ip} offers {', '.join(found)}",
                          _identity_evidence(device))


# --- outdated-firmware -----------------------------------------------------------------------

def _minimums(node: dict[str, Any], name: str, what: str) -> list[dict[str, str]]:
    raw = node.get(name) or []
    if not isinstance(raw, list):
        raise v.fail(node, name, f"{what}.{name} must be a list of {{vendor, model_pattern, version}}")
    out = []
    for index, item in enumerate(raw):
        item = v.mapping(item, raw, index, f"{what}.{name} item")
        v.check_keys(item, ("vendor", "model_pattern", "version", "source"), f"{what}.{name} item",
                     required=("vendor", "version"))
        pattern = v.typed(item, "model_pattern", str, f"{what}.{name}", ".*")
        try:
            re.compile(pattern)
        except re.error as exc:
            raise v.fail(item, "model_pattern", f"{what}.{name}: model_pattern does not compile: {exc}") from None
        out.append({"vendor": v.typed(item, "vendor", str, what), "model_pattern": pattern,
                    "version": str(item["version"]), "source": item.get("source") or "policy"})
    return out


@rule("outdated-firmware", "Firmware older than the supported line", "medium",
      minimums=Param("minimums", []), use_vendor_data=Param("bool", True))
def outdated_firmware(result: ScanResult, cfg: RuleConfig, ctx: Context) -> Iterable[Finding]:
    for device in result.devices:
        if not device.vendor or not device.firmware:
            continue
        floors = [m for m in cfg.params["minimums"] if _fold(m["vendor"]) == _fold(device.vendor)]
        vendor = ctx.db.vendor(device.vendor)
        if cfg.params["use_vendor_data"] and vendor:
            floors += [{"vendor": vendor.name, "model_pattern": m.get("model_pattern") or ".*",
                        "version": str(m["version"]), "source": m.get("source") or vendor.file}
                       for m in vendor.min_supported_firmware]
        for floor in floors:
            if not re.search(floor["model_pattern"], device.model or ""):
                continue
            have, need = version_key(device.firmware), version_key(floor["version"])
            if have and need and have < need:
                yield finding(cfg, device, f"{_label(device)} at {device.ip} runs firmware {device.firmware}, "
                                           f"older than {floor['version']}",
                              [*_identity_evidence(device),
                               Evidence("policy", f"minimum {floor['version']} for {floor['vendor']} "
                                                  f"models matching {floor['model_pattern']!r} ({floor['source']})")])
                break


# --- unidentified-device ---------------------------------------------------------------------

@rule("unidentified-device", "Device that cannot be identified", "low", ignore=Param("strings", []))
def unidentified_device(result: ScanResult, cfg: RuleConfig, ctx: Context) -> Iterable[Finding]:
    ignore = [ipaddress.ip_network(n, strict=False) for n in cfg.params["ignore"] if _is_net(n)]
    for device in result.devices:
        if device.vendor is None and device.device_class == "unknown":
            if any(ipaddress.ip_address(device.ip) in n for n in ignore):
                continue
            seen = sorted({o.field for o in device.observations}) or ["nothing"]
            ports = ", ".join(f"{s.port}/{s.transport}" for s in device.services) or "no open ports"
            why = [e for e in device.evidence if e.source == "identify"][:3] or device.evidence[:3] or [
                Evidence("identify", "no observation matched any fingerprint")]
            yield finding(cfg, device, f"{device.ip} could not be identified ({ports}; observed: {', '.join(seen)})",
                          why)


def _is_net(text: str) -> bool:
    try:
        ipaddress.ip_network(text, strict=False)
        return True
    except ValueError:
        return False


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
            yield finding(cfg, device, f"{_label(device)} at {device.ip} offers {CLEARTEXT[kind]} on "
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


# --- destinations ----------------------------------------------------------------------------

def _dest_evidence(dest: Destination) -> list[Evidence]:
    base = [Evidence("destination", f"{dest.host or dest.ip}: country {dest.country or 'unknown'}, "
                                    f"company {dest.company or 'unknown'}, parent {dest.parent_company or 'unknown'} "
                                    f"(sources: {', '.join(dest.sources) or 'none'})")]
    return base + list(dest.evidence)[:4]


@rule("data-outside-eea", "Data sent outside the EEA without adequacy", "high",
      accept_adequacy=Param("strings", ["all"]))
def data_outside_eea(result: ScanResult, cfg: RuleConfig, ctx: Context) -> Iterable[Finding]:
    accept = set(cfg.params["accept_adequacy"])
    for dest in result.destinations:
        country = dest.country
        if not country or ctx.law.in_eea(country):
            continue
        if country in accept or ("all" in accept and ctx.law.adequate(country, full_only=True)):
            continue
        yield finding(cfg, result.device(dest.device_ip), f"{dest.device_ip} sends data to {dest.host or dest.ip} "
                                                          f"in {ctx.law.name(country)} ({country}), outside the EEA "
                                                          f"without an adequacy decision this policy accepts",
                      _dest_evidence(dest), dest)


@rule("foreign-jurisdiction", "Data reachable by a foreign law", "medium",
      laws=Param("strings", ["us-cloud-act", "prc-national-intelligence-law"]))
def foreign_jurisdiction(result: ScanResult, cfg: RuleConfig, ctx: Context) -> Iterable[Finding]:
    laws = [ctx.law.law(law_id) for law_id in cfg.params["laws"]]
    for dest in result.destinations:
        law = next((law for law in laws if law and law.country in dest.jurisdictions), None)
        if law is None:
            continue
        where = f"a server in {ctx.law.name(dest.country)}" if dest.country else "a server"
        owner = dest.parent_company or dest.company or "its operator"
        yield finding(cfg, result.device(dest.device_ip),
                      f"{dest.device_ip} sends data to {dest.host or dest.ip}, {where} of {owner}; "
                      f"{law.title} can compel access to it", _dest_evidence(dest), dest)
