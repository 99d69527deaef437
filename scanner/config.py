"""The scan configuration file (YAML): what to scan, how politely, with which policy.

Keys mirror the long command-line options; options given on the command line win.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scanner.collect.nmap import valid_ports
from scanner.collect.timing import Timing
from scanner.errors import InputError
from scanner.knowledge import validate as v
from scanner.knowledge.yamlfile import Node, line_of, load
from scanner.model import FAIL_ON
from scanner.model.vocabulary import EVIDENCE_MODES
from scanner.report import FORMATS
from scanner.resolve.online import Cache, OnlineLookups, default_cache_path

TIMING_KEYS = ("template", "max_rate", "host_timeout", "max_retries", "probe_timeout", "probe_workers")
TOP_KEYS = ("targets", "scope", "ports", "timing", "policy", "waivers", "outputs", "fail_on",
            "offline", "flows", "nmap_xml", "lookups", "snmp_community", "credentials", "site", "store", "fingerprints",
            "inventory", "evidence", "ot")
LOOKUP_KEYS = ("rdap", "dns", "geolocation_url", "cache", "cache_max_age_days", "interval", "timeout")


@dataclass
class Lookups:
    """Online look-ups (only with --online): which, how often, cached where and for how long."""

    rdap: bool = True
    dns: bool = True
    geolocation_url: str | None = None
    cache: str | None = None
    cache_max_age_days: float = 30.0
    interval: float = 1.0
    timeout: float = 5.0


@dataclass
class Output:
    format: str
    path: str | None = None


@dataclass
class ScanConfig:
    targets: list[str] = field(default_factory=list)
    scope: list[str] = field(default_factory=list)
    ports: str | None = None
    ot: bool = False   # also the OT ports and nmap's read-only OT identification scripts (opt-in)
    timing: Timing = field(default_factory=Timing)
    policy: str | None = None
    waivers: str | None = None
    inventory: str | None = None   # the devices the segment is expected to hold
    outputs: list[Output] = field(default_factory=list)
    fail_on: str | None = None
    offline: bool = True
    flows: list[str] = field(default_factory=list)
    nmap_xml: list[str] = field(default_factory=list)
    lookups: Lookups = field(default_factory=Lookups)
    snmp_community: str = "public"
    credentials: str | None = None   # a credentials file (never the secrets themselves)
    site: str | None = None
    store: str | None = None   # the history: a SQLite path or a postgresql:// URL
    fingerprints: list[str] = field(default_factory=list)   # a site's own fingerprint directories
    evidence: str | None = None   # compact | full: how much of each raw observation the result keeps
    source: str | None = None
    target_lines: dict[str, int] = field(default_factory=dict)   # target -> its line, for errors
    scope_lines: dict[str, int] = field(default_factory=dict)


def _path(base: Path, value: str) -> str:
    """Paths in a config file are relative to the file, not to the working directory."""
    p = Path(value).expanduser()
    return str(p if p.is_absolute() else base / p)


CONFIG_NAME = "cityscan.yaml"


def config_places() -> list[tuple[str, Path]]:
    """Where a scan configuration is looked for, in order, after ``--config``."""
    places: list[tuple[str, Path]] = []
    env = os.environ.get("CITYSCAN_CONFIG")
    if env:
        places.append(("$CITYSCAN_CONFIG", Path(env).expanduser()))
    places.append(("the working directory", Path(CONFIG_NAME)))
    user = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    places.append(("the user's config directory", Path(user) / "cityscan" / "config.yaml"))
    places.append(("the system's config directory", Path("/etc/cityscan/config.yaml")))
    return places


def discover_config(explicit: str | None) -> tuple[str | None, str]:
    """The configuration file to use and how it was found: ``--config``, then ``$CITYSCAN_CONFIG``
    (which must exist), then ./cityscan.yaml, the user's and the system's config directory."""
    if explicit:
        return explicit, "--config"
    for how, path in config_places():
        if how == "$CITYSCAN_CONFIG" and not path.is_file():
            raise InputError("$CITYSCAN_CONFIG names no such file", str(path))
        if path.is_file():
            return str(path), how
    return None, "none found"


def load_config(path: str | Path) -> ScanConfig:
    doc = load(path)
    name = str(path)
    if doc is None:
        doc = Node()
        doc.file, doc.line, doc.key_lines = name, 1, {}
    if not isinstance(doc, dict):
        raise InputError("a scan config must be a YAML mapping", name, line_of(doc) or 1)
    v.check_keys(doc, TOP_KEYS, "config")
    base = Path(path).resolve().parent
    cfg = ScanConfig(source=name)
    cfg.targets = v.string_list(doc, "targets", "config")
    cfg.target_lines, cfg.scope_lines = _item_lines(doc, "targets"), _item_lines(doc, "scope")
    cfg.scope = v.string_list(doc, "scope", "config")
    ports = v.typed(doc, "ports", (str, int), "config")
    cfg.ports = str(ports) if ports is not None else None
    if cfg.ports is not None and not valid_ports(cfg.ports):
        raise v.fail(doc, "ports", f"config.ports {cfg.ports!r} is not a port list like '80,443,8000-8100'")
    cfg.ot = v.typed(doc, "ot", bool, "config", False)
    if "timing" in doc:
        cfg.timing = _timing(v.mapping(doc["timing"], doc, "timing", "config.timing"))
    for key in ("policy", "waivers", "credentials", "inventory"):
        value = v.typed(doc, key, str, "config")
        if key == "policy" and value and "/" not in value and not value.endswith((".yaml", ".yml")) \
                and not (base / value).is_file():
            cfg.policy = value  # a built-in policy's name, or none
            continue
        setattr(cfg, key, _path(base, value) if value else None)
        _check_reference(doc, key, getattr(cfg, key))
    cfg.fail_on = v.choice(doc, "fail_on", FAIL_ON, "config")
    cfg.offline = v.typed(doc, "offline", bool, "config", True)
    cfg.flows = [_path(base, p) for p in v.string_list(doc, "flows", "config")]
    cfg.nmap_xml = [_path(base, p) for p in v.string_list(doc, "nmap_xml", "config")]
    cfg.fingerprints = [_path(base, p) for p in v.string_list(doc, "fingerprints", "config")]
    if "lookups" in doc:
        cfg.lookups = _lookups(v.mapping(doc["lookups"], doc, "lookups", "config.lookups"), base)
    cfg.snmp_community = v.typed(doc, "snmp_community", str, "config", "public")
    cfg.evidence = v.choice(doc, "evidence", EVIDENCE_MODES, "config")
    cfg.site = v.typed(doc, "site", str, "config")
    store = v.typed(doc, "store", str, "config")
    cfg.store = store if not store or "://" in store else _path(base, store)
    outputs = doc.get("outputs") or []
    if not isinstance(outputs, list):
        raise v.fail(doc, "outputs", "config.outputs must be a list of {format, path}")
    for index, item in enumerate(outputs):
        item = v.mapping(item, outputs, index, "config.outputs item")
        v.check_keys(item, ("format", "path"), "config.outputs item", required=("format",))
        fmt = v.choice(item, "format", tuple(sorted(FORMATS)), "config.outputs")
        out_path = v.typed(item, "path", str, "config.outputs")
        cfg.outputs.append(Output(fmt or "table", _path(base, out_path) if out_path else None))
    return cfg


def _item_lines(doc: dict[str, Any], key: str) -> dict[str, int]:
    """Each list item's line, so a bad target or scope entry is reported where it stands."""
    items = doc.get(key)
    if not isinstance(items, list):
        return {}
    return {str(item): line_of(items, i) or line_of(doc, key) or 1 for i, item in enumerate(items)}


