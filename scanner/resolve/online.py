"""Opt-in online look-ups (``--online``): DNS, RDAP and IP geolocation, cached and rate-limited.

Every failure — time-out, rate limit, malformed answer — leaves the value ``null`` and adds an
entry to ``errors``; nothing here can crash a scan. RDAP answers are cached per network (CIDR),
so a scan never asks twice about the same network, and the cache persists between runs with an
age limit. A service that rate-limits us is not asked again during the run (no retry storms).
"""

from __future__ import annotations

import ipaddress
import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dns.exception
import dns.resolver
import dns.reversename
import requests

from scanner.errors import InputError
from scanner.model import Destination, Evidence, ScanError
from scanner.model.addresses import is_global
from scanner.runtime.output import write_atomic

RDAP_URL = "https://rdap.org/ip/{ip}"
MAX_ANSWER = 1024 * 1024
RATE_LIMITED = (403, 422, 429)  # RDAP servers signal rate limits with any of these


def default_cache_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cityscan" / "lookups.json"


@dataclass
class Cache:
    """A JSON file of look-up answers with their time; entries older than ``max_age`` are ignored."""

    path: Path | None
    max_age: float = 30 * 86400
    entries: dict[str, dict[str, Any]] = field(default_factory=dict)
    networks: list[dict[str, Any]] = field(default_factory=list)
    _parsed: list[ipaddress.IPv4Network | ipaddress.IPv6Network | None] = field(default_factory=list, repr=False)

    @classmethod
    def open(cls, path: Path | None, max_age: float = 30 * 86400) -> Cache:
        cache = cls(path, max_age)
        if path and path.is_file():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                cache.entries = {k: v for k, v in data.get("entries", {}).items() if isinstance(v, dict)}
                cache.networks = [n for n in data.get("networks", []) if isinstance(n, dict)]
            except (OSError, ValueError, AttributeError):
                cache.entries, cache.networks = {}, []  # a damaged cache is only a cold cache
        return cache

    def _fresh(self, entry: dict[str, Any]) -> bool:
        return time.time() - float(entry.get("time", 0)) <= self.max_age

    def get(self, key: str) -> tuple[bool, Any]:
        entry = self.entries.get(key)
        return (True, entry.get("value")) if entry and self._fresh(entry) else (False, None)

    def put(self, key: str, value: Any) -> None:
        self.entries[key] = {"time": time.time(), "value": value}

    def network_for(self, ip: str) -> dict[str, Any] | None:
        """The fresh cached network that holds ``ip``. Networks are parsed once, not per look-up:
        a flow log asks about the same few hundred networks thousands of times."""
        addr = ipaddress.ip_address(ip)
        if len(self._parsed) != len(self.networks):
            self._parsed = [_network(entry) for entry in self.networks]
        for net, entry in zip(self._parsed, self.networks):
            if net is not None and addr.version == net.version and addr in net and self._fresh(entry):
                return entry
        return None

    def put_network(self, cidr: str, value: dict[str, Any]) -> None:
        entry = {"cidr": cidr, "time": time.time(), "value": value}
        self.networks.append(entry)
        self._parsed.append(_network(entry))

    def save(self) -> None:
        """Written like the scan store: private (0600 in a 0700 directory), atomically. Look-ups
        reveal what a city's devices talk to, which is not for other users of the machine."""
        if not self.path:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise InputError(f"cannot create the look-up cache directory: {exc.strerror}", str(self.path.parent)) from None
        write_atomic(self.path, json.dumps({"entries": self.entries, "networks": self.networks}), mode=0o600)


def _network(entry: dict[str, Any]) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    """A cache entry's network, or None when a damaged cache file gave it a bad one."""
    try:
        return ipaddress.ip_network(entry["cidr"], strict=False)
    except (ValueError, KeyError, TypeError):
        return None


