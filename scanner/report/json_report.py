"""The JSON result: the machine-readable contract (``scanner/model/scan-result.schema.json``).

Laid out for people and for size: the top level is indented, and every item of a list (a device,
a destination, a finding) is one line. That reads well in a pager and in a diff, is a third
smaller than indenting everything, and lets Python's C encoder write it (an indented dump runs
the pure-Python encoder: at 10,000 devices several seconds, which a stopping scan does not have).
"""

from __future__ import annotations

import json
from typing import Any

from scanner.model import ScanResult

_ENCODE = json.JSONEncoder(ensure_ascii=True, separators=(", ", ": ")).encode


def _member(key: str, value: Any) -> str:
    if isinstance(value, list) and value:
        return f"  {_ENCODE(key)}: [\n" + ",\n".join("    " + _ENCODE(item) for item in value) + "\n  ]"
    if isinstance(value, dict) and value:
        return (f"  {_ENCODE(key)}: {{\n" + ",\n".join(f"    {_ENCODE(k)}: {_ENCODE(v)}" for k, v in value.items())
                + "\n  }")
    return f"  {_ENCODE(key)}: {_ENCODE(value)}"


def render(result: ScanResult) -> str:
    return "{\n" + ",\n".join(_member(key, value) for key, value in result.to_dict().items()) + "\n}\n"
