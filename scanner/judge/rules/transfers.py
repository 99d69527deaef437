"""Rules about where data goes: outside the EEA, and within reach of a foreign law."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from scanner.judge.rules.base import (
    Context,
    Param,
    RuleConfig,
    Verdict,
    assessor,
    finding,
    plural,
    rule,
    traffic_seen,
)
from scanner.model import Destination, Evidence, Finding, ScanResult

# --- destinations ----------------------------------------------------------------------------

def _dest_evidence(dest: Destination) -> list[Evidence]:
    kind, confidence = ("behaviour", 0.9) if dest.observed else ("predicted", 0.6)
    base = [Evidence("destination", f"{dest.host or dest.ip}: country {dest.country or 'unknown'}, "
                                    f"company {dest.company or 'unknown'}, parent {dest.parent_company or 'unknown'} "
                                    f"(sources: {', '.join(dest.sources) or 'none'})", kind, confidence)]
    if dest.traffic:
        base.append(Evidence("traffic", traffic_text(dest.traffic), "behaviour", 0.9))
    return base + list(dest.evidence)[:4]


def traffic_text(traffic: dict[str, Any]) -> str:
    """``12 connections, 3.2 MB, 2026-11-20T02:00:00Z to 2026-11-21T01:59:00Z``."""
    parts = [f"{traffic.get('connections', 0)} connection(s)"]
    if traffic.get("bytes") is not None:
        parts.append(f"{traffic['bytes']:,} bytes")
    if traffic.get("first_seen"):
        parts.append(f"seen {traffic['first_seen']} to {traffic.get('last_seen') or '?'}")
    return ", ".join(parts)


def _sends(dest: Destination) -> str:
    """Observed traffic is a fact; a vendor endpoint is what the device is built to do."""
    return "sends data to" if dest.observed else "is built to send data to (vendor endpoint, not seen in traffic)"


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
        yield finding(cfg, result.device(dest.device_ip), f"{dest.device_ip} {_sends(dest)} {dest.host or dest.ip} "
                                                          f"in {ctx.law.name(country)} ({country}), outside the EEA "
                                                          f"without an adequacy decision this policy accepts",
                      _dest_evidence(dest), dest, confidence=0.9 if dest.observed else 0.6)


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
                      f"{dest.device_ip} {_sends(dest)} {dest.host or dest.ip}, {where} of {owner}; "
                      f"{law.title} can compel access to it", _dest_evidence(dest), dest,
                      confidence=0.9 if dest.observed else 0.6)


def _assess_destinations(result: ScanResult, what: str, unknown: list[Destination]) -> Verdict:
    if not traffic_seen(result):
        predicted = len(result.destinations)
        return Verdict("not-assessable", "no traffic was given (--flows or --capture), so where the devices send "
                                         f"data is unknown; {plural(predicted, 'vendor endpoint')} checked")
    if unknown:
        return Verdict("not-assessable", f"{plural(len(unknown), 'destination')} without a known {what} "
                                         f"(e.g. {unknown[0].host or unknown[0].ip})")
    return Verdict("passed", f"{plural(len(result.destinations), 'destination')} of "
                             f"{plural(len({d.device_ip for d in result.destinations}), 'device')} checked")


@assessor("data-outside-eea")
def data_outside_eea_assess(result: ScanResult, cfg: RuleConfig, ctx: Context) -> Verdict:
    return _assess_destinations(result, "location", [d for d in result.destinations if not d.country])


@assessor("foreign-jurisdiction")
def foreign_jurisdiction_assess(result: ScanResult, cfg: RuleConfig, ctx: Context) -> Verdict:
    return _assess_destinations(result, "operator", [d for d in result.destinations if not d.company])
