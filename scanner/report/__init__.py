"""Report stage: one module per output format, each a function ``ScanResult -> str``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from scanner.model import ScanResult
from scanner.report import (
    csv_report,
    html_report,
    json_report,
    junit,
    markdown_report,
    sarif,
    table,
)


@dataclass(frozen=True)
class RenderOptions:
    """What some formats need beyond the result: the CI gate, the CSV table to write, and the width
    of the terminal the table is for (None: not a terminal, no limit)."""

    fail_on: str = "high"
    csv_kind: str = "findings"
    width: int | None = None


Renderer = Callable[[ScanResult, RenderOptions], str]

FORMATS: dict[str, Renderer] = {
    "table": lambda result, options: table.render(result, options.width),
    "json": lambda result, _: json_report.render(result),
    "csv": lambda result, options: csv_report.render_kind(result, options.csv_kind),
    "sarif": lambda result, _: sarif.render(result),
    "junit": lambda result, options: junit.render_junit(result, fail_on=options.fail_on),
    "markdown": lambda result, _: markdown_report.render(result),
    "html": lambda result, _: html_report.render(result),
}
EXTENSIONS = {"table": "txt", "json": "json", "csv": "csv", "sarif": "sarif", "junit": "xml", "html": "html",
              "markdown": "md"}


def render(result: ScanResult, fmt: str, options: RenderOptions | None = None) -> str:
    return FORMATS[fmt](result, options or RenderOptions())
