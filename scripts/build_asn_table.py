"""Build cityscan's offline IP -> ASN table from the ip-location-db ASN CSVs.

Source: the npm package @ip-location-db/asn (CSV; CC BY 4.0, data by RouteViews, DB-IP and the
NRO; https://github.com/sapics/ip-location-db). Update procedure:

    cd /tmp && npm pack @ip-location-db/asn && tar xzf ip-location-db-asn-*.tgz
    python scripts/build_asn_table.py /tmp/package scanner/data

It writes scanner/knowledge/data/asn-v4.bin.gz, asn-v6.bin.gz (sorted inclusive ranges + ASN, packed) and
asn-names.tsv.gz (ASN -> AS organisation), plus asn-source.txt recording version and date.
"""

from __future__ import annotations

import csv
import gzip
import json
import struct
import sys
from pathlib import Path


def build(src: Path, out: Path) -> None:
    names: dict[int, str] = {}
    for family, width in (("ipv4", 4), ("ipv6", 16)):
        rows = []
        with open(src / f"asn-{family}-num.csv", newline="", encoding="utf-8") as handle:
            for start, end, asn, org in csv.reader(handle):
                number = int(asn)
                rows.append((int(start), int(end), number))
                names.setdefault(number, org)
        rows.sort()
        blob = bytearray()
        for start, end, number in rows:
            blob += start.to_bytes(width, "big") + end.to_bytes(width, "big") + struct.pack(">I", number)
        target = out / f"asn-{'v4' if width == 4 else 'v6'}.bin.gz"
        with gzip.open(target, "wb", compresslevel=9) as gz:
            gz.write(bytes(blob))
        print(f"{target}: {len(rows)} ranges")
    with gzip.open(out / "asn-names.tsv.gz", "wt", encoding="utf-8", compresslevel=9) as gz:
        for number in sorted(names):
            gz.write(f"{number}\t{names[number].replace(chr(9), ' ')}\n")
    meta = json.loads((src / "package.json").read_text())
    (out / "asn-source.txt").write_text(
        f"@ip-location-db/asn {meta.get('version')} (CC BY 4.0: RouteViews, DB-IP, NRO)\n"
        "https://github.com/sapics/ip-location-db\n")
    print(f"{len(names)} AS names; source version {meta.get('version')}")


if __name__ == "__main__":
    build(Path(sys.argv[1]), Path(sys.argv[2]))
