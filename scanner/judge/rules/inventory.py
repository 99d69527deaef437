"""Rules that compare the scan with the expected inventory: a device missing, or one nobody expected.

A staging lab whose device answers nothing, or a segment where a device was swapped, must not pass
silently. Without ``--inventory`` both rules are not assessable, never passed.
"""

from __future__ import annotations

from collections.abc import Iterable

from scanner.judge.rules.base import Context, RuleConfig, Verdict, assessor, finding, ips, label, plural, rule
from scanner.model import Evidence, Finding, ScanResult
from scanner.model.text import fold_name


@rule("missing-device", "Expected device not found", "high")
def missing_device(result: ScanResult, cfg: RuleConfig, ctx: Context) -> Iterable[Finding]:
    for expected in ctx.inventory or ():
        device = result.device(expected.ip)
        if device is None:
            yield finding(cfg, None, f"{expected.label()} is in the inventory but did not answer the scan",
                          [Evidence("inventory", f"listed at {expected.where}; the scan result has no device at "
                                                 "this address (no reply, no traffic record)", "behaviour", 0.9)],
                          confidence=0.9)


@rule("unexpected-device", "Device not in the inventory, or not the one expected", "medium")
def unexpected_device(result: ScanResult, cfg: RuleConfig, ctx: Context) -> Iterable[Finding]:
    if ctx.inventory is None:
        return
    expected = {e.ip: e for e in ctx.inventory}
    for device in result.devices:
        want = expected.get(device.ip)
        if want is None:
            yield finding(cfg, device, f"{label(device)} at {device.ip} is not in the inventory",
                          [Evidence("inventory", "no inventory entry for this address", "identity", 0.9)], confidence=0.9)
            continue
        differences = []
        if want.mac and device.mac and want.mac != device.mac.lower():
            differences.append(f"MAC {device.mac}, inventory {want.mac}")
        if want.vendor and device.vendor and fold_name(want.vendor) != fold_name(device.vendor):
            differences.append(f"vendor {device.vendor}, inventory {want.vendor}")
        if want.model and device.model and fold_name(want.model) != fold_name(device.model):
            differences.append(f"model {device.model}, inventory {want.model}")
        if differences:
            yield finding(cfg, device, f"{device.ip} is not the device the inventory expects: {'; '.join(differences)}",
                          [Evidence("inventory", f"listed at {want.where}", "identity", 0.8)], confidence=0.8)


def _assess(result: ScanResult, cfg: RuleConfig, ctx: Context) -> Verdict:
    if ctx.inventory is None:
        return Verdict("not-assessable", "no inventory was given (--inventory FILE)")
    described = {e.ip for e in ctx.inventory if e.vendor or e.model}   # a set: a city lists thousands
    unknown = [d for d in result.devices if d.vendor is None and d.ip in described]
    if cfg.id == "unexpected-device" and unknown:
        return Verdict("not-assessable", f"{plural(len(unknown), 'device')} of the inventory could not be identified "
                                         f"({ips(unknown)}), so whether it is the expected one is unknown")
    return Verdict("passed", f"{plural(len(ctx.inventory), 'expected device')} compared with "
                             f"{plural(len(result.devices), 'device')} found")


assessor("missing-device")(_assess)
assessor("unexpected-device")(_assess)
