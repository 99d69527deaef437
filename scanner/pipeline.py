"""The scan pipeline: discover -> probe -> identify -> resolve -> evaluate.

Each stage is a plain function over the model; this module only chains them for one scan
request. The CLI builds the request; library users can call the stages one by one.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import tempfile
import threading
import time
from dataclasses import dataclass, field

from . import __version__
from .config import Timing
from .discover import import_nmap_xml, merge_devices, scan_live
from .errors import CityscanError, InputError
from .evaluate import evaluate
from .flows import FlowSummary, ReadStats, capture, read_flows, summarize
from .flows.live import STOP_GRACE, check_capture
from .identify import identify
from .interrupt import ScanInterrupted, deferred
from .model import ScanError, ScanInfo, ScanResult
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
    flows_format: str | None = None
    capture_iface: str | None = None
    capture_seconds: int = 30
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


def flow_summary(paths: list[str], fmt: str | None = None, summary: FlowSummary | None = None) -> FlowSummary | None:
    """Every ``--flows`` file folded into one summary. Read before any packet is sent, so a
    malformed log stops the run (exit 2, file and line) before it has cost scan time."""
    for path in paths:
        summary = summarize(read_flows(path, fmt), summary)
    return summary


class _Capture:
    """A live capture that runs beside discovery and probing, so it adds no time when they are longer."""

    def __init__(self, request: ScanRequest) -> None:
        self.request = request
        check_capture(request.capture_iface or "", request.capture_seconds)
        self.failure: BaseException | None = None
        self.stop = threading.Event()
        # Set by the thread when tcpdump is gone. Thread.join()/is_alive() are not used: a signal
        # that interrupts join() can leave is_alive() False while the thread still runs.
        self.done = threading.Event()
        self.consumed = False
        handle, self.path = tempfile.mkstemp(prefix="cityscan-capture-", suffix=".pcap")
        os.close(handle)
        self.thread = threading.Thread(target=self._run, name="capture", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            capture(self.request.capture_iface or "", self.request.capture_seconds, self.path,
                    own_addresses=True, stop=self.stop)
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread in finish()
            self.failure = exc
        finally:
            self.done.set()

    def finish(self, result: ScanResult, summary: FlowSummary | None, wait: float | None = None) -> FlowSummary | None:
        """Wait for the capture's time to run out (or ``wait`` seconds), then read it like any other pcap.

        A stop signal while waiting leaves the file in place, so the clean-up can still read it.
        """
        if self.consumed:  # already read (a stop signal came later, during the offline stages)
            return summary
        deadline = None if wait is None else time.monotonic() + wait
        while not self.done.wait(0.2) and (deadline is None or time.monotonic() < deadline):
            pass  # short waits: a stop signal must not wait for the capture
        iface = self.request.capture_iface
        try:
            if not self.done.is_set():
                result.errors.append(ScanError("capture", "tcpdump did not stop in time; its capture is left out", iface))
                return summary
            if self.failure is not None and not isinstance(self.failure, CityscanError):
                raise self.failure
            if self.failure is not None:  # the scan's own results still count
                result.errors.append(ScanError("capture", str(self.failure), iface))
                return summary
            stats = ReadStats()
            try:
                summary = summarize(read_flows(self.path, "pcap", stats=stats), summary)
            except CityscanError as exc:  # our own file, cut short by a stop: keep what the scan found
                result.errors.append(ScanError("capture", f"capture could not be read: {exc}", iface))
            result.scan.inputs.append({"kind": "capture", "interface": iface or "",
                                       "seconds": str(self.request.capture_seconds), "packets": str(stats.units)})
            self.consumed = True
            return summary
        finally:
            self.discard()

    def discard(self) -> None:
        self.stop.set()
        with contextlib.suppress(OSError):
            os.unlink(self.path)


def _collect(request: ScanRequest, result: ScanResult) -> None:
    """Discovery and probes: the stages that touch the network, and the ones a stop signal cuts short."""
    if request.nmap_xml:
        devices, errors, inputs = import_nmap_xml(request.nmap_xml)
        result.devices = merge_devices(result.devices, devices)
        result.errors.extend(errors)
        result.scan.inputs.extend(inputs)
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


def _finish(request: ScanRequest, result: ScanResult, summary: FlowSummary | None, online: bool = True) -> None:
    """The offline stages: identify, resolve, evaluate. Fast, so a partial scan gets them too."""
    identify(result)
    if request.progress:
        request.progress.update(identified=sum(1 for d in result.devices if d.vendor))
    resolve(result, summary, None if request.offline or not online else request.online)
    if request.policy is not None:
        evaluate(result, request.policy, request.waivers)
    result.scan.finished_at = now_iso()


def run_scan(request: ScanRequest) -> ScanResult:
    """One scan. A stop signal (:class:`ScanInterrupted`) leaves with the partial result attached."""
    request.scope.check(request.targets)
    check_readable(request.nmap_xml, "nmap XML")
    check_readable(request.flows, "flows")
    if request.capture_iface and not request.targets:
        raise InputError("--capture needs TARGETS: it runs beside a live scan")
    result = new_result(request)
    summary = flow_summary(request.flows, request.flows_format)
    result.scan.inputs.extend({"kind": "flows", "path": p} for p in request.flows)
    live = _Capture(request) if request.capture_iface else None
    try:
        _collect(request, result)
        if live is not None:
            if request.progress:
                request.progress.update(capturing=f"until {request.capture_seconds} s after the start")
            summary = live.finish(result, summary)
        _finish(request, result, summary)  # online look-ups can take a while: a stop here keeps the scan too
    except ScanInterrupted as stop:
        with deferred():  # a second signal cannot cut the clean-up short
            if live is not None:  # what was captured up to the signal is data like the rest
                live.stop.set()
                summary = live.finish(result, summary, wait=STOP_GRACE + 2)  # tcpdump is killed by then
            result.scan.partial = True
            result.errors.append(ScanError("scan", f"{stop}: partial result, stages after the signal were cut short"))
            _finish(request, result, summary, online=False)
        stop.result = result
        raise
    except BaseException:
        if live is not None:
            live.discard()  # tcpdump must not outlive a scan that failed
        raise
    if request.progress:
        request.progress.done()
    return result
