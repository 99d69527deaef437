"""The scan pipeline: collect -> identify -> resolve -> judge. Orchestration only.

Each stage is a function that reads model objects and returns values; this module is the one
place that writes those values into the :class:`~scanner.model.ScanResult`. The CLI builds a
:class:`ScanRequest`; library users can call :func:`identify`, :func:`resolve` and :func:`judge`
on a stored result, or the stages themselves.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from dataclasses import dataclass, field

from scanner import __version__
from scanner.collect.capture import CaptureOutcome, LiveCapture
from scanner.collect.credentials import Credential
from scanner.collect.flows.live import STOP_GRACE
from scanner.collect.flows.summary import summarize_file
from scanner.collect.nmap import (
    OT_UNPRIVILEGED,
    UNPRIVILEGED,
    import_nmap_xml,
    merge_devices,
    privileged,
    scan_live,
    valid_ports,
)
from scanner.collect.probes import ProbeOptions, in_scope, probe
from scanner.collect.probes.authenticated import run_checks
from scanner.collect.scope import Network, Scope
from scanner.collect.timing import Timing
from scanner.errors import InputError
from scanner.identify import identify as identify_stage
from scanner.identify import match_observations
from scanner.judge.evaluate import evaluate
from scanner.judge.policy import Policy
from scanner.judge.inventory import Expected
from scanner.judge.waivers import Waiver
from scanner.knowledge.fingerprints import FingerprintDB
from scanner.knowledge.loader import (
    default_db,
    capability_checks,
    datasets_in_use,
    site_db,
    site_fingerprints,
)
from scanner.model import Device, ScanError, ScanInfo, ScanResult
from scanner.model.flows import FlowSummary
from scanner.resolve import describe_countries
from scanner.resolve import resolve as resolve_stage
from scanner.resolve.online import OnlineLookups
from scanner.runtime.collection import fewer_collections
from scanner.runtime.interrupt import ScanInterrupted, deferred
from scanner.runtime.progress import Progress


@dataclass
class ScanRequest:
    targets: list[Network] = field(default_factory=list)
    scope: Scope = field(default_factory=lambda: Scope(()))
    nmap_xml: list[str] = field(default_factory=list)
    flows: list[str] = field(default_factory=list)
    flows_format: str | None = None
    capture_iface: str | None = None
    capture_seconds: int = 30
    ports: str | None = None
    ot: bool = False   # --ot: also the OT ports and nmap's read-only OT identification scripts (opt-in)
    timing: Timing = field(default_factory=Timing)
    policy: Policy | None = None
    waivers: list[Waiver] = field(default_factory=list)
    inventory: list[Expected] | None = None   # --inventory: the devices the segment should hold
    offline: bool = True
    online: OnlineLookups | None = None
    snmp_community: str = "public"
    credentials: list[Credential] = field(default_factory=list)  # opt-in authenticated checks
    site: str | None = None
    fingerprints: list[str] = field(default_factory=list)   # a site's own fingerprint directories
    evidence: str = "compact"   # compact: long raw observations cut to COMPACT_CHARS in the result; full: kept
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
                      policy=request.policy.summary() if request.policy else None, site=request.site),
    )


def flow_summary(paths: list[str], fmt: str | None = None, summary: FlowSummary | None = None) -> FlowSummary | None:
    """Every ``--flows`` file folded into one summary. Read before any packet is sent, so a
    malformed log stops the run (exit 2, file and line) before it has cost scan time."""
    with fewer_collections():
        for path in paths:
            summary = summarize_file(path, fmt, summary)
    return summary


# --- the stages, applied to a result -----------------------------------------------------------

def identify(result: ScanResult, db: FingerprintDB | None = None) -> ScanResult:
    """Identify every device of ``result`` (again), in place."""
    identities = identify_stage(result.devices, db)
    for device in result.devices:
        device.apply_identity(identities[device.ip])
    return result


def resolve(result: ScanResult, summary: FlowSummary | None = None, online: OnlineLookups | None = None,
            db: FingerprintDB | None = None) -> ScanResult:
    """Find and enrich the destinations of ``result``'s devices, in place."""
    with fewer_collections():
        found = resolve_stage(result, summary, online, db)
    result.devices.extend(found.new_devices)
    result.destinations = found.destinations
    result.countries = found.countries
    result.errors.extend(found.errors)
    return result


def judge(result: ScanResult, policy: Policy, waivers: list[Waiver] | None = None,
          db: FingerprintDB | None = None, inventory: list[Expected] | None = None) -> ScanResult:
    """Judge ``result`` by ``policy`` (replacing an earlier judgement), in place."""
    verdict = evaluate(result, policy, waivers, db, inventory)
    result.findings = verdict.findings
    result.scan.policy = verdict.policy
    result.waivers = verdict.waivers
    result.rules = verdict.rules
    return result


