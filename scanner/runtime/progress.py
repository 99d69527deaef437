"""A one-line progress display on stderr for long scans; silent when stderr is not a terminal.

The stages never print: they report counts to this observer, which the CLI creates.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO


class Progress:
    """``plain``: one line per change instead of a line redrawn in place (``--verbose``, for logs)."""

    def __init__(self, stream: TextIO | None = None, enabled: bool | None = None, plain: bool = False) -> None:
        self.stream = stream or sys.stderr
        self.plain = plain
        self.enabled = plain or (self.stream.isatty() if enabled is None else enabled)
        self.counts: dict[str, str] = {}
        self.started = time.monotonic()
        self.lock = threading.Lock()
        self.width = 0

    def update(self, **counts: object) -> None:
        if not self.enabled:
            return
        with self.lock:
            if self.plain:
                parts = " | ".join(f"{k.replace('_', ' ')} {v}" for k, v in counts.items())
                self.stream.write(f"cityscan [{time.monotonic() - self.started:5.0f} s] {parts}\n")
                self.stream.flush()
                return
            self.counts.update({k: str(v) for k, v in counts.items()})
            parts = " | ".join(f"{k.replace('_', ' ')} {v}" for k, v in self.counts.items())
            line = f"cityscan [{time.monotonic() - self.started:5.0f} s] {parts}"
            self.stream.write("\r" + line.ljust(self.width))
            self.width = len(line)
            self.stream.flush()

    def done(self) -> None:
        if self.enabled and not self.plain and self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()
            self.width = 0
