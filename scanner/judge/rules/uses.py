"""Rules about what a device is used for: tracking passers-by, biometric identification."""

from __future__ import annotations

from collections.abc import Iterable

from scanner.judge.rules.base import (
    Context,
    Param,
    RuleConfig,
    finding,
    identity_evidence,
    label,
    rule,
)
from scanner.model import CAPABILITIES, DEVICE_CLASSES, Finding, ScanResult

# --- wifi-tracking ---------------------------------------------------------------------------

@rule("wifi-tracking", "Tracking of passers-by through wifi or bluetooth", "high",
      capabilities=Param("strings", ["wifi-probe-capture", "bluetooth-scan"], CAPABILITIES),
      device_classes=Param("strings", ["wifi-tracker"], DEVICE_CLASSES))
def wifi_tracking(result: ScanResult, cfg: RuleConfig, ctx: Context) -> Iterable[Finding]:
    caps = set(cfg.params["capabilities"])
    classes = set(cfg.params["device_classes"])
    for device in result.devices:
        found = sorted(caps.intersection(device.capabilities))
        if found or device.device_class in classes:
            why = f"capabilities {', '.join(found)}" if found else f"device class {device.device_class}"
            yield finding(cfg, device, f"{label(device)} at {device.ip} can track passers-by ({why})",
                          identity_evidence(device))


# --- biometric-identification ----------------------------------------------------------------

@rule("biometric-identification", "Biometric identification in public space", "high",
      capabilities=Param("strings", ["face-recognition", "licence-plate-recognition"], CAPABILITIES))
def biometric_identification(result: ScanResult, cfg: RuleConfig, ctx: Context) -> Iterable[Finding]:
    caps = set(cfg.params["capabilities"])
    for device in result.devices:
        found = sorted(caps.intersection(device.capabilities))
        if found:
            yield finding(cfg, device, f"{label(device)} at {device.ip} offers {', '.join(found)}",
                          identity_evidence(device))
