"""Rules about where data goes: outside the EEA, and within reach of a foreign law.

Each rule uses the fact it is about: ``data-outside-eea`` the server's *location*
(``country``: cloud region or geolocation, never the registry country), ``foreign-jurisdiction``
the *operator's* jurisdictions (company and ultimate parent). Findings are graded: traffic that
only keeps a device running (DNS, NTP, OCSP/CRL, connectivity checks) is not an upload of what it
collects, and a US operator certified under the EU-US Data Privacy Framework is covered by the
US adequacy decision; both are said in the finding, at the policy's lower severities.
"""

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
from scanner.knowledge.dpf import DpfEntry
from scanner.knowledge.freshness import stale
from scanner.knowledge.loader import dpf_list, infrastructure
from scanner.model import Destination, Evidence, Finding, ScanResult
from scanner.model.vocabulary import SEVERITIES

# The data sets a transfer verdict rests on: an old one is said in the finding.
LOCATION_DATA = ("cloud-ranges", "dbip-country", "anycast", "dpf", "countries", "ownership", "asn")

# --- destinations ----------------------------------------------------------------------------

def _where(dest: Destination) -> str:
    if dest.anycast:
        return f"anycast (no single country; source {dest.location_source or 'unknown'})"
    if dest.country:
        return f"server in {dest.country} (source {dest.location_source or 'unknown'})"
    return "server location unknown"


def _dest_evidence(dest: Destination) -> list[Evidence]:
    kind, confidence = ("behaviour", 0.9) if dest.observed else ("predicted", 0.6)
    seen = "observed in traffic" if dest.observed else "predicted from the device's fingerprint, not seen in traffic"
    registry = f", address block registered in {dest.registry_country}" if dest.registry_country else ""
    base = [Evidence("destination", f"{dest.host or dest.ip}: {_where(dest)}{registry}; "
                                    f"operator {dest.company or 'unknown'}, parent {dest.parent_company or 'unknown'}, "
                                    f"jurisdictions {', '.join(dest.jurisdictions) or 'unknown'} "
                                    f"(sources: {', '.join(dest.sources) or 'none'}); {seen}", kind, confidence)]
    if dest.traffic:
        base.append(Evidence("traffic", traffic_text(dest.traffic, dest.host), "behaviour", 0.9))
    return base + list(dest.evidence)[:4]


def traffic_text(traffic: dict[str, Any], host: str | None = None) -> str:
    """``12 connection(s), 1,200 bytes out (3,200 both directions), seen ... to ..., DNS name api.example``."""
    parts = [f"{traffic.get('connections', 0)} connection(s)"]
    if traffic.get("bytes_out") is not None:
        both = f" ({traffic['bytes']:,} both directions)" if traffic.get("bytes") is not None else ""
        parts.append(f"{traffic['bytes_out']:,} bytes out{both}")
    elif traffic.get("bytes") is not None:
        parts.append(f"{traffic['bytes']:,} bytes (both directions)")
    if traffic.get("first_seen"):
        parts.append(f"seen {traffic['first_seen']} to {traffic.get('last_seen') or '?'}")
    if host:
        parts.append(f"DNS name {host}")
    return ", ".join(parts)


def _sends(dest: Destination) -> str:
    """Observed traffic is a fact; a vendor endpoint is what the device is built to do."""
    return "sends data to" if dest.observed else "is built to send data to (vendor endpoint, not seen in traffic)"


def _infrastructure(dest: Destination) -> str | None:
    return infrastructure().kind(dest.host, dest.port, dest.transport)


def _graded(cfg: RuleConfig, dest: Destination, message: str, evidence: list[Evidence]) -> tuple[str, str | None]:
    """The message and severity of a transfer finding: infrastructure traffic is graded lower."""
    kind = _infrastructure(dest)
    if kind is None:
        return message + "; payload traffic (not DNS, NTP, OCSP/CRL or a connectivity check)", None
    evidence.insert(0, Evidence("classification", f"{dest.host or dest.ip}:{dest.port}/{dest.transport} is "
                                                  f"{kind} traffic", "behaviour", 0.8))
    return (message + f"; this is infrastructure traffic ({kind}), which keeps the device running and is not "
                      f"an upload of the data it collects, so it is graded {cfg.params['infrastructure_severity']}",
            str(cfg.params["infrastructure_severity"]))


def _stale_evidence(result: ScanResult, cfg: RuleConfig) -> list[Evidence]:
    used = [d for d in result.scan.data if d.get("name") in LOCATION_DATA]
    return [Evidence("data", text, "identity", None) for text in stale(used, cfg.params["max_data_age_days"])]


def _dpf(dest: Destination) -> DpfEntry | None:
    return dpf_list().status(dest.company, dest.parent_company)


def _dpf_text(entry: DpfEntry | None, dest: Destination) -> str:
    data = dpf_list()
    owner = dest.parent_company or dest.company or "the operator"
    if entry is None or entry.status != "active":
        return (f"{owner} is not on cityscan's EU-US Data Privacy Framework snapshot ({data.date}), so the US "
                f"adequacy decision does not cover it: the transfer needs Art. 46 safeguards")
    checked = (f"per the company's own DPF statement of {entry.checked}; confirm on {data.source}" if entry.checked
               else f"not yet verified against {data.source}: check before relying on it")
    return (f"{owner} is DPF-certified per cityscan's snapshot ({data.date}; {checked}), so the transfer can rest "
            f"on the US adequacy decision if the service used is covered by its certification")


