"""Evaluate stage: run the policy's rules over the model and apply waivers."""

from __future__ import annotations

from .fingerprint_db import FingerprintDB, default_db
from .jurisdiction import load_jurisdiction
from .model import Finding, ScanResult, severity_rank
from .policy import Policy
from .rules import Context
from .waivers import Waiver, apply_waivers


def evaluate(result: ScanResult, policy: Policy, waivers: list[Waiver] | None = None,
             db: FingerprintDB | None = None) -> ScanResult:
    """Replace the result's findings with those of ``policy`` (so a stored scan can be re-judged)."""
    ctx = Context(db=db or default_db(), law=load_jurisdiction())
    findings: list[Finding] = []
    for cfg in policy.enabled_rules():
        findings.extend(cfg.spec.evaluate(result, cfg, ctx))
    findings.sort(key=lambda f: (-severity_rank(f.severity), f.rule, _ip_sort(f.device_ip), f.message))
    result.findings = findings
    result.scan.policy = policy.summary()
    result.waivers = apply_waivers(result, waivers or [])
    return result


def _ip_sort(ip: str | None) -> tuple[int, str]:
    import ipaddress
    try:
        addr = ipaddress.ip_address(ip or "")
        return (addr.version, f"{int(addr):040d}")
    except ValueError:
        return (9, ip or "")


def gate(result: ScanResult, fail_on: str) -> bool:
    """True when an unwaived finding is at or above ``fail_on`` (the CI exit-1 condition)."""
    if fail_on == "none":
        return False
    floor = severity_rank(fail_on)
    return any(not f.waived and severity_rank(f.severity) >= floor for f in result.findings)
