"""``cityscan config show``: the effective scan configuration and where each value came from."""

from __future__ import annotations

import os
from dataclasses import fields, is_dataclass
from typing import Any

import click

from scanner.cli.app import cli
from scanner.config import (
    Output,
    ScanConfig,
    config_places,
    discover_config,
    load_config,
)
from scanner.knowledge.yamlfile import load
from scanner.model.text import terminal_safe

# Options whose environment variable is named for the option alone (the others: CITYSCAN_SCAN_<OPTION>).
ENVIRONMENT = {"store": "CITYSCAN_STORE", "site": "CITYSCAN_SITE", "credentials": "CITYSCAN_CREDENTIALS"}


@cli.group("config")
def config_group() -> None:
    """The scan configuration file and the environment."""


@config_group.command("show")
@click.option("--config", "config_path", metavar="FILE", help="This file instead of the one discovery finds.")
def config_show(config_path: str | None) -> None:
    """Print the effective configuration of `cityscan scan` and where each value came from.

    The file is --config, else $CITYSCAN_CONFIG, else ./cityscan.yaml, else the user's
    (~/.config/cityscan/config.yaml) or the system's (/etc/cityscan/config.yaml) config directory.
    Every scan option can also be set as CITYSCAN_SCAN_<OPTION> (e.g. CITYSCAN_SCAN_PORTS)."""
    path, how = discover_config(config_path)
    click.echo(f"configuration file: {terminal_safe(path or '-')} ({how})")
    if path is None:
        click.echo("  looked in: " + ", ".join(f"{terminal_safe(str(p))} ({h})" for h, p in config_places()))
    cfg = load_config(path) if path else ScanConfig()
    doc = load(path) if path else {}
    lines = getattr(doc, "key_lines", {}) if isinstance(doc, dict) else {}
    for name, value, key in _flatten(cfg):
        if name in ("source", "target_lines", "scope_lines"):
            continue
        origin = f"{path}:{lines[key]}" if key in lines else "default"
        if "." in name and isinstance(doc, dict):  # timing.template: the line of that sub-key, if set
            section, sub = name.split(".", 1)
            inner = doc.get(section)
            sub_lines = getattr(inner, "key_lines", {}) if isinstance(inner, dict) else {}
            origin = f"{path}:{sub_lines[sub]}" if sub in sub_lines else "default"
        env = ENVIRONMENT.get(name)
        if env and os.environ.get(env):
            value, origin = os.environ[env], f"${env}"
        click.echo(f"  {name:28} {terminal_safe(_show(value), 100):50} {terminal_safe(origin, 80)}")


def _flatten(cfg: Any, prefix: str = "") -> list[tuple[str, Any, str]]:
    out: list[tuple[str, Any, str]] = []
    for f in fields(cfg):
        value = getattr(cfg, f.name)
        top = prefix.split(".")[0] if prefix else f.name
        if is_dataclass(value) and not isinstance(value, type) and f.name in ("timing", "lookups"):
            out += _flatten(value, f"{prefix}{f.name}.")
        else:
            out.append((f"{prefix}{f.name}", value, top))
    return out


def _show(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(f"{v.format} -> {v.path or 'stdout'}" if isinstance(v, Output) else str(v) for v in value) or "-"
    return "-" if value is None else str(value)