class RateLimiter:
    """At most one request per ``interval`` seconds to one service."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.last = 0.0
        self.lock = threading.Lock()

    def wait(self) -> None:
        with self.lock:
            delay = self.last + self.interval - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            self.last = time.monotonic()


@dataclass
class OnlineFacts:
    """What the online look-ups found about one destination (``None``: nothing found)."""

    ip: str | None = None
    host: str | None = None
    network_owner: str | None = None
    country: str | None = None
    sources: list[str] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)

    def merge_into(self, dest: Destination) -> None:
        """Fill what ``dest`` lacks (an online answer never overrides what traffic showed)."""
        dest.ip = dest.ip or self.ip
        dest.host = dest.host or self.host
        dest.network_owner = self.network_owner or dest.network_owner
        dest.country = self.country or dest.country
        dest.sources.extend(self.sources)
        dest.evidence.extend(self.evidence)


@dataclass
class OnlineLookups:
    cache: Cache
    rdap: bool = True
    dns: bool = True
    geolocation_url: str | None = None  # e.g. a self-hosted service: "https://geo.example/{ip}"
    timeout: float = 5.0
    interval: float = 1.0
    resolver: Any = None
    session: requests.Session = field(default_factory=requests.Session)
    errors: list[ScanError] = field(default_factory=list)
    disabled: set[str] = field(default_factory=set)
    requests_made: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.limits = {"rdap": RateLimiter(self.interval), "geolocation": RateLimiter(self.interval)}
        if self.resolver is None:
            self.resolver = dns.resolver.Resolver()
            self.resolver.lifetime = self.timeout

    # --- bookkeeping ---------------------------------------------------------------------------
    def _fail(self, service: str, target: str, message: str, disable: bool = False) -> None:
        self.errors.append(ScanError("resolve", f"{service}: {message}", target))
        if disable:
            self.disabled.add(service)
            self.errors.append(ScanError("resolve", f"{service}: rate-limited; no more {service} look-ups this run"))

    def drain_errors(self) -> list[ScanError]:
        errors, self.errors = self.errors, []
        self.cache.save()
        return errors

    def _count(self, service: str) -> None:
        self.requests_made[service] = self.requests_made.get(service, 0) + 1

    # --- DNS -----------------------------------------------------------------------------------
    def resolve_host(self, host: str) -> list[str]:
        hit, value = self.cache.get(f"dns:{host}")
        if hit:
            return list(value or [])
        if "dns" in self.disabled:
            return []
        addresses: list[str] = []
        for rdtype in ("A", "AAAA"):
            try:
                self._count("dns")
                answer = self.resolver.resolve(host, rdtype, lifetime=self.timeout)
                addresses += [r.to_text() for r in answer]
            except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
                continue
            except dns.exception.Timeout:
                self._fail("dns", host, f"{rdtype} look-up timed out after {self.timeout:g} s")
                break
            except dns.exception.DNSException as exc:
                self._fail("dns", host, f"{rdtype} look-up failed: {type(exc).__name__}")
                break
        self.cache.put(f"dns:{host}", addresses)
        return addresses

    def reverse(self, ip: str) -> str | None:
        hit, value = self.cache.get(f"ptr:{ip}")
        if hit:
            return value
        if "dns" in self.disabled:
            return None
        name = None
        try:
            self._count("dns")
            answer = self.resolver.resolve(dns.reversename.from_address(ip), "PTR", lifetime=self.timeout)
            name = answer[0].to_text().rstrip(".") if len(answer) else None
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            name = None
        except dns.exception.DNSException as exc:
            self._fail("dns", ip, f"reverse look-up failed: {type(exc).__name__}")
            return None
        self.cache.put(f"ptr:{ip}", name)
        return name

    # --- HTTP services -------------------------------------------------------------------------
    def _get_json(self, service: str, url: str, target: str) -> Any:
        if service in self.disabled:
            return None
        self.limits[service].wait()
        self._count(service)
        try:
            resp = self.session.get(url, timeout=self.timeout, stream=True,
                                    headers={"Accept": "application/rdap+json, application/json"})
            body = resp.raw.read(MAX_ANSWER + 1, decode_content=True) if resp.raw else resp.content
        except requests.Timeout:
            self._fail(service, target, f"timed out after {self.timeout:g} s")
            return None
        except requests.RequestException as exc:
            self._fail(service, target, f"request failed: {type(exc).__name__}")
            return None
        if resp.status_code in RATE_LIMITED:
            self._fail(service, target, f"HTTP {resp.status_code}", disable=True)
            return None
        if resp.status_code != 200:
            self._fail(service, target, f"HTTP {resp.status_code}")
            return None
        if len(body) > MAX_ANSWER:
            self._fail(service, target, f"answer larger than {MAX_ANSWER} bytes")
            return None
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            self._fail(service, target, "malformed answer (not JSON)")
            return None
        if not isinstance(data, dict):
            self._fail(service, target, "malformed answer (not a JSON object)")
            return None
        return data

    def rdap_lookup(self, ip: str) -> dict[str, Any] | None:
        """Owner of the network containing ``ip``: {cidr, name, org, country} (cached per network)."""
        cached = self.cache.network_for(ip)
        if cached:
            return dict(cached["value"])
        data = self._get_json("rdap", RDAP_URL.format(ip=ip), ip)
        if data is None:
            return None
        try:
            from ipwhois.net import Net
            from ipwhois.rdap import RDAP

            parsed = RDAP(Net(ip)).lookup(response=data, bootstrap=True, depth=0, root_ent_check=False,
                                          retry_count=0)
        except Exception as exc:  # noqa: BLE001 - ipwhois raises many types on odd answers
            self._fail("rdap", ip, f"malformed RDAP answer ({type(exc).__name__})")
            return None
        network = parsed.get("network") or {}
        org = None
        for obj in (parsed.get("objects") or {}).values():
            if "registrant" in (obj.get("roles") or []) and (obj.get("contact") or {}).get("name"):
                org = obj["contact"]["name"]
                break
        cidr = str(network.get("cidr") or "").split(",")[0].strip()
        value = {"cidr": cidr or None, "name": network.get("name"), "org": org,
                 "country": (network.get("country") or None)}
        if cidr:
            try:
                ipaddress.ip_network(cidr, strict=False)
                self.cache.put_network(cidr, value)
            except ValueError:
                pass
        return value

    def geolocate(self, ip: str) -> str | None:
        if not self.geolocation_url:
            return None
        hit, value = self.cache.get(f"geo:{ip}")
        if hit:
            return value
        data = self._get_json("geolocation", self.geolocation_url.format(ip=ip), ip)
        if data is None:
            return None
        code = next((data.get(k) for k in ("countryCode", "country_code", "country") if isinstance(data.get(k), str)), None)
        code = code.upper() if code and len(code) == 2 and code.isalpha() else None
        if code is None:
            self._fail("geolocation", ip, "answer has no ISO country code")
        self.cache.put(f"geo:{ip}", code)
        return code

    # --- the stage's hook ------------------------------------------------------------------------
    def facts_for(self, host: str | None, ip: str | None) -> OnlineFacts:
        """What the opt-in look-ups say of a destination: the IP of a host name, the name of an
        address, the owner of its network, its country. A value; the resolve stage merges it."""
        facts = OnlineFacts()
        if self.dns and host and not ip:
            addresses = self.resolve_host(host)
            if addresses:
                ip = facts.ip = addresses[0]
                facts.sources.append("dns")
                facts.evidence.append(Evidence("dns", f"{host} resolves to {', '.join(addresses[:4])}"))
        if self.dns and ip and not host:
            name = self.reverse(ip)
            if name:
                facts.host = name
                facts.sources.append("reverse-dns")
        if ip and self.rdap and is_global(ip):
            info = self.rdap_lookup(ip)
            if info:
                facts.network_owner = info.get("org") or info.get("name")
                facts.sources.append("rdap")
                facts.evidence.append(Evidence("rdap", f"{ip} in {info.get('cidr')}: {info.get('name')} "
                                                       f"/ {info.get('org')} ({info.get('country')})"))
        if ip and is_global(ip):
            facts.country = self.geolocate(ip)
            if facts.country:
                facts.sources.append("geolocation")
        return facts
