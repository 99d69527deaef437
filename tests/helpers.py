"""Small builders for tests: devices, results and policies from plain values."""

from __future__ import annotations

from pathlib import Path

from scanner.judge.policy import Policy, load_policy
from scanner.model import (
    Destination,
    Device,
    Observation,
    ScanInfo,
    ScanResult,
    Service,
)

# Real device responses, each taken from the fingerprint database's cited examples.
HIKVISION_DEVICEINFO = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<DeviceInfo version="2.0" xmlns="http://www.hikvision.com/ver20/XMLSchema">\n'
    "<deviceName>yard</deviceName>\n<model>DS-2CD2386G2-IU</model>\n"
    "<firmwareVersion>V5.7.15</firmwareVersion>\n<firmwareReleasedDate>build 240201</firmwareReleasedDate>\n"
    "<deviceType>IPCamera</deviceType>\n</DeviceInfo>\n"
)


def device(ip: str = "198.51.100.50", mac: str | None = None, observations: list[tuple[str, str, str | None]] = (),
           **kwargs: object) -> Device:
    obs = [Observation(f, v, "http-get" if f.startswith("http.") else "test", 80 if p else None, p)
           for f, v, p in observations]
    return Device(ip=ip, mac=mac, observations=obs, **kwargs)  # type: ignore[arg-type]


def result(devices: list[Device], destinations: list[Destination] = ()) -> ScanResult:  # type: ignore[assignment]
    return ScanResult(scan=ScanInfo(started_at="2026-11-22T00:00:00Z"), devices=list(devices),
                      destinations=list(destinations), tool={"name": "cityscan", "version": "test"})


def policy(tmp_path: Path, text: str) -> Policy:
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    return load_policy(path)


def http(port: int = 80) -> Service:
    return Service(port=port, transport="tcp", name="http")
