"""How fast and how long the collect stage may talk to devices."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Timing:
    """nmap timing and probe bounds; defaults are gentle on fragile OT/IoT devices."""

    template: int = 3
    max_rate: int | None = None
    host_timeout: int = 120
    max_retries: int = 2
    probe_timeout: float = 3.0
    probe_workers: int = 16
