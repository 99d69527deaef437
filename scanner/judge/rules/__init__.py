"""The rules a policy can switch on: each a small function from the scan result to findings.

One module per family; importing this package registers them all in :data:`RULES`. A rule's
parameters, severity and legal references come from the policy; the knowledge it needs (vendor
families, EEA and adequacy lists, foreign laws) comes from :mod:`scanner.knowledge`.
"""

from scanner.judge.rules import inventory, services, transfers, uses, vendors
from scanner.judge.rules.base import (
           RULES,
           Context,
           Param,
           RuleConfig,
           RuleSpec,
           finding,
)

__all__ = ["RULES", "Context", "Param", "RuleConfig", "RuleSpec", "finding", "inventory", "services", "transfers",
           "uses", "vendors"]