def describe(result: ScanResult) -> ScanResult:
    """Add what reports need and an older stored result lacks: the countries it names."""
    codes = {c for d in result.destinations for c in [d.country, *d.jurisdictions] if c}
    if codes - result.countries.keys():
        result.countries = {**describe_countries(codes), **result.countries}
    return result


# --- one scan ------------------------------------------------------------------------------------

def _db(request: ScanRequest) -> FingerprintDB | None:
    """The shipped fingerprints, plus the site's own directories when the request names some."""
    return site_db(tuple(request.fingerprints)) if request.fingerprints else None


def _collect(request: ScanRequest, result: ScanResult) -> None:
    """Discovery and probes: the stages that touch the network, and the ones a stop signal cuts short."""
    if request.nmap_xml:
        read: list[Device] = []
        try:
            devices, errors, inputs = import_nmap_xml(request.nmap_xml, read)
        except ScanInterrupted:
            result.devices = merge_devices(result.devices, read)  # the hosts read before the signal are kept
            result.errors.append(ScanError("discover", f"nmap XML import stopped by the signal after "
                                                       f"{len(read):,} hosts; the rest of the file was not read"))
            raise
        result.devices = merge_devices(result.devices, devices)
        result.errors.extend(errors)
        result.scan.inputs.extend(inputs)
    if request.targets:
        if request.progress:
            request.progress.update(discovering=", ".join(map(str, request.targets)))
        devices, errors, version = scan_live(request.targets, request.scope, request.ports, request.timing,
                                             ot=request.ot)
        result.devices = merge_devices(result.devices, devices)
        result.errors.extend(errors)
        result.scan.nmap_version = version or None
        live = {"kind": "nmap-live", "targets": ", ".join(map(str, request.targets)),
                "mode": "privileged" if privileged() else "unprivileged"}
        if request.ot:
            live["ot"] = "tcp+udp" if privileged() else "tcp"
        result.scan.inputs.append(live)
        if not privileged():  # said in the result too, so a report explains the missing MAC addresses
            result.errors.append(ScanError("nmap", UNPRIVILEGED))
            if request.ot:
                result.errors.append(ScanError("nmap", OT_UNPRIVILEGED))
        if request.progress:
            request.progress.update(hosts_found=len(result.devices))
        targets, skipped = in_scope(result.devices, request.scope)
        result.errors.extend(skipped)
        if targets:
            started = time.monotonic()
            options = ProbeOptions(timing=request.timing, snmp_community=request.snmp_community)
            for device, observations, errors in probe(targets, options, db=_db(request), progress=request.progress):
                known = {(o.field, o.value, o.port, o.path) for o in device.observations}
                device.observations.extend(o for o in observations if (o.field, o.value, o.port, o.path) not in known)
                result.errors.extend(errors)
            result.scan.inputs.append({"kind": "probes", "devices": str(len(targets)),
                                       "seconds": f"{time.monotonic() - started:.1f}"})
            if request.credentials:
                _authenticated(request, result, targets)


def _authenticated(request: ScanRequest, result: ScanResult, targets: list[Device]) -> None:
    """The opt-in authenticated checks need the vendor: identify first, then ask the matching devices."""
    identify(result, _db(request))
    checked = 0
    for device, observations, errors in run_checks(targets, request.credentials, list(capability_checks()),
                                                   request.timing.probe_timeout):
        checked += 1
        device.observations.extend(observations)
        result.errors.extend(errors)
    # which devices were asked is recorded; who asked, with which password, never is
    result.scan.inputs.append({"kind": "authenticated-checks", "devices": str(checked)})


def _captured(result: ScanResult, outcome: CaptureOutcome) -> FlowSummary | None:
    result.errors.extend(outcome.errors)
    if outcome.input is not None:
        result.scan.inputs.append(outcome.input)
    return outcome.summary


COMPACT_CHARS = 2048  # of one raw observation (an HTTP body, a banner) kept in a compact result


def compact_evidence(result: ScanResult, db: FingerprintDB | None = None, keep: int = COMPACT_CHARS) -> int:
    """Cut every observation value longer than ``keep`` characters that no fingerprint matches,
    saying so in the value. Returns how many were cut.

    Identification has used the whole values by then, and a value a fingerprint matched is kept
    whole, so ``explain`` and a later re-identification reach the same identity. What goes is the
    rest: a city's 20,000 devices with several 16 KB page bodies each would make a result too
    large to handle. ``--evidence full`` keeps everything.
    """
    db = db or default_db()
    cut = 0
    for device in result.devices:
        for obs in device.observations:
            if len(obs.value) > keep and not match_observations([obs], db):
                obs.value = f"{obs.value[:keep]}[... {len(obs.value) - keep:,} more characters not kept: --evidence full]"
                cut += 1
    return cut