def _check_reference(doc: dict[str, Any], key: str, value: str | None) -> None:
    """A policy, waivers, credentials or inventory file the config names must exist (a built-in policy name is fine)."""
    if value is None or Path(value).is_file():
        return
    if key == "policy" and "/" not in str(doc.get(key)) and not str(doc.get(key)).endswith((".yaml", ".yml")):
        return  # a built-in name: checked (with a suggestion) when the policy is loaded
    raise v.fail(doc, key, f"config.{key}: no such file {value}")


def _lookups(node: dict[str, Any], base: Path) -> Lookups:
    v.check_keys(node, LOOKUP_KEYS, "config.lookups")
    out = Lookups()
    out.rdap = v.typed(node, "rdap", bool, "config.lookups", True)
    out.dns = v.typed(node, "dns", bool, "config.lookups", True)
    out.geolocation_url = v.typed(node, "geolocation_url", str, "config.lookups")
    if out.geolocation_url and ("{ip}" not in out.geolocation_url or not out.geolocation_url.startswith("https://")):
        raise v.fail(node, "geolocation_url", "config.lookups.geolocation_url must be an https:// URL containing {ip}")
    cache = v.typed(node, "cache", str, "config.lookups")
    out.cache = _path(base, cache) if cache else None
    for key in ("cache_max_age_days", "interval", "timeout"):
        value = float(v.typed(node, key, float, "config.lookups", getattr(out, key)))
        if value < 0 or (key == "timeout" and value == 0):
            raise v.fail(node, key, f"config.lookups.{key} must be positive")
        setattr(out, key, value)
    return out


def _timing(node: dict[str, Any]) -> Timing:
    v.check_keys(node, TIMING_KEYS, "config.timing")
    t = Timing()
    t.template = v.typed(node, "template", int, "config.timing", t.template)
    if not 0 <= t.template <= 5:
        raise v.fail(node, "template", "config.timing.template must be 0..5 (nmap -T)")
    t.max_rate = v.typed(node, "max_rate", int, "config.timing", t.max_rate)
    t.host_timeout = v.typed(node, "host_timeout", int, "config.timing", t.host_timeout)
    t.max_retries = v.typed(node, "max_retries", int, "config.timing", t.max_retries)
    t.probe_timeout = float(v.typed(node, "probe_timeout", float, "config.timing", t.probe_timeout))
    t.probe_workers = v.typed(node, "probe_workers", int, "config.timing", t.probe_workers)
    for key in ("host_timeout", "max_retries", "probe_workers"):
        if getattr(t, key) < 0 or (key != "max_retries" and getattr(t, key) == 0):
            raise v.fail(node, key, f"config.timing.{key} must be positive")
    if t.probe_timeout <= 0 or t.probe_timeout > 60:
        raise v.fail(node, "probe_timeout", "config.timing.probe_timeout must be in (0, 60] seconds")
    return t



def online_lookups(cfg: ScanConfig) -> OnlineLookups:
    """The opt-in look-ups (``--online``) as the config's ``lookups`` section sets them up."""
    opts = cfg.lookups
    cache = Cache.open(Path(opts.cache) if opts.cache else default_cache_path(), opts.cache_max_age_days * 86400)
    return OnlineLookups(cache=cache, rdap=opts.rdap, dns=opts.dns, geolocation_url=opts.geolocation_url,
                         timeout=opts.timeout, interval=opts.interval)
