"""The closed vocabularies of the result: severities, device classes, capabilities.

They are part of the JSON contract (README, ``scan-result.schema.json``), so every stage, data
file and report uses these tuples and nothing else.
"""

from __future__ import annotations

SCHEMA_VERSION = 1

SEVERITIES: tuple[str, ...] = ("info", "low", "medium", "high", "critical")
# What ``--fail-on`` accepts: a severity, or ``none`` (never fail).
FAIL_ON: tuple[str, ...] = (*SEVERITIES, "none")

DEVICE_CLASSES: tuple[str, ...] = (
    "camera", "nvr", "wifi-tracker", "access-point", "people-counter",
    "street-light-controller", "traffic-controller", "iot-gateway", "router", "sensor", "unknown",
)

CAPABILITIES: tuple[str, ...] = (
    "video", "audio", "ptz", "wifi-probe-capture", "bluetooth-scan", "people-counting",
    "face-recognition", "licence-plate-recognition", "cloud-p2p", "thermal", "lora", "cellular",
)


def severity_rank(severity: str) -> int:
    """Order of a severity, ``info`` lowest; unknown names rank below everything."""
    try:
        return SEVERITIES.index(severity)
    except ValueError:
        return -1


def at_or_above(severity: str, threshold: str) -> bool:
    """The one severity gate: ``severity`` meets ``threshold`` (``none`` is never met).

    Used for ``--fail-on`` (scan, report), JUnit failures and ``diff --fail-on-new``.
    """
    return threshold != "none" and severity_rank(severity) >= severity_rank(threshold)
