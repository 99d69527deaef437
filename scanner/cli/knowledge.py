"""``cityscan policy`` and ``fingerprints``: check and inspect the knowledge cityscan judges by."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from tabulate import tabulate

from scanner.cli.app import cli
from scanner.errors import (
    EXIT_FINDINGS,
    EXIT_OK,
    InputError,
)
from scanner.history.results import load_result
from scanner.identify.selftest import check_db
from scanner.judge.policy import load_policy
from scanner.knowledge.fingerprints import load_db
from scanner.model.text import terminal_safe
from scanner.pipeline import identify


@cli.group()
def policy() -> None:
    """Work with policy files."""


@policy.command("validate")
@click.argument("files", nargs=-1, required=True, metavar="FILE...")
def policy_validate(files: tuple[str, ...]) -> None:
    """Check policy files; prints one line per file."""
    for file in files:
        loaded = load_policy(file)
        rules = ", ".join(f"{r.id}={r.severity}" for r in loaded.enabled_rules()) or "no rules enabled"
        click.echo(f"{file}: ok: policy {loaded.name!r} ({rules})")


@cli.group()
def fingerprints() -> None:
    """The fingerprint database (fingerprints/*.yaml)."""


@fingerprints.command("test")
@click.option("--dir", "directory", type=click.Path(file_okay=False), help="Another fingerprint directory.")
def fingerprints_test(directory: str | None) -> None:
    """Run every entry's real examples; exit 1 if one stops matching or two vendors collide."""
    db = load_db(directory)
    problems = check_db(db)
    examples = sum(len(e.examples) for e in db.entries)
    for problem in problems:
        click.echo(terminal_safe(str(problem), 400))
    click.echo(f"{len(db.entries)} entries, {len(db.vendors)} vendors, {examples} examples: "
               f"{len(problems)} problems")
    sys.exit(EXIT_FINDINGS if problems else EXIT_OK)


@fingerprints.command("list")
@click.option("--vendor", help="Only this vendor's entries.")
def fingerprints_list(vendor: str | None) -> None:
    """List the entries: id, vendor, field, what they conclude."""
    db = load_db()
    rows = [[e.id, e.conclude.get("vendor") or "-", e.field + (f" {e.path}" if e.path else ""),
             e.conclude.get("device_class") or "-", f"{e.confidence:.2f}", f"{Path(e.file).name}:{e.line}"]
            for e in db.entries if not vendor or (e.conclude.get("vendor") or "").lower() == vendor.lower()]
    click.echo(tabulate(rows, headers=["Entry", "Vendor", "Field", "Class", "Conf.", "Where"]))


@fingerprints.command("explain")
@click.argument("ip")
@click.option("--scan", "scan_file", required=True, metavar="SCAN.json", help="A stored JSON result.")
def fingerprints_explain(ip: str, scan_file: str) -> None:
    """Show why the device at IP was identified as it was: observations, matches, conflicts."""
    result = load_result(scan_file)
    if result.device(ip) is None:
        raise InputError(f"no device {ip} in this scan", scan_file)
    device = identify(result).device(ip)
    assert device is not None
    click.echo(f"{ip}: vendor {terminal_safe(device.vendor or 'unknown')}, model "
               f"{terminal_safe(device.model or '-')}, firmware {terminal_safe(device.firmware or '-')}, "
               f"class {device.device_class}, confidence {device.confidence if device.confidence is not None else '-'}")
    click.echo("Observations:")
    for obs in device.observations:
        where = f"{obs.probe}" + (f":{obs.port}" if obs.port else "") + (obs.path or "")
        click.echo(f"  {obs.field:22} {terminal_safe(where, 60):40} {terminal_safe(obs.value, 100)}")
    click.echo("Evidence:")
    for ev in device.evidence:
        click.echo(f"  [{terminal_safe(ev.source, 60)}] {terminal_safe(ev.detail, 300)}")
