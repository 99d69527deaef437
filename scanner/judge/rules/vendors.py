"""Rules about who made a device and what it runs: banned vendors, outdated firmware, unidentified devices."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from typing import Any

from scanner.judge.rules.base import (
    Context,
    Param,
    RuleConfig,
    finding,
    identity_evidence,
    label,
    rule,
)
from scanner.judge.versions import version_key
from scanner.knowledge import validate as v
from scanner.knowledge.fingerprints import FingerprintDB
from scanner.model import Evidence, Finding, ScanResult
from scanner.model.text import fold_name

# --- banned-vendor ---------------------------------------------------------------------------

@rule("banned-vendor", "Equipment from a banned vendor", "high",
      vendors=Param("strings", []), include_related=Param("bool", True), match_oui=Param("bool", True))
def banned_vendor(result: ScanResult, cfg: RuleConfig, ctx: Context) -> Iterable[Finding]:
    banned = {fold_name(name) for name in cfg.params["vendors"]}
    for device in result.devices:
        chain = ctx.db.maker_chain(device.vendor) if device.vendor else []
        if not cfg.params["include_related"]:
            chain = chain[:1]
        hit = next((name for name in chain if fold_name(name) in banned), None)
        if hit:
            via = "" if hit == device.vendor else f" ({device.vendor} is {_relation(ctx.db, hit, device.vendor)} {hit})"
            yield finding(cfg, device, f"{label(device)} at {device.ip} is made by {hit}{via}, "
                                       f"a vendor this policy bans", identity_evidence(device))
            continue
        if not cfg.params["match_oui"]:
            continue
        oui_vendor = next((ctx.db.vendor_for_oui_org(o.value) for o in device.observations
                           if o.field == "mac.oui_org"), None)
        oui_chain = ctx.db.maker_chain(oui_vendor) if oui_vendor else []
        oui_hit = next((name for name in oui_chain if fold_name(name) in banned), None)
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
      minimums=Param("custom", [], reader=_minimums), use_vendor_data=Param("bool", True))
def outdated_firmware(result: ScanResult, cfg: RuleConfig, ctx: Context) -> Iterable[Finding]:
    for device in result.devices:
        if not device.vendor or not device.firmware:
            continue
        floors = [m for m in cfg.params["minimums"] if fold_name(m["vendor"]) == fold_name(device.vendor)]
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
                yield finding(cfg, device, f"{label(device)} at {device.ip} runs firmware {device.firmware}, "
                                           f"older than {floor['version']}",
                              [*identity_evidence(device),
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
