"""Identify stage: raw observations -> vendor, model, firmware, class, capabilities, with the evidence.

Generic signals first (:mod:`.signals`), then the fingerprint database's vendor rules (:mod:`.match`);
:mod:`.selftest` proves every fingerprint entry against its own real examples.
"""

from scanner.identify.match import identify, identify_device, match_observations
from scanner.identify.signals import base_observations, oui_org

__all__ = ["base_observations", "identify", "identify_device", "match_observations", "oui_org"]
