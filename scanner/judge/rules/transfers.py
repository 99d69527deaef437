"""Rules about where data goes: outside the EEA, and within reach of a foreign law."""

from __future__ import annotations

from collections.abc import Iterable

from scanner.judge.rules.base import (
    Context,
    Param,
    RuleConfig,
    finding,
    rule,
)
from scanner.model import Destination, Evidence, Finding, ScanResult

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
