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
    Verdict,
    assessor,
    finding,
    identity_evidence,
    ips,
    label,
    plural,
    rule,
    unidentified,
)
from scanner.judge.versions import version_key
from scanner.knowledge import validate as v
from scanner.knowledge.fingerprints import FingerprintDB
from scanner.knowledge.firmware import ExploitedFlaw, Lifecycle
from scanner.model import Device, Evidence, Finding, ScanResult
from scanner.model.text import fold_name

# --- banned-vendor ---------------------------------------------------------------------------

def _basis(node: dict[str, Any], name: str, what: str) -> dict[str, str]:
    """vendor -> the legal or procurement basis of banning it, in the policy author's words."""
    raw = v.mapping(node.get(name) or {}, node, name, f"{what}.{name}")
    out = {}
    for vendor, text in raw.items():
        if not isinstance(text, str):
            raise v.fail(raw, vendor, f"{what}.{name}.{vendor} must be a sentence saying why it is banned")
        out[fold_name(str(vendor))] = text
    return out


NO_BASIS = "a procurement choice of this policy's author; the policy cites no law that bans it"


@rule("banned-vendor", "Equipment from a banned vendor", "high",
      vendors=Param("strings", []), include_related=Param("bool", True), match_oui=Param("bool", True),
      basis=Param("custom", {}, reader=_basis))
def banned_vendor(result: ScanResult, cfg: RuleConfig, ctx: Context) -> Iterable[Finding]:
    banned = {fold_name(name) for name in cfg.params["vendors"]}

    def why(maker: str) -> Evidence:
        return Evidence("policy", f"why {maker} is banned: {cfg.params['basis'].get(fold_name(maker)) or NO_BASIS}")

    for device in result.devices:
        chain = ctx.db.maker_chain(device.vendor) if device.vendor else []
        if not cfg.params["include_related"]:
            chain = chain[:1]
        hit = next((name for name in chain if fold_name(name) in banned), None)
        if hit:
            via = "" if hit == device.vendor else f" ({device.vendor} is {_relation(ctx.db, hit, device.vendor)} {hit})"
            yield finding(cfg, device, f"{label(device)} at {device.ip} is made by {hit}{via}, "
                                       f"a vendor this policy bans", [*identity_evidence(device), why(hit)],
                          confidence=device.confidence)
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
                          [Evidence("ieee-oui", f"MAC {device.mac} OUI registered to {org!r}", "identity", 0.6),
                           why(oui_hit)], confidence=0.6)


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


def _floors(device: Device, cfg: RuleConfig, ctx: Context) -> list[dict[str, str]]:
    """The minimum versions the policy and the vendor data set for this device's vendor."""
    floors = [m for m in cfg.params["minimums"] if fold_name(m["vendor"]) == fold_name(device.vendor or "")]
    vendor = ctx.db.vendor(device.vendor)
    if cfg.params["use_vendor_data"] and vendor:
        floors += [{"vendor": vendor.name, "model_pattern": m.get("model_pattern") or ".*",
                    "version": str(m["version"]), "source": m.get("source") or vendor.file}
                   for m in vendor.min_supported_firmware]
        if ctx.firmware is not None:
            floors += [{"vendor": c.vendor, "model_pattern": c.model_pattern.pattern, "version": c.min_version,
                        "source": c.source.cite()}
                       for c in ctx.firmware.lifecycle if c.vendor == vendor.name and c.min_version]
    return floors


def _end_of_life(device: Device, cfg: RuleConfig, ctx: Context, today: str) -> list[Lifecycle]:
    """End-of-support model lines (vendor data) that ``device``'s model belongs to, as of ``today``."""
    if not cfg.params["use_vendor_data"] or ctx.firmware is None or not device.vendor or not device.model:
        return []
    return [c for c in ctx.firmware.lifecycle if c.vendor == device.vendor and c.end_of_life
            and c.end_of_life <= today and c.model_pattern.search(device.model)]


def _scan_day(result: ScanResult) -> str:
    return (result.scan.started_at or "")[:10] or "9999-12-31"


@rule("outdated-firmware", "Firmware older than the supported line", "medium",
      minimums=Param("custom", [], reader=_minimums), use_vendor_data=Param("bool", True))
def outdated_firmware(result: ScanResult, cfg: RuleConfig, ctx: Context) -> Iterable[Finding]:
    today = _scan_day(result)
    for device in result.devices:
        if not device.vendor:
            continue
        ended = _end_of_life(device, cfg, ctx, today)
        if ended:
            line = ended[0]
            yield finding(cfg, device, f"{label(device)} at {device.ip} is a model line without vendor support "
                                       f"since {line.end_of_life}: no further security updates",
                          [*identity_evidence(device),
                           Evidence("advisory", f"end of support {line.end_of_life} for {line.vendor} models "
                                                f"matching {line.model_pattern.pattern!r} ({line.source.cite()})")])
            continue
        if not device.firmware:
            continue
        floors = _floors(device, cfg, ctx)
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


# --- known-exploited-vulnerability ---------------------------------------------------------------

def _flaws_by_vendor(ctx: Context) -> dict[str, list[ExploitedFlaw]]:
    out: dict[str, list[ExploitedFlaw]] = {}
    for flaw in ctx.firmware.flaws if ctx.firmware is not None else ():
        out.setdefault(flaw.vendor, []).append(flaw)
    return out


