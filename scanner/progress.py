"""A one-line progress display on stderr for long scans; silent when stderr is not a terminal.

The stages never print: they report counts to this observer, which the CLI creates.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO


class Progress:
    def __init__(self, stream: TextIO | None = None, enabled: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.counts: dict[str, str] = {}
        self.started = time.monotonic()
        self.lock = threading.Lock()
        self.width = 0

    def update(self, **counts: object) -> None:
        if not self.enabled:
            return
        with self.lock:
            self.counts.update({k: str(v) for k, v in counts.items()})
            parts = " | ".join(f"{k.replace('_', ' ')} {v}" for k, v in self.counts.items())
            line = f"cityscan [{time.monotonic() - self.started:5.0f} s] {parts}"
            self.stream.write("\r" + line.ljust(self.width))
            self.width = len(line)
            self.stream.flush()

    def done(self) -> None:
        if self.enabled and self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()
            self.width = 0
