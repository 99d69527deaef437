"""The one loader of every data set: fingerprints, countries and laws, ownership, IP data.

Each data set is read once, on first use, from the files the package ships (or a directory the
caller names); ``datasets()`` says which versions were used, so a result records the data its
verdicts rest on. Callers ask this module, never a file path.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from scanner.errors import InputError
from scanner.knowledge.checks import CapabilityCheck, read_checks
from scanner.knowledge.datafiles import find, installed
from scanner.knowledge.dpf import DpfList, read_dpf
from scanner.knowledge.enterprises import PEN_FILE, enterprise_number, read_enterprises
from scanner.knowledge.fingerprints import FingerprintDB, load_db
from scanner.knowledge.firmware import FirmwareFacts, read_firmware, read_kev
from scanner.knowledge.infrastructure import Infrastructure, read_infrastructure
from scanner.knowledge.jurisdiction import Jurisdiction, read_jurisdiction
from scanner.knowledge.location import (
    Locator,
    NetworkIndex,
    asn_narrowing,
    build_locator,
)
from scanner.knowledge.ownership import Ownership, read_ownership
from scanner.knowledge.paths import data_dir, fingerprints_dir
from scanner.knowledge.services import TrackingService, read_services
from scanner.knowledge.yamlfile import load


@dataclass(frozen=True)
class DataSet:
    """One data set as a result records it."""

    name: str
    version: str | None
    date: str | None
    source: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "date": self.date, "source": self.source}


@lru_cache(maxsize=1)
def default_db() -> FingerprintDB:
    """The shipped fingerprint database (``fingerprints/*.yaml``)."""
    return load_db(fingerprints_dir())


@lru_cache(maxsize=4)
def site_db(directories: tuple[str, ...]) -> FingerprintDB:
    """The shipped fingerprints plus a site's own directories (``--fingerprints DIR``)."""
    return load_db(fingerprints_dir(), extra=directories) if directories else default_db()


def site_fingerprints(directories: tuple[str, ...]) -> DataSet:
    """What a result records of a site's own fingerprints: where, and a hash of their content."""
    digest = hashlib.sha256()
    for directory in directories:
        for path in sorted(Path(directory).glob("*.yaml")):
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return DataSet("site-fingerprints", f"sha256:{digest.hexdigest()[:12]}", None, ", ".join(directories))


@lru_cache(maxsize=1)
def jurisdiction() -> Jurisdiction:
    """EEA and adequacy lists, country names, foreign laws, legal references per rule."""
    return read_jurisdiction(data_dir(), find("countries.yaml", "countries")[0])


@lru_cache(maxsize=1)
def ownership() -> Ownership:
    """Company -> ultimate parent -> home country; ASNs, name patterns and domains of operators."""
    return read_ownership(data_dir() / "ownership.yaml")


@lru_cache(maxsize=1)
def tracking_services() -> tuple[TrackingService, ...]:
    """Cloud services that receive location or people-tracking data."""
    return tuple(read_services(data_dir() / "location-services.yaml"))


@lru_cache(maxsize=1)
def capability_checks() -> tuple[CapabilityCheck, ...]:
    """Documented read-only endpoints that say what a device can do (with the user's credentials)."""
    return tuple(read_checks(data_dir() / "authenticated-checks.yaml"))


@lru_cache(maxsize=1)
def enterprises() -> dict[int, str]:
    """IANA Private Enterprise Numbers -> organisation (for SNMP sysObjectIDs)."""
    return read_enterprises(data_dir() / PEN_FILE)


def enterprise(oid: str) -> str | None:
    """The organisation an SNMP sysObjectID's enterprise number is registered to."""
    number = enterprise_number(oid)
    return enterprises().get(number) if number is not None else None


@lru_cache(maxsize=1)
def datasets() -> tuple[DataSet, ...]:
    """Every data set with its version and date (``knowledge/data/datasets.yaml``)."""
    path = data_dir() / "datasets.yaml"
    doc = load(path)
    items = doc.get("datasets") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        raise InputError("data set manifest needs a 'datasets' list", str(path))
    out = []
    for item in items:
        version = item.get("version")
        if version == "package":
            try:
                version = importlib.metadata.version(str(item.get("package")))
            except importlib.metadata.PackageNotFoundError:
                version = None
        elif version == "content":
            version = _fingerprints_hash()
        out.append(DataSet(str(item["name"]), None if version is None else str(version),
                           None if item.get("date") is None else str(item["date"]), str(item.get("source") or "")))
    return tuple(out)


def _fingerprints_hash() -> str:
    """A short hash of the fingerprint files: the same database gives the same version anywhere."""
    digest = hashlib.sha256()
    for path in sorted(fingerprints_dir().glob("*.yaml")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return f"sha256:{digest.hexdigest()[:12]}"


# --- where servers are, DPF, infrastructure (issue 16) ------------------------------------------

@lru_cache(maxsize=1)
def locator() -> Locator:
    """Cloud regions, anycast services and the geolocation MMDB (user-updated copies first)."""
    ranges, _ = find("cloud-ranges.tsv.gz", "cloud-ranges")
    regions, _ = find("cloud-regions.yaml", "cloud-ranges")
    anycast, _ = find("anycast.yaml", "anycast")
    mmdb, _ = find("dbip-country.mmdb.xz", "dbip-country")
    return build_locator(ranges, regions, anycast, mmdb, data_dir() / "special-addresses.yaml")


@lru_cache(maxsize=1)
def network_index() -> NetworkIndex:
    """Address -> network with its location; one look-up per network for the whole process."""
    return NetworkIndex(locator(), asn_narrowing)


@lru_cache(maxsize=1)
def dpf_list() -> DpfList:
    """EU-US Data Privacy Framework: which US operators are certified (dated snapshot)."""
    path, _ = find("dpf.yaml", "dpf")
    return read_dpf(path)


@lru_cache(maxsize=1)
def infrastructure() -> Infrastructure:
    """Which destinations are infrastructure traffic (DNS, NTP, OCSP/CRL, connectivity checks)."""
    path, _ = find("infrastructure.yaml", "infrastructure")
    return read_infrastructure(path)


@lru_cache(maxsize=1)
def firmware_facts() -> FirmwareFacts:
    """Known-exploited flaws mapped to firmware, end of support, and the KEV catalogue in use."""
    mapping, _ = find("firmware.yaml", "firmware")
    catalogue, _ = find("kev-catalogue.json", "kev")
    flaws, lifecycle = read_firmware(mapping, set(default_db().vendors))
    kev, version = read_kev(catalogue)
    return FirmwareFacts(flaws, lifecycle, kev, version)


def datasets_in_use() -> tuple[DataSet, ...]:
    """``datasets()``, with the version and date of every data set ``cityscan data update`` replaced."""
    updated = installed()
    return tuple(DataSet(d.name, updated[d.name].version, updated[d.name].date, updated[d.name].source)
                 if d.name in updated else d for d in datasets())
