"""Judge stage: run the policy's rules over a result, apply the waivers, describe what was judged.

Returns a :class:`Judgement` (a value); the pipeline writes it into the result, replacing an
earlier one, so a stored scan can be re-judged under another policy without rescanning.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from scanner.judge.policy import Policy
from scanner.judge.rules import Context, RuleConfig
from scanner.judge.waivers import Waiver, apply_waivers
from scanner.knowledge.fingerprints import FingerprintDB
from scanner.knowledge.jurisdiction import Jurisdiction
from scanner.knowledge.loader import default_db, jurisdiction
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
             db: FingerprintDB | None = None) -> Judgement:
    """The findings of ``policy`` over ``result`` (which is only read)."""
    law = jurisdiction()
    ctx = Context(db=db or default_db(), law=law)
    findings: list[Finding] = []
    enabled = policy.enabled_rules()
    for cfg in enabled:
        findings.extend(cfg.spec.evaluate(result, cfg, ctx))
    findings.sort(key=lambda f: (-severity_rank(f.severity), f.rule, ip_sort_key(f.device_ip), f.message))
    statuses = apply_waivers(findings, {d.ip: d.mac for d in result.devices}, waivers or [])
    return Judgement(findings, policy.summary(), statuses, [_rule_entry(cfg, law) for cfg in enabled])


def _rule_entry(cfg: RuleConfig, law: Jurisdiction) -> dict[str, Any]:
    """A rule as the reports show it: what it checks and the law it rests on."""
    return {"id": cfg.id, "title": cfg.title, "severity": cfg.severity,
            "summary": law.summaries.get(cfg.id), "references": [r.to_dict() for r in cfg.references]}
