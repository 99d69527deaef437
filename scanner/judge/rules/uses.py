"""Rules about what a device is used for: tracking passers-by, biometric identification, ANPR.

Each finding says which kind of evidence it rests on (``Evidence.kind``), with its confidence:
``identity`` (the device is a tracking product), ``capability`` (infrastructure that can feed a
location engine, or a camera whose make and model offer an analytics feature), ``behaviour`` (its
traffic goes to a location-analytics service) or ``predicted`` (its vendor builds it to).
"""

from __future__ import annotations

from collections.abc import Iterable

from scanner.judge.rules.base import (
    Context,
    Param,
    RuleConfig,
    Verdict,
    assessor,
    finding,
    identity_evidence,
    ips,
    label,
    plural,
    rule,
    traffic_seen,
    unidentified,
)
from scanner.model import (
    CAPABILITIES,
    DEVICE_CLASSES,
    SEVERITIES,
    Device,
    Evidence,
    Finding,
    ScanResult,
)

# TCP port of Cisco's Network Mobility Services Protocol: a WLC sends client and probing-phone
# positions over it to a location engine (CMX, DNA Spaces connector). Open = the feed can run.
NMSP_PORT = 16113
CAMERA_CLASSES = ("camera", "nvr", "vms-server", "access-control")


def _with_kind(evidence: list[Evidence], kind: str, confidence: float | None) -> list[Evidence]:
    return [Evidence(e.source, e.detail, kind, confidence) for e in evidence]


def _state(device: Device, capability: str) -> str:
    return device.capability_status.get(capability, "supported" if capability in device.capabilities else "unknown")


# --- wifi-tracking ---------------------------------------------------------------------------

@rule("wifi-tracking", "Tracking of passers-by through wifi or bluetooth", "high",
      capabilities=Param("strings", ["wifi-probe-capture", "bluetooth-scan"], CAPABILITIES),
      device_classes=Param("strings", ["wifi-tracker", "bluetooth-tracker"], DEVICE_CLASSES),
      capability_severity=Param("string", "low", SEVERITIES),
      services=Param("bool", True))
def wifi_tracking(result: ScanResult, cfg: RuleConfig, ctx: Context) -> Iterable[Finding]:
    caps = set(cfg.params["capabilities"])
    classes = set(cfg.params["device_classes"])
    trackers: set[str] = set()
    for device in result.devices:  # identity: a dedicated tracking product
        found = sorted(caps.intersection(device.capabilities))
        if found or device.device_class in classes:
            trackers.add(device.ip)
            why = f"capabilities {', '.join(found)}" if found else f"device class {device.device_class}"
            yield finding(cfg, device, f"{label(device)} at {device.ip} is a tracking sensor: it records the "
                                       f"phones of passers-by ({why})",
                          _with_kind(identity_evidence(device), "identity", device.confidence),
                          confidence=device.confidence)
    if cfg.params["services"]:  # behaviour: data goes to a location-analytics service
        for dest in result.destinations:
            service = next((s for s in ctx.services if s.matches(dest.host)), None)
            if service is None:
                continue
            sender = result.device(dest.device_ip)
            sends = "sends data to" if dest.observed else "is built to send data to"
            confidence = 0.9 if dest.observed else 0.6
            yield finding(cfg, sender, f"{dest.device_ip} {sends} {dest.host}, {service.name} ({service.purpose})",
                          [Evidence("destination", f"{dest.host} is a domain of {service.name}; source: {service.source}",
                                    "behaviour" if dest.observed else "predicted", confidence),
                           *dest.evidence[:3]], dest, confidence=confidence)
    for device in result.devices:  # capability: infrastructure that can feed a location engine
        if device.ip in trackers:
            continue
        nmsp = any(s.port == NMSP_PORT and s.transport == "tcp" for s in device.services)
        if "location-analytics" not in device.capabilities and not nmsp:
            continue
        state = _state(device, "location-analytics")
        seen = [f"NMSP port {NMSP_PORT}/tcp open (a location engine can be fed)"] if nmsp else []
        if "location-analytics" in device.capabilities:
            seen.append(f"the make and model offer location analytics ({state})")
        yield finding(cfg, device, f"{label(device)} at {device.ip} can locate phones for a location engine "
                                   f"({'; '.join(seen)}): check whether location services are switched on",
                      [Evidence("nmap" if nmsp else "identity", s, "capability", 0.5) for s in seen]
                      + _with_kind(identity_evidence(device), "identity", device.confidence)[:3],
                      port=NMSP_PORT if nmsp else None, severity=cfg.params["capability_severity"], confidence=0.5)