def _kev_vendors(ctx: Context) -> set[str]:
    """The database's vendors the catalogue names, mapped to firmware or not.

    The catalogue spells vendors its own way ("Ruckus Wireless" for the database's Ruckus): a
    vendor counts as named when one of its names (name, company, aliases) and the catalogue's
    ``vendorProject`` are equal or one begins with the other. Erring towards "named" only makes a
    device "not assessable" rather than "passed"."""
    if ctx.firmware is None:
        return set()
    projects = {fold_name(k.vendor_project) for k in ctx.firmware.kev.values()} - {""}
    named = set()
    for vendor in ctx.db.vendors.values():
        names = {fold_name(n) for n in (vendor.name, vendor.company, *vendor.aliases) if n} - {""}
        if any(p == n or (len(n) >= 4 and p.startswith(n)) or (len(p) >= 4 and n.startswith(p))
               for p in projects for n in names):
            named.add(vendor.name)
    return named


@rule("known-exploited-vulnerability", "Firmware with a vulnerability exploited in the wild", "high")
def known_exploited(result: ScanResult, cfg: RuleConfig, ctx: Context) -> Iterable[Finding]:
    facts = ctx.firmware
    if facts is None:
        return
    by_vendor = _flaws_by_vendor(ctx)
    for device in result.devices:
        if not device.vendor or not device.firmware or device.vendor not in by_vendor:
            continue
        have = version_key(device.firmware)
        for flaw in by_vendor[device.vendor]:
            kev = facts.listed(flaw)
            fixed = flaw.fixed_for(device.firmware)
            if kev is None or fixed is None or not flaw.model_pattern.search(device.model or ""):
                continue
            need = version_key(fixed)
            if not (have and need and have < need):
                continue
            yield finding(cfg, device, f"{label(device)} at {device.ip} runs firmware {device.firmware}, affected by "
                                       f"{flaw.cve} ({kev.name or kev.product}), exploited in the wild; fixed in {fixed}",
                          [*identity_evidence(device),
                           Evidence("kev", f"{kev.cve} is in CISA's Known Exploited Vulnerabilities catalogue "
                                           f"{facts.kev_version} since {kev.date_added}"
                                           + (f"; required action: {kev.required_action}" if kev.required_action else "")),
                           Evidence("advisory", f"{flaw.cve} affects {flaw.vendor} models matching "
                                                f"{flaw.model_pattern.pattern!r} below {fixed} ({flaw.advisory.cite()})")])


@assessor("known-exploited-vulnerability")
def known_exploited_assess(result: ScanResult, cfg: RuleConfig, ctx: Context) -> Verdict:
    if not result.devices:
        return Verdict("not-assessable", "no devices were found")
    if ctx.firmware is None:
        return Verdict("not-assessable", "no known-exploited vulnerability data is loaded")
    by_vendor, listed = _flaws_by_vendor(ctx), _kev_vendors(ctx)
    checked, blind = [], []
    for device in result.devices:
        if not device.vendor:
            blind.append(device)  # unidentified: nothing to look up
        elif device.vendor not in listed:
            checked.append(device)  # the catalogue names no product of this vendor
        elif version_key(device.firmware) and any(
                f.fixed_for(device.firmware or "") and f.model_pattern.search(device.model or "")
                for f in by_vendor.get(device.vendor, [])):
            checked.append(device)
        else:
            blind.append(device)
    flaws = len({f.cve for f in ctx.firmware.flaws})
    if blind:
        return Verdict("not-assessable", f"{plural(len(blind), 'device')} of vendors in the KEV catalogue (or "
                                         f"unidentified) without a firmware version that cityscan's data maps to a "
                                         f"flaw ({ips(blind)}); {len(checked)} checked against {flaws} mapped flaws")
    return Verdict("passed", f"{plural(len(checked), 'device')} checked: their vendor has no entry in the KEV "
                             f"catalogue {ctx.firmware.kev_version}, or their firmware is past the fix of each of the "
                             f"{flaws} flaws cityscan maps to firmware versions")


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


@assessor("banned-vendor")
def banned_vendor_assess(result: ScanResult, cfg: RuleConfig, ctx: Context) -> Verdict:
    if not cfg.params["vendors"]:
        return Verdict("passed", "the policy bans no vendor")
    if not result.devices:
        return Verdict("not-assessable", "no devices were found")
    unknown = unidentified(result)
    if unknown:
        return Verdict("not-assessable", f"{plural(len(unknown), 'device')} could not be identified ({ips(unknown)}); "
                                         "none of the others is made by a banned vendor")
    return Verdict("passed", f"{plural(len(result.devices), 'device')} identified; none is made by "
                             f"{', '.join(cfg.params['vendors'])} or a related brand")


@assessor("outdated-firmware")
def outdated_firmware_assess(result: ScanResult, cfg: RuleConfig, ctx: Context) -> Verdict:
    if not result.devices:
        return Verdict("not-assessable", "no devices were found")
    checked, unchecked = [], []
    today = _scan_day(result)
    for device in result.devices:
        floors = _floors(device, cfg, ctx) if device.vendor else []
        if _end_of_life(device, cfg, ctx, today):
            checked.append(device)
        elif version_key(device.firmware) and any(re.search(f["model_pattern"], device.model or "") and
                                                  version_key(f["version"]) for f in floors):
            checked.append(device)
        else:
            unchecked.append(device)
    if unchecked:
        return Verdict("not-assessable", f"{plural(len(unchecked), 'device')} without a known firmware version or a "
                                         f"minimum for its model ({ips(unchecked)}); {len(checked)} checked")
    return Verdict("passed", f"{plural(len(checked), 'device')} checked against the minimum firmware of their model")


@assessor("unidentified-device")
def unidentified_assess(result: ScanResult, cfg: RuleConfig, ctx: Context) -> Verdict:
    if not result.devices:
        return Verdict("not-assessable", "no devices were found")
    return Verdict("passed", f"all {plural(len(result.devices), 'device')} identified")
