"""The closed vocabularies of the result: severities, device classes, capabilities.

They are part of the JSON contract (README, ``scan-result.schema.json``), so every stage, data
file and report uses these tuples and nothing else.
"""

from __future__ import annotations

SCHEMA_VERSION = 1

SEVERITIES: tuple[str, ...] = ("info", "low", "medium", "high", "critical")
# What ``--fail-on`` accepts: a severity, or ``none`` (never fail).
FAIL_ON: tuple[str, ...] = (*SEVERITIES, "none")

# Device classes, each with the one-line definition docs/data-formats.md repeats (a test checks).
CLASS_DEFINITIONS: dict[str, str] = {
    "camera": "a network video camera (fixed, PTZ, thermal, ANPR)",
    "nvr": "a network video recorder: records and forwards the streams of several cameras",
    "vms-server": "a video management system server (software on a general-purpose host)",
    "wifi-tracker": "a sensor that detects phones by their wifi probe requests to count or follow people",
    "bluetooth-tracker": "a sensor that detects phones and cars by their bluetooth addresses (travel times, flows)",
    "people-counter": "a sensor that counts people optically (camera, 3D, thermal), not by their phones",
    "access-point": "a wifi access point",
    "wireless-controller": "a controller that manages access points (and can feed a location engine)",
    "switch": "an Ethernet switch",
    "router": "a router, cellular router or gateway to the internet",
    "firewall": "a firewall or VPN gateway",
    "iot-gateway": "a gateway for sensor networks (LoRaWAN, Zigbee, Modbus, serial) to IP",
    "street-light-controller": "a controller or node that switches, dims or monitors street lights",
    "traffic-controller": "a traffic-signal controller, traffic detector or variable message sign",
    "parking-sensor": "a parking-bay sensor or parking guidance controller",
    "plc": "a programmable logic controller or other industrial control device",
    "building-automation": "a building management controller (HVAC, lighting, BACnet/KNX)",
    "meter": "a utility meter or meter data concentrator (electricity, water, gas, heat)",
    "access-control": "a door access-control panel, card or biometric reader",
    "weather-station": "a weather or road-weather station",
    "sensor": "an environmental or other sensor not listed above (air quality, noise, temperature)",
    "unknown": "not identified: the scan saw too little to say",
}
DEVICE_CLASSES: tuple[str, ...] = tuple(CLASS_DEFINITIONS)

# Capabilities a device's make and model (or a read-only probe) shows it has.
CAPABILITY_DEFINITIONS: dict[str, str] = {
    "video": "records or streams video",
    "audio": "records or streams audio",
    "ptz": "pan, tilt and zoom",
    "thermal": "thermal imaging",
    "wifi-probe-capture": "records the wifi probe requests (MAC addresses) of passers-by's phones",
    "bluetooth-scan": "records the bluetooth addresses of passers-by's phones, headsets and cars",
    "location-analytics": "can send the positions of wifi clients and probing phones to a location engine",
    "people-counting": "counts people (optically, without identifying them)",
    "crowd-analytics": "analyses crowd density or behaviour",
    "face-detection": "finds faces in the image (for focus, exposure or masking); identifies nobody",
    "face-capture": "sends face crops off the device: the input of face recognition elsewhere",
    "face-recognition": "matches faces against a list of people: biometric identification",
    "licence-plate-recognition": "reads vehicle licence plates (ANPR/LPR)",
    "cloud-p2p": "connects to the vendor's cloud or peer-to-peer relay",
    "lora": "LoRa/LoRaWAN radio",
    "cellular": "cellular (LTE/5G) uplink",
}
CAPABILITIES: tuple[str, ...] = tuple(CAPABILITY_DEFINITIONS)
# How sure the scan is that a capability is in use: the product supports it, a probe read it on or off.
CAPABILITY_STATES: tuple[str, ...] = ("supported", "enabled", "disabled", "unknown")

# A rule's verdict in a result (``rules[].status``).
RULE_STATUSES: tuple[str, ...] = ("findings", "passed", "not-assessable")


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

# How much of each raw observation a result keeps (scan --evidence): compact cuts long values.
EVIDENCE_MODES = ("compact", "full")