STOP_BUDGET = 3.0     # seconds the offline stages may still take after a stop signal
IDENTIFY_CHUNK = 500  # devices identified between two looks at the clock


@dataclass
class _Stages:
    """How far the offline stages got, so the clean-up after a signal goes on from there."""

    identified: int = 0     # result.devices[:identified] carry their identity
    resolved: bool = False
    judged: bool = False


def _finish(request: ScanRequest, result: ScanResult, summary: FlowSummary | None, stages: _Stages,
            online: bool = True, deadline: float | None = None) -> None:
    """The offline stages: identify, resolve, judge. After a stop signal (``deadline`` set) they go on
    from where they were and stop when the budget is spent, saying what was not done."""
    db = _db(request)

    def late() -> bool:
        return deadline is not None and time.monotonic() > deadline

    devices = result.devices
    while stages.identified < len(devices) and not late():
        chunk = devices[stages.identified:stages.identified + IDENTIFY_CHUNK]
        identities = identify_stage(chunk, db)
        for device in chunk:
            device.apply_identity(identities[device.ip])
        stages.identified += len(chunk)
    if request.progress:
        request.progress.update(identified=sum(1 for d in result.devices if d.vendor))
    cut: list[str] = []
    if stages.identified < len(devices):
        cut.append(f"identification of {len(devices) - stages.identified:,} of {len(devices):,} devices")
    if not stages.resolved and not late():
        resolve(result, summary, None if request.offline or not online else request.online, db)
        stages.resolved = True
    elif not stages.resolved:
        cut.append("destination resolution")
    if request.policy is not None and not stages.judged:
        if cut or late():  # judging half-identified devices would report them as unidentifiable
            cut.append("the policy judgement")
        else:
            judge(result, request.policy, request.waivers, db, request.inventory)
            stages.judged = True
    if cut:
        result.errors.append(ScanError("scan", f"not done after the stop signal (budget {STOP_BUDGET:g} s): "
                                               f"{', '.join(cut)}; the devices found are kept"))
    data = list(datasets_in_use()) + ([site_fingerprints(tuple(request.fingerprints))] if request.fingerprints else [])
    result.scan.data = [d.to_dict() for d in data]  # reports say which are old
    if request.evidence == "compact" and not any(i.get("kind") == "evidence" for i in result.scan.inputs):
        mark = {"kind": "evidence", "mode": "compact", "kept_characters": str(COMPACT_CHARS), "cut": "0"}
        result.scan.inputs.append(mark)  # first: a clean-up after a signal in here must not cut twice
        mark["cut"] = str(compact_evidence(result, db))
    result.scan.finished_at = now_iso()


def run_scan(request: ScanRequest) -> ScanResult:
    """One scan. A stop signal (:class:`ScanInterrupted`) leaves with the partial result attached."""
    request.scope.check(request.targets)
    if request.ports is not None and not valid_ports(request.ports):
        raise InputError(f"--ports {request.ports[:80]!r} is not a port list like '80,443,8000-8100'")
    check_readable(request.nmap_xml, "nmap XML")
    check_readable(request.flows, "flows")
    if request.capture_iface and not request.targets:
        raise InputError("--capture needs TARGETS: it runs beside a live scan")
    result = new_result(request)
    summary = flow_summary(request.flows, request.flows_format)
    result.scan.inputs.extend({"kind": "flows", "path": p} for p in request.flows)
    if summary is not None:  # how much traffic there was: an empty log shows nothing, and rules must know
        result.scan.inputs.append({"kind": "traffic", "records": str(summary.records),
                                   "dns_answers": str(summary.dns_answers)})
    live = LiveCapture(request.capture_iface, request.capture_seconds) if request.capture_iface else None
    stages = _Stages()
    try:
        _collect(request, result)
        if live is not None:
            if request.progress:
                request.progress.update(capturing=f"until {request.capture_seconds} s after the start")
            summary = _captured(result, live.finish(summary))
        _finish(request, result, summary, stages)  # online look-ups can take a while: a stop here keeps the scan
    except ScanInterrupted as stop:
        with deferred():  # the clean-up is bounded by STOP_BUDGET; a second signal exits at once
            if live is not None:  # what was captured up to the signal is data like the rest
                live.stop.set()
                summary = _captured(result, live.finish(summary, wait=STOP_GRACE + 2))  # tcpdump is killed by then
            deadline = time.monotonic() + STOP_BUDGET  # the capture had its own bound just above
            result.scan.partial = True
            result.errors.append(ScanError("scan", f"{stop}: partial result, stages after the signal were cut short"))
            _finish(request, result, summary, stages, online=False, deadline=deadline)
        stop.result = result
        raise
    except BaseException:
        if live is not None:
            live.discard()  # tcpdump must not outlive a scan that failed
        raise
    if request.progress:
        request.progress.done()
    return result
