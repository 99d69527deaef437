"""IANA Private Enterprise Numbers: which organisation an SNMP sysObjectID's enterprise belongs to.

The registry ships as ``knowledge/data/enterprise-numbers.tsv.gz`` (see datasets.yaml for its
source and date; rebuilt by scripts/build_pen_table.py).
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path

PEN_FILE = "enterprise-numbers.tsv.gz"
_ENTERPRISE_OID = re.compile(r"^\.?1\.3\.6\.1\.4\.1\.(\d{1,10})(?:\.|$)")


def read_enterprises(path: Path) -> dict[int, str]:
    """Enterprise number -> organisation, from the shipped table."""
    table: dict[int, str] = {}
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            number, tab, name = line.rstrip("\n").partition("\t")
            if tab and number.isdigit() and name:
                table[int(number)] = name
    return table


def enterprise_number(oid: str) -> int | None:
    """The enterprise number of a sysObjectID (``1.3.6.1.4.1.N...``), or None."""
    match = _ENTERPRISE_OID.match(oid.strip())
    return int(match.group(1)) if match else None
