"""Judge stage: run the policy's rules over a result, apply the waivers, describe what was judged.

Returns a :class:`Judgement` (a value); the pipeline writes it into the result, replacing an
earlier one, so a stored scan can be re-judged under another policy without rescanning.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from scanner.judge.inventory import Expected
from scanner.judge.policy import Policy
from scanner.judge.rules import Context, RuleConfig
from scanner.judge.rules.base import Verdict
from scanner.judge.waivers import Waiver, apply_waivers
from scanner.knowledge.fingerprints import FingerprintDB
from scanner.knowledge.jurisdiction import Jurisdiction
from scanner.knowledge.loader import default_db, firmware_facts, jurisdiction, tracking_services
from scanner.model import Finding, ScanResult, severity_rank
from scanner.model.addresses import ip_sort_key


@dataclass
class Judgement:
    """Findings, the policy that produced them, waiver statuses, and every rule that was evaluated."""

    findings: list[Finding] = field(default_factory=list)
    policy: dict[str, Any] | None = None
    waivers: list[dict[str, Any]] = field(default_factory=list)
    rules: list[dict[str, Any]] = field(default_factory=list)


def evaluate(result: ScanResult, policy: Policy, waivers: list[Waiver] | None = None,
             db: FingerprintDB | None = None, inventory: list[Expected] | None = None) -> Judgement:
    """The findings of ``policy`` over ``result`` (which is only read)."""
    law = jurisdiction()
    ctx = Context(db=db or default_db(), law=law, services=tracking_services(),
                  inventory=tuple(inventory) if inventory is not None else None, firmware=firmware_facts())
    findings: list[Finding] = []
    enabled = policy.enabled_rules()
    verdicts: dict[str, Verdict | None] = {}
    for cfg in enabled:
        found = list(cfg.spec.evaluate(result, cfg, ctx))
        findings.extend(found)
        verdicts[cfg.id] = None if found else _verdict(result, cfg, ctx)
    findings.sort(key=lambda f: (-severity_rank(f.severity), f.rule, ip_sort_key(f.device_ip), f.message))
    statuses = apply_waivers(findings, {d.ip: d.mac for d in result.devices}, waivers or [])
    rules = [_rule_entry(cfg, law, verdicts[cfg.id], [f for f in findings if f.rule == cfg.id]) for cfg in enabled]
    return Judgement(findings, policy.summary(), statuses, rules)


def _verdict(result: ScanResult, cfg: RuleConfig, ctx: Context) -> Verdict:
    """A rule without findings passed only if the scan could have shown a finding."""
    if cfg.spec.assess is None:
        return Verdict("not-assessable", "this rule cannot say what the scan could check")
    verdict = cfg.spec.assess(result, cfg, ctx)
    if verdict.status == "passed" and result.scan.partial:  # what the stopped scan did not reach is unseen
        return Verdict("not-assessable", f"the scan was stopped before it finished; of what it saw: {verdict.reason}")
    return verdict


def _rule_entry(cfg: RuleConfig, law: Jurisdiction, verdict: Verdict | None, found: list[Finding]) -> dict[str, Any]:
    """A rule as the reports show it: its verdict and why, what it checks, the law it rests on."""
    if verdict is None:
        waived = sum(1 for f in found if f.waived)
        verdict = Verdict("findings", f"{len(found)} finding{'s' if len(found) != 1 else ''}"
                                      + (f", {waived} waived" if waived else ""))
    return {"id": cfg.id, "status": verdict.status, "reason": verdict.reason, "title": cfg.title,
            "severity": cfg.severity, "summary": law.summaries.get(cfg.id),
            "references": [r.to_dict() for r in cfg.references]}
