"""Stop a scan cleanly on SIGINT/SIGTERM: keep what was collected, mark it partial, exit 130/143.

A scheduled scan is stopped by systemd (SIGTERM) or a person (Ctrl-C, SIGINT). Either way the
devices already found are worth keeping, so the handlers below raise :class:`ScanInterrupted`
in the main thread (like KeyboardInterrupt, which SIGINT would otherwise raise) and set an
event that probe threads can poll. The pipeline attaches its partial result to the exception;
the CLI saves it inside :meth:`Interrupt.deferred`. A second signal means "now": the process exits
at once (128 + signal), removing the temporary files of writes in flight. Nothing is torn by that:
reports are replaced atomically and a store transaction that did not commit is rolled back.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from scanner.model import ScanResult

HANDLED: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM)
_active: list[Interrupt] = []  # signal handlers are per process, so is this
# What an immediate exit must not leave behind: child processes (nmap, tcpdump capturing city
# traffic with no time limit of its own) and temporary files (a capture's pcap).
_children: set[Any] = set()
_files: set[str] = set()


def end_with_us(proc: Any) -> None:
    """``proc`` (a subprocess.Popen) is killed if a second signal makes cityscan exit at once."""
    _children.add(proc)


def release(proc: Any) -> None:
    _children.discard(proc)


def remove_with_us(path: str) -> None:
    """``path`` (a temporary file) is removed if a second signal makes cityscan exit at once."""
    _files.add(path)


def forget(path: str) -> None:
    _files.discard(path)


class ScanInterrupted(BaseException):
    """A stop signal arrived. A BaseException so that a probe's ``except Exception`` cannot swallow it."""

    def __init__(self, signum: int, result: ScanResult | None = None) -> None:
        super().__init__(signum)
        self.signum = signum
        self.result = result  # set by the pipeline: what was collected before the signal

    @property
    def exit_code(self) -> int:
        """128 + signal number, as a shell reports a signal death: 130 for SIGINT, 143 for SIGTERM."""
        return 128 + self.signum

    @property
    def signal_name(self) -> str:
        try:
            return signal.Signals(self.signum).name
        except ValueError:
            return f"signal {self.signum}"

    def __str__(self) -> str:
        return f"interrupted by {self.signal_name}"


class Interrupt:
    """What the handlers saw. ``event`` is for worker threads, which signals never interrupt."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.event = threading.Event()
        self._deferred = 0
        self._raised = False

    def is_set(self) -> bool:
        return self.event.is_set()

    def check(self) -> None:
        """Raise :class:`ScanInterrupted` if a signal arrived (for loops that want a clean stop point)."""
        if self.signum is not None:
            self._raised = True
            raise ScanInterrupted(self.signum)

    @contextmanager
    def deferred(self) -> Iterator[None]:
        """Signals inside only set the flag, so a save or a report write is never cut in half.

        A signal that arrived inside is raised when the block ends, unless one was raised already
        (then we are in the clean-up of that one and it would only abort the clean-up).
        """
        self._deferred += 1
        try:
            yield
        finally:
            self._deferred -= 1
        if self._deferred == 0 and self.signum is not None and not self._raised:
            self._raised = True
            raise ScanInterrupted(self.signum)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is not None:  # the second signal: whoever sent it will not wait for the clean-up
            exit_now(signum)
        self.signum = signum
        self.event.set()
        if self._deferred:
            return
        self._raised = True
        raise ScanInterrupted(signum)


def exit_now(signum: int) -> None:
    """Leave at once with 128 + ``signum``: no clean-up code runs, but child processes are killed
    and temporary files removed (a report being written keeps its old content)."""
    from scanner.runtime.output import discard_pending_writes  # here: the handler must not fail on import

    for proc in list(_children):
        try:
            proc.kill()
        except Exception:  # noqa: BLE001 - already gone; nothing may stop the exit
            pass
    for path in list(_files):
        try:
            os.unlink(path)
        except OSError:
            pass
    discard_pending_writes()
    try:
        name = signal.Signals(signum).name
    except ValueError:
        name = f"signal {signum}"
    try:
        os.write(2, f"cityscan: second {name}: exiting at once; what was not yet written is not kept\n".encode())
    finally:
        os._exit(128 + signum)


def stop_requested() -> bool:
    """True once a stop signal arrived: probe threads poll this (signals only reach the main thread)."""
    return bool(_active) and _active[-1].is_set()


@contextmanager
def deferred() -> Iterator[None]:
    """:meth:`Interrupt.deferred` of the active handlers, so the pipeline needs no Interrupt passed in."""
    if not _active:
        yield
        return
    with _active[-1].deferred():
        yield


@contextmanager
def interruptible(signals: tuple[signal.Signals, ...] = HANDLED) -> Iterator[Interrupt]:
    """Install the handlers for the block and restore the previous ones after it.

    Outside the main thread (a library user's worker) nothing is installed: Python only lets
    the main thread handle signals, and the returned Interrupt then simply never fires.
    """
    state = Interrupt()
    previous: dict[signal.Signals, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for sig in signals:
            previous[sig] = signal.signal(sig, state._handle)
    _active.append(state)
    try:
        yield state
    finally:
        _active.remove(state)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
