"""A live capture that runs beside discovery and probing, so it adds no time when they are longer.

tcpdump writes to a private temporary file; when the capture's time is up (or a stop signal cuts
it short) the file is read like any other pcap and removed. The outcome is a value the pipeline
merges: the folded traffic, the capture's own problems and an input record.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from scanner.collect.flows import ReadStats, read_flows, summarize
from scanner.collect.flows.live import capture, check_capture
from scanner.errors import CityscanError
from scanner.model import ScanError
from scanner.model.flows import FlowSummary
from scanner.runtime.interrupt import forget, remove_with_us


@dataclass
class CaptureOutcome:
    summary: FlowSummary | None
    errors: list[ScanError] = field(default_factory=list)
    input: dict[str, Any] | None = None


class LiveCapture:
    """tcpdump on ``iface`` for ``seconds``, started at once in a thread of its own."""

    def __init__(self, iface: str, seconds: int) -> None:
        self.iface, self.seconds = iface, seconds
        check_capture(iface, seconds)
        self.failure: BaseException | None = None
        self.stop = threading.Event()
        # Set by the thread when tcpdump is gone. Thread.join()/is_alive() are not used: a signal
        # that interrupts join() can leave is_alive() False while the thread still runs.
        self.done = threading.Event()
        self.consumed = False
        handle, self.path = tempfile.mkstemp(prefix="cityscan-capture-", suffix=".pcap")
        os.close(handle)
        remove_with_us(self.path)  # city traffic: not left in /tmp by an immediate exit either
        self.thread = threading.Thread(target=self._run, name="capture", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            capture(self.iface, self.seconds, self.path, own_addresses=True, stop=self.stop)
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread in finish()
            self.failure = exc
        finally:
            self.done.set()

    def finish(self, summary: FlowSummary | None, wait: float | None = None) -> CaptureOutcome:
        """Wait for the capture's time to run out (or ``wait`` seconds), then fold it into ``summary``.

        A stop signal while waiting leaves the file in place, so the clean-up can still read it.
        """
        if self.consumed:  # already read (a stop signal came later, during the offline stages)
            return CaptureOutcome(summary)
        deadline = None if wait is None else time.monotonic() + wait
        while not self.done.wait(0.2) and (deadline is None or time.monotonic() < deadline):
            pass  # short waits: a stop signal must not wait for the capture
        try:
            if not self.done.is_set():
                return CaptureOutcome(summary, [ScanError("capture", "tcpdump did not stop in time; its capture is "
                                                                     "left out", self.iface)])
            if self.failure is not None and not isinstance(self.failure, CityscanError):
                raise self.failure
            if self.failure is not None:  # the scan's own results still count
                return CaptureOutcome(summary, [ScanError("capture", str(self.failure), self.iface)])
            stats = ReadStats()
            errors = []
            try:
                summary = summarize(read_flows(self.path, "pcap", stats=stats), summary)
            except CityscanError as exc:  # our own file, cut short by a stop: keep what the scan found
                errors.append(ScanError("capture", f"capture could not be read: {exc}", self.iface))
            self.consumed = True
            return CaptureOutcome(summary, errors, {"kind": "capture", "interface": self.iface,
                                                    "seconds": str(self.seconds), "packets": str(stats.units)})
        finally:
            self.discard()

    def discard(self) -> None:
        self.stop.set()
        with contextlib.suppress(OSError):
            os.unlink(self.path)
        forget(self.path)
