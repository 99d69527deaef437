"""Write the pinned update manifest ``scanner/knowledge/data/data-updates.json``.

For every data set that ``cityscan data update`` can replace, it pins the version and date from
``datasets.yaml`` and the SHA-256 and size of each file as shipped; a mirror serving those files
(the project's release files, or a city's own copy) then passes the checks of ``data update``.
Run after rebuilding a data set (scripts/build_location_data.py, or editing a YAML file):

    .venv/bin/python scripts/build_update_manifest.py
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import yaml

DATA = Path(__file__).resolve().parent.parent / "scanner" / "knowledge" / "data"
# The data sets whose files the loader takes from the user's data directory once updated.
UPDATABLE = {
    "cloud-ranges": ["cloud-ranges.tsv.gz", "cloud-regions.yaml"],
    "dbip-country": ["dbip-country.mmdb.xz"],
    "anycast": ["anycast.yaml"],
    "dpf": ["dpf.yaml"],
    "infrastructure": ["infrastructure.yaml"],
    "kev": ["kev-catalogue.json"],
    "asn": ["asn-v4.bin.gz", "asn-v6.bin.gz", "asn-names.tsv.gz", "asn-source.txt"],
    "countries": ["countries.yaml"],
}
# Files with a pinned upstream address: `data update` fetches them there (no mirror needed).
URLS = {
    "kev-catalogue.json": "https://raw.githubusercontent.com/cisagov/kev-data/"
                          "eacf03ec6637cc7be6d3d4ed50785493da5126a2/known_exploited_vulnerabilities.json",
}


def main() -> None:
    listed = {d["name"]: d for d in yaml.safe_load((DATA / "datasets.yaml").read_text())["datasets"]}
    out = []
    for name, files in UPDATABLE.items():
        meta = listed[name]
        out.append({"name": name, "version": str(meta["version"]), "date": meta.get("date"),
                    "source": meta.get("source"), "licence": meta.get("licence"),
                    "files": [{"name": f, "sha256": hashlib.sha256((DATA / f).read_bytes()).hexdigest(),
                               "size": (DATA / f).stat().st_size, **({"url": URLS[f]} if f in URLS else {})}
                              for f in files]})
    (DATA / "data-updates.json").write_text(json.dumps({"manifest": 1, "datasets": out}, indent=2) + "\n")
    print(f"{DATA / 'data-updates.json'}: {len(out)} data sets pinned")


if __name__ == "__main__":
    main()
