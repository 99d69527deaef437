"""The one data model every stage reads and returns: a scan result and its parts.

Everything here is plain, typed and serialisable (``to_dict`` / ``from_dict``), so any stage can
run alone on a stored result, and a report is a pure function of it.
"""

from scanner.model.result import (
    Destination,
    Device,
    Evidence,
    Finding,
    Identity,
    Observation,
    Reference,
    ScanError,
    ScanInfo,
    ScanResult,
    Service,
)
from scanner.model.vocabulary import (
    CAPABILITIES,
    CAPABILITY_STATES,
    DEVICE_CLASSES,
    FAIL_ON,
    RULE_STATUSES,
    SCHEMA_VERSION,
    SEVERITIES,
    at_or_above,
    severity_rank,
)

__all__ = [
    "CAPABILITIES", "CAPABILITY_STATES", "DEVICE_CLASSES", "RULE_STATUSES", "FAIL_ON", "SCHEMA_VERSION", "SEVERITIES", "Destination", "Device",
    "Evidence", "Finding", "Identity", "Observation", "Reference", "ScanError", "ScanInfo", "ScanResult", "Service",
    "at_or_above", "severity_rank",
]
