"""Build cityscan's offline table of IANA Private Enterprise Numbers (SNMP sysObjectID -> organisation).

Source: IANA's "PRIVATE ENTERPRISE NUMBERS" registry
(https://www.iana.org/assignments/enterprise-numbers/), as Wireshark ships it in
``/usr/share/wireshark/enterprises.tsv`` (Debian package ``libwireshark-data``; Wireshark's header
says which day of the registry it was generated from). cityscan never fetches the registry at run
time. Update procedure:

    cd /tmp && apt-get download libwireshark-data && dpkg-deb -x libwireshark-data_*.deb pen
    python scripts/build_pen_table.py /tmp/pen/usr/share/wireshark/enterprises.tsv \
        "libwireshark-data 4.0.17-0+deb12u3"

It writes scanner/knowledge/data/enterprise-numbers.tsv.gz: a comment header (source, registry
date, package) and one ``number<TAB>organisation`` line per assigned number. Unassigned and
reserved numbers are left out: they name no organisation.
"""

from __future__ import annotations

import gzip
import re
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "scanner" / "knowledge" / "data" / "enterprise-numbers.tsv.gz"
SKIP = re.compile(r"^(?:Reserved|Unassigned|none|-+)$", re.IGNORECASE)


def build(src: Path, package: str, out: Path = OUT) -> int:
    text = src.read_text(encoding="utf-8", errors="replace")
    updated = re.search(r"last updated (\d{4}-\d{2}-\d{2})", text)
    rows: list[tuple[int, str]] = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        number, _, name = line.partition("\t") if "\t" in line else line.partition(" ")
        name = " ".join(name.split())
        if not number.strip().isdigit() or not name or SKIP.match(name):
            continue
        rows.append((int(number), name))
    rows.sort()
    header = [
        "# IANA Private Enterprise Numbers: SNMP enterprise number -> organisation",
        "# source: https://www.iana.org/assignments/enterprise-numbers/ (IANA registry)",
        f"# registry date: {updated.group(1) if updated else 'unknown'} (as generated into Wireshark's enterprises.tsv)",
        f"# taken from: {package}, /usr/share/wireshark/enterprises.tsv",
        "# built by scripts/build_pen_table.py; format: number<TAB>organisation",
    ]
    with gzip.GzipFile(out, "wb", compresslevel=9, mtime=0) as gz:
        gz.write(("\n".join(header + [f"{n}\t{name}" for n, name in rows]) + "\n").encode("utf-8"))
    return len(rows)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: build_pen_table.py ENTERPRISES_TSV PACKAGE_VERSION")
    count = build(Path(sys.argv[1]), sys.argv[2])
    print(f"{OUT}: {count} enterprise numbers")