@rule("data-outside-eea", "Data sent outside the EEA without adequacy", "high",
      accept_adequacy=Param("strings", ["all"]),
      infrastructure_severity=Param("string", "low", choices=SEVERITIES),
      dpf_severity=Param("string", "low", choices=SEVERITIES),
      max_data_age_days=Param("int", 365))
def data_outside_eea(result: ScanResult, cfg: RuleConfig, ctx: Context) -> Iterable[Finding]:
    accept = set(cfg.params["accept_adequacy"])
    old = _stale_evidence(result, cfg)
    for dest in result.destinations:
        country = dest.country   # where the server is; never the registry country
        if not country or ctx.law.in_eea(country):
            continue
        if country in accept or ("all" in accept and ctx.law.adequate(country, full_only=True)):
            continue
        evidence = _dest_evidence(dest) + old
        decision = ctx.law.adequacy.get(country)
        certified_only = decision is not None and bool(decision.get("requires_certification"))
        message = (f"{dest.device_ip} {_sends(dest)} {dest.host or dest.ip}, a server in {ctx.law.name(country)} "
                   f"({country}, source {dest.location_source or 'unknown'}), outside the EEA "
                   + ("where the adequacy decision covers only certified organisations" if certified_only
                      else "without an adequacy decision this policy accepts"))
        severity: str | None = None
        if certified_only:
            entry = _dpf(dest)
            message += "; " + _dpf_text(entry, dest)
            evidence.append(Evidence("dpf", _dpf_text(entry, dest), "identity", 0.7 if entry and not entry.checked else 0.9))
            if entry is not None and entry.status == "active" and "all" in accept:
                severity = str(cfg.params["dpf_severity"])
        message, infra = _graded(cfg, dest, message, evidence)
        yield finding(cfg, result.device(dest.device_ip), message, evidence, dest,
                      severity=_lowest(severity, infra), confidence=0.9 if dest.observed else 0.6)


def _lowest(*severities: str | None) -> str | None:
    given = [s for s in severities if s]
    return min(given, key=SEVERITIES.index) if given else None


@rule("foreign-jurisdiction", "Data reachable by a foreign law", "medium",
      laws=Param("strings", ["us-cloud-act", "prc-national-intelligence-law"]),
      infrastructure_severity=Param("string", "info", choices=SEVERITIES),
      max_data_age_days=Param("int", 365))
def foreign_jurisdiction(result: ScanResult, cfg: RuleConfig, ctx: Context) -> Iterable[Finding]:
    laws = [ctx.law.law(law_id) for law_id in cfg.params["laws"]]
    old = _stale_evidence(result, cfg)
    for dest in result.destinations:
        law = next((law for law in laws if law and law.country in dest.jurisdictions), None)
        if law is None:
            continue
        if dest.anycast:
            where = "an anycast service"
        elif dest.country:
            where = f"a server in {ctx.law.name(dest.country)}"
        else:
            where = "a server"
        owner = dest.parent_company or dest.company or "its operator"
        evidence = _dest_evidence(dest) + old
        message = (f"{dest.device_ip} {_sends(dest)} {dest.host or dest.ip}, {where} of {owner}; "
                   f"{law.title} can compel access to it")
        if dest.country and ctx.law.in_eea(dest.country):
            message += " even though the server is in the EEA"
        message, infra = _graded(cfg, dest, message, evidence)
        yield finding(cfg, result.device(dest.device_ip), message, evidence, dest, severity=infra,
                      confidence=0.9 if dest.observed else 0.6)


def _assess_destinations(result: ScanResult, what: str, unknown: list[Destination]) -> Verdict:
    if not traffic_seen(result):
        predicted = len(result.destinations)
        return Verdict("not-assessable", "no traffic was given (--flows or --capture), so where the devices send "
                                         f"data is unknown; {plural(predicted, 'vendor endpoint')} checked")
    if unknown:
        anycast = sum(1 for d in unknown if d.anycast)
        why = f", {anycast} of them anycast (served from many countries)" if anycast and what == "location" else ""
        return Verdict("not-assessable", f"{plural(len(unknown), 'destination')} without a known {what} "
                                         f"(e.g. {unknown[0].host or unknown[0].ip}){why}")
    return Verdict("passed", f"{plural(len(result.destinations), 'destination')} of "
                             f"{plural(len({d.device_ip for d in result.destinations}), 'device')} checked")


@assessor("data-outside-eea")
def data_outside_eea_assess(result: ScanResult, cfg: RuleConfig, ctx: Context) -> Verdict:
    return _assess_destinations(result, "location", [d for d in result.destinations if not d.country])


@assessor("foreign-jurisdiction")
def foreign_jurisdiction_assess(result: ScanResult, cfg: RuleConfig, ctx: Context) -> Verdict:
    return _assess_destinations(result, "operator", [d for d in result.destinations if not d.company])
