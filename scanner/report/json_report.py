"""The JSON result: the machine-readable contract (``scanner/model/scan-result.schema.json``)."""

from __future__ import annotations

import json

from scanner.model import ScanResult


def render(result: ScanResult) -> str:
    return json.dumps(result.to_dict(), indent=2, ensure_ascii=True) + "\n"
