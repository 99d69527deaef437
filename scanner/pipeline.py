"""The scan pipeline: discover -> probe -> identify -> resolve -> evaluate.

Each stage is a plain function over the model; this module only chains them for one scan
request. The CLI builds the request; library users can call the stages one by one.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field

from . import __version__
from .config import Timing
from .discover import import_nmap_xml, merge_devices, scan_live
from .errors import InputError
from .evaluate import evaluate
from .identify import identify
from .model import ScanInfo, ScanResult
from .policy import Policy
from .online import OnlineLookups
from .probes import ProbeOptions, probe
from .progress import Progress
from .resolve import resolve
from .scope import Network, Scope
from .waivers import Waiver


@dataclass
class ScanRequest:
    targets: list[Network] = field(default_factory=list)
    scope: Scope = field(default_factory=lambda: Scope(()))
    nmap_xml: list[str] = field(default_factory=list)
    flows: list[str] = field(default_factory=list)
    ports: str | None = None
    timing: Timing = field(default_factory=Timing)
    policy: Policy | None = None
    waivers: list[Waiver] = field(default_factory=list)
    offline: bool = True
    online: OnlineLookups | None = None
    snmp_community: str = "public"
    progress: Progress | None = None


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def check_readable(paths: list[str], what: str) -> None:
    """Input files are checked before any packet is sent, so a typo costs nothing."""
    for path in paths:
        if not os.path.exists(path):
            raise InputError(f"{what}: no such file", path)
        if os.path.isdir(path):
            raise InputError(f"{what}: is a directory, not a file", path)
        if not os.access(path, os.R_OK):
            raise InputError(f"{what}: not readable", path)


def new_result(request: ScanRequest) -> ScanResult:
    return ScanResult(
        tool={"name": "cityscan", "version": __version__},
        scan=ScanInfo(started_at=now_iso(), targets=[str(t) for t in request.targets],
                      scope=request.scope.as_strings(), offline=request.offline,
                      policy=request.policy.summary() if request.policy else None),
    )


def flow_summary(request: ScanRequest) -> None:
    """Traffic records of ``--flows`` files (their readers land with the flows issue)."""
    return None


def run_scan(request: ScanRequest) -> ScanResult:
    request.scope.check(request.targets)
    check_readable(request.nmap_xml, "nmap XML")
    check_readable(request.flows, "flows")
    result = new_result(request)
    if request.nmap_xml:
        devices, errors, inputs = import_nmap_xml(request.nmap_xml)
        result.devices = merge_devices(result.devices, devices)
        result.errors.extend(errors)
        result.scan.inputs.extend(inputs)
    result.scan.inputs.extend({"kind": "flows", "path": p} for p in request.flows)
    if request.targets:
        if request.progress:
            request.progress.update(discovering=", ".join(map(str, request.targets)))
        devices, errors, version = scan_live(request.targets, request.scope, request.ports, request.timing)
        result.devices = merge_devices(result.devices, devices)
        result.errors.extend(errors)
        result.scan.nmap_version = version or None
        result.scan.inputs.append({"kind": "nmap-live", "targets": ", ".join(map(str, request.targets))})
        if request.progress:
            request.progress.update(hosts_found=len(result.devices))
        probe(result, request.scope, ProbeOptions(timing=request.timing, snmp_community=request.snmp_community),
              progress=request.progress)
    identify(result)
    if request.progress:
        request.progress.update(identified=sum(1 for d in result.devices if d.vendor))
    resolve(result, flow_summary(request), None if request.offline else request.online)
    if request.policy is not None:
        evaluate(result, request.policy, request.waivers)
    result.scan.finished_at = now_iso()
    if request.progress:
        request.progress.done()
    return result
