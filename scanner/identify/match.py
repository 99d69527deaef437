"""Identify stage: raw observations -> vendor, model, firmware, class, with the evidence why.

Software-level evidence (a vendor endpoint, a banner, firmware strings) outranks the MAC OUI,
because relabelled OEM hardware is common: a camera whose NIC was bought from one company but
whose firmware says Hikvision is a Hikvision camera, and that is what a ban is about.
Too little evidence gives ``unknown``; cityscan never guesses.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from scanner.identify.signals import base_observations
from scanner.knowledge.fingerprints import (
    HARDWARE_FIELDS,
    Entry,
    FingerprintDB,
)
from scanner.knowledge.loader import default_db
from scanner.model import Device, Evidence, Identity, Observation

MAX_MATCH_CHARS = 65536
# A vendor needs at least this much combined confidence to be named.
MIN_VENDOR_CONFIDENCE = 0.5


@dataclass
class Hit:
    entry: Entry
    observation: Observation
    facts: dict[str, Any]

    @property
    def vendor(self) -> str | None:
        return self.facts.get("vendor")

    def evidence(self) -> Evidence:
        obs = self.observation
        where = obs.probe + (f":{obs.port}" if obs.port else "") + (obs.path or "")
        return Evidence(source=where, detail=f"fingerprint {self.entry.id} ({self.entry.location}) "
                                              f"matched {obs.field} {_snippet(self.observation.value, self.entry)}")


def _snippet(value: str, entry: Entry, width: int = 120) -> str:
    match = entry.regex.search(value[:MAX_MATCH_CHARS])
    text = match.group(0) if match else value
    text = text if len(text) <= width else text[: width - 3] + "..."
    return repr(text)


MAX_REMEMBERED = 50_000     # distinct (field, path, value) whose matches are kept; then start afresh
MAX_REMEMBERED_CHARS = 4096  # longer values (page bodies) are matched each time: they would hold memory


def match_observations(observations: list[Observation], db: FingerprintDB) -> list[Hit]:
    """Every fingerprint entry that matches one of ``observations``. The entries that matched a
    value are remembered: the database's regexes then run once per distinct value, not per device."""
    hits: list[Hit] = []
    remembered = db.matched
    for obs in observations:
        entries = db.by_field.get(obs.field)
        if not entries:
            continue
        value = obs.value[:MAX_MATCH_CHARS]
        key = (obs.field, obs.path, value)
        found = remembered.get(key) if len(value) <= MAX_REMEMBERED_CHARS else None
        if found is None:
            found = []
            for entry in entries:
                if entry.path is not None and entry.path != obs.path:
                    continue
                match = entry.regex.search(value)
                if match:
                    found.append((entry, entry.conclusions(match)))
            if len(value) <= MAX_REMEMBERED_CHARS:
                if len(remembered) >= MAX_REMEMBERED:
                    remembered.clear()
                remembered[key] = found
        hits.extend(Hit(entry, obs, dict(facts)) for entry, facts in found)
    return hits


def identify_device(device: Device, db: FingerprintDB | None = None) -> Identity:
    """What ``device``'s observations say it is: vendor, model, firmware, class, capabilities, why."""
    db = db or default_db()
    known = {(o.field, o.value, o.port, o.path) for o in device.observations}
    derived = [o for o in base_observations(device) if (o.field, o.value, o.port, o.path) not in known]
    observations = [*device.observations, *derived]
    hits = match_observations(observations, db)
    software = [h for h in hits if h.vendor and h.entry.field not in HARDWARE_FIELDS]
    hardware = [h for h in hits if h.vendor and h.entry.field in HARDWARE_FIELDS]
    vendor = _best_vendor(software) or _best_vendor(hardware)
    if vendor is None:
        seen = ", ".join(sorted({o.field for o in observations})) or "nothing"
        return Identity(observations=derived, evidence=[Evidence(
            "identify", f"not identified: no fingerprint matched enough evidence (observed: {seen})")])
    family = set(db.maker_chain(vendor))
    support = [h for h in hits if h.vendor in family or (h.vendor is None and h.entry.field not in HARDWARE_FIELDS)]
    support.sort(key=lambda h: h.entry.confidence, reverse=True)
    caps: list[str] = []
    for hit in support:
        for cap in hit.facts.get("capabilities") or []:
            if cap not in caps:
                caps.append(cap)
    status = dict.fromkeys(caps, "supported")  # the product offers it; whether it is in use is unknown
    reported, reported_evidence = device_reported(observations)
    for cap, state in reported.items():  # the device's own word (an authenticated check) wins
        if state == "unsupported":
            caps = [c for c in caps if c != cap]
            status.pop(cap, None)
        else:
            if cap not in caps:
                caps.append(cap)
            status[cap] = state
    miss = 1.0
    for hit in support:
        miss *= 1.0 - hit.entry.confidence
    evidence = [h.evidence() for h in support] + reported_evidence
    for hit in hits:
        if hit.vendor and hit.vendor not in family:
            note = " (hardware relabelled: OEM NIC)" if hit.entry.field in HARDWARE_FIELDS else ""
            evidence.append(Evidence("identify", f"fingerprint {hit.entry.id} said {hit.vendor}, "
                                                 f"outweighed by evidence for {vendor}{note}"))
    return Identity(vendor=vendor, model=_first(support, "model"), firmware=_first(support, "firmware"),
                    device_class=_first(support, "device_class") or "unknown", capabilities=caps,
                    capability_status=status,
                    confidence=round(1.0 - miss, 3), evidence=evidence, observations=derived)


def device_reported(observations: list[Observation]) -> tuple[dict[str, str], list[Evidence]]:
    """Capabilities a device reported itself (``capability.<name>`` observations of an authenticated
    check): name -> supported | enabled | disabled | unsupported, with the evidence."""
    found: dict[str, str] = {}
    evidence: list[Evidence] = []
    for obs in observations:
        if not obs.field.startswith("capability."):
            continue
        name = obs.field[len("capability."):]
        found[name] = obs.value
        evidence.append(Evidence(f"{obs.probe}:{obs.port}{obs.path or ''}",
                                 f"the device itself reports {name}: {obs.value}", "capability", 0.95))
    return found, evidence


def _best_vendor(hits: list[Hit]) -> str | None:
    scores: dict[str, float] = defaultdict(lambda: 1.0)
    for hit in hits:
        scores[hit.vendor] *= 1.0 - hit.entry.confidence  # type: ignore[index]
    if not scores:
        return None
    vendor, miss = min(scores.items(), key=lambda kv: (kv[1], kv[0]))
    return vendor if 1.0 - miss >= MIN_VENDOR_CONFIDENCE else None


def _first(hits: list[Hit], key: str) -> Any:
    for hit in hits:
        value = hit.facts.get(key)
        if value:
            return value
    return None


def identify(devices: list[Device], db: FingerprintDB | None = None) -> dict[str, Identity]:
    """Identify stage over a whole scan: each device's identity, by IP address."""
    db = db or default_db()
    return {device.ip: identify_device(device, db) for device in devices}
