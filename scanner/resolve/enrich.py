"""Who owns a destination, where it is, and whose law reaches it: offline data first, online opt-in.

Each destination is enriched from the shipped ASN and country data and the curated ownership
table, and, only with ``--online``, from cached, rate-limited DNS/RDAP look-ups
(:mod:`.online`), whose answers come back as values and are merged here.

Three facts, never mixed: ``country`` is where the server is (cloud providers' region files,
then anycast services, then geolocation: :mod:`scanner.knowledge.location`, named in
``location_source``), ``registry_country`` where the block is registered (RIR), and the operator
(ASN, company, parent) with the ``jurisdictions`` whose law can compel it.
"""

from __future__ import annotations

from scanner.knowledge import ipdata
from scanner.knowledge.fingerprints import FingerprintDB, Vendor
from scanner.knowledge.loader import network_index
from scanner.knowledge.ownership import Ownership
from scanner.model import Destination, Evidence
from scanner.resolve.online import OnlineFacts


def _vendor_for_host(host: str | None, db: FingerprintDB | None) -> Vendor | None:
    if not host or db is None:
        return None
    host = host.lower().rstrip(".")
    for vendor in db.vendors.values():
        for endpoint in vendor.cloud_endpoints:
            domain = ".".join(endpoint.host.split(".")[-2:])
            if host == endpoint.host or host.endswith("." + domain) or host == domain:
                return vendor
    return None


def _locate(dest: Destination) -> None:
    """``country`` (or ``anycast``) from the location data sets, with the one that said it."""
    if dest.country is not None or dest.anycast or not dest.ip:
        return
    net = network_index().network(dest.ip)
    if net is None or net.location.source is None:
        return
    where = net.location
    if where.anycast:
        dest.anycast = True
        dest.location_source = where.source
        dest.sources.append(where.source or "anycast")
        dest.evidence.append(Evidence("location", f"{dest.ip}: anycast ({where.detail}), served from many "
                                                  f"countries; source {where.source}"))
    elif where.country:
        dest.country, dest.location_source = where.country, where.source
        dest.sources.append(where.source or "location")
        detail = f" ({where.detail})" if where.detail else ""
        registry = (f"; the block is registered in {dest.registry_country}"
                    if dest.registry_country and dest.registry_country != where.country else "")
        dest.evidence.append(Evidence("location", f"{dest.ip}: server in {where.country}{detail}, "
                                                  f"source {where.source}{registry}"))


def enrich(dest: Destination, own: Ownership, db: FingerprintDB | None, online: OnlineFacts | None = None) -> Destination:
    """Fill ASN, owner, company, parent, country and jurisdictions of a destination this stage
    built, each with its source; ``online`` holds what the opt-in look-ups found for it. ``db``
    (the vendors' cloud endpoints) is needed only for a destination with a host name."""
    if online is not None:
        before = dest.country
        online.merge_into(dest)
        if dest.country and dest.country != before:
            dest.location_source = "online-geolocation"
    if dest.ip:
        info = ipdata.asn_of(dest.ip)
        if info and dest.asn is None:
            dest.asn = info.asn
            dest.network_owner = dest.network_owner or info.name
            dest.sources.append("asn-table")
        if dest.registry_country is None:
            dest.registry_country = ipdata.country_of(dest.ip)
            if dest.registry_country:
                dest.sources.append("rir-country")
        _locate(dest)
    company = own.by_asn(dest.asn, dest.network_owner) if dest.asn or dest.network_owner else None
    how = "network owner"
    if company is None:
        company = own.by_host(dest.host)
        how = "host name"
    vendor = _vendor_for_host(dest.host, db) if company is None else None
    if vendor is not None:
        company, how = own.canonical(vendor.company) or vendor.company, f"{vendor.name} cloud endpoint"
    owner = own.owner(company)
    if owner is not None and owner.country is None and vendor is not None:
        owner = type(owner)(owner.company, vendor.country, vendor.parent if not owner.parent else owner.parent,
                            vendor.parent_country if not owner.parent else owner.parent_country)
    if owner is not None:
        dest.company = owner.company
        dest.parent_company = owner.parent or owner.company
        dest.sources.append("ownership")
        dest.evidence.append(Evidence("ownership", f"{dest.host or dest.ip}: {how} -> {owner.company}"
                                                   f" ({owner.country or 'country unknown'})"
                                                   + (f", ultimate parent {owner.parent} ({owner.parent_country})"
                                                      if owner.parent else "")))
    jurisdictions: list[str] = []
    for code in [dest.country, *(owner.jurisdictions() if owner else [])]:
        if code and code not in jurisdictions:
            jurisdictions.append(code)
    dest.jurisdictions = jurisdictions
    dest.sources = list(dict.fromkeys(dest.sources))
    return dest
