"""Report stage: one module per output format, each a function ``ScanResult -> str``."""

from __future__ import annotations

from collections.abc import Callable

from ..model import ScanResult
from . import json_report, table

Renderer = Callable[[ScanResult], str]

FORMATS: dict[str, Renderer] = {
    "table": table.render,
    "json": json_report.render,
}


def render(result: ScanResult, fmt: str) -> str:
    return FORMATS[fmt](result)