@assessor("wifi-tracking")
def wifi_tracking_assess(result: ScanResult, cfg: RuleConfig, ctx: Context) -> Verdict:
    if not result.devices:
        return Verdict("not-assessable", "no devices were found")
    unknown = unidentified(result)
    traffic = ("traffic was recorded and no destination is a location-analytics service" if traffic_seen(result)
               else "no traffic was given, so uploads to tracking services could not be checked")
    if unknown:
        return Verdict("not-assessable", f"{plural(len(unknown), 'device')} could not be identified "
                                         f"({ips(unknown)}), so whether {'it tracks' if len(unknown) == 1 else 'they track'} "
                                         f"passers-by is unknown; {traffic}")
    return Verdict("passed", f"{plural(len(result.devices), 'device')} identified, none a tracking sensor or "
                             f"location-capable controller; {traffic}")


# --- biometric-identification ----------------------------------------------------------------

@rule("biometric-identification", "Biometric identification in public space", "high",
      capabilities=Param("strings", ["face-recognition"], CAPABILITIES),
      review_capabilities=Param("strings", ["face-capture"], CAPABILITIES),
      review_severity=Param("string", "medium", SEVERITIES))
def biometric_identification(result: ScanResult, cfg: RuleConfig, ctx: Context) -> Iterable[Finding]:
    yield from _capability_findings(result, cfg, "offers", cfg.params["capabilities"])
    yield from _capability_findings(
        result, cfg, "sends face crops off the device (the input of face recognition elsewhere):",
        cfg.params["review_capabilities"], severity=cfg.params["review_severity"],
        skip=set(cfg.params["capabilities"]))


@rule("anpr", "Licence-plate recognition (ANPR)", "medium",
      capabilities=Param("strings", ["licence-plate-recognition"], CAPABILITIES))
def anpr(result: ScanResult, cfg: RuleConfig, ctx: Context) -> Iterable[Finding]:
    yield from _capability_findings(result, cfg, "offers", cfg.params["capabilities"])


def _capability_findings(result: ScanResult, cfg: RuleConfig, verb: str, capabilities: list[str],
                         severity: str | None = None, skip: set[str] = frozenset()) -> Iterable[Finding]:  # type: ignore[assignment]
    for device in result.devices:
        if skip.intersection(device.capabilities):
            continue  # already a finding at the rule's own severity
        found = [c for c in capabilities if c in device.capabilities and _state(device, c) != "disabled"]
        if not found:
            continue
        states = ", ".join(f"{c} ({_state(device, c)})" for c in found)
        enabled = all(_state(device, c) == "enabled" for c in found)
        reported = all(any(e.kind == "capability" and f"itself reports {c}" in e.detail for e in device.evidence)
                       for c in found)
        confidence = round((device.confidence or 0.5) * (1.0 if enabled or reported else 0.8), 3)
        how = ("a read-only check read it switched on" if enabled else
               "the device itself reports it (authenticated check); whether it is switched on was not read"
               if reported else "its make and model offer it; whether it is switched on was not read")
        yield finding(cfg, device, f"{label(device)} at {device.ip} {verb} {states}: {how}",
                      [Evidence("identity", f"{c}: {_state(device, c)}", "capability", confidence) for c in found]
                      + _with_kind(identity_evidence(device), "identity", device.confidence)[:4],
                      severity=severity, confidence=confidence)


def _assess_cameras(result: ScanResult, cfg: RuleConfig, ctx: Context) -> Verdict:
    if not result.devices:
        return Verdict("not-assessable", "no devices were found")
    unknown = unidentified(result)
    cameras = [d for d in result.devices if d.device_class in CAMERA_CLASSES]
    no_model = [d for d in cameras if not d.model]
    if unknown or no_model:
        parts = []
        if unknown:
            parts.append(f"{plural(len(unknown), 'device')} could not be identified ({ips(unknown)})")
        if no_model:
            parts.append(f"{plural(len(no_model), 'camera')} without a known model ({ips(no_model)})")
        many = len(unknown) + len(no_model) > 1
        return Verdict("not-assessable", "; ".join(parts) + f": what {'they' if many else 'it'} can recognise is unknown")
    if not cameras:
        return Verdict("passed", f"{plural(len(result.devices), 'device')} identified; none is a camera, "
                                 "recorder or access-control reader")
    return Verdict("passed", f"{plural(len(cameras), 'camera')} identified by make and model; none offers it "
                             "according to the fingerprint database (analytics settings were not read)")


assessor("biometric-identification")(_assess_cameras)
assessor("anpr")(_assess_cameras)
