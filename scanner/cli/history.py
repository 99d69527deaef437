"""``cityscan history`` and ``diff``: the scan history of scheduled scans."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import click
from tabulate import tabulate

from scanner.cli.app import cli
from scanner.errors import (
    EXIT_FINDINGS,
    EXIT_OK,
    InputError,
)
from scanner.history.diff import diff, has_new_at_or_above
from scanner.history.results import load_result
from scanner.history.store import SiteSummary, Store
from scanner.model import FAIL_ON, ScanResult
from scanner.model.text import terminal_safe
from scanner.report.diff import DIFF_FORMATS, render_diff
from scanner.runtime.output import write_atomic

STORE_HELP = "Scan history: a SQLite file or a postgresql:// URL [default: $CITYSCAN_STORE, else " \
             "~/.local/share/cityscan/scans.db]."


def _store_option(func: Callable[..., None]) -> Callable[..., None]:
    return click.option("--store", "store_path", metavar="FILE|URL", envvar="CITYSCAN_STORE", help=STORE_HELP)(func)


@cli.command()
@_store_option
@click.option("--site", metavar="NAME", help="Only the scans of this site.")
@click.option("--limit", type=click.IntRange(1), default=20, show_default=True, help="Newest N scans.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def history(store_path: str | None, site: str | None, limit: int, fmt: str) -> None:
    """List stored scans, newest first."""
    with Store(store_path, readonly=True) as store:
        scans = store.list(limit=limit, site=site)
    if fmt == "json":
        click.echo(json.dumps([s.to_dict() for s in scans], indent=2))
        return
    rows = [[s.id, s.started_at, terminal_safe(s.site or "-", 30), terminal_safe(s.targets_key, 60),
             terminal_safe(s.policy_name or "-", 30), s.devices, s.destinations,
             " ".join(f"{k}:{v}" for k, v in s.open_findings.items() if v) or "-",
             s.waived_findings, "partial" if s.partial else "complete"] for s in scans]
    click.echo(tabulate(rows, headers=["ID", "Started", "Site", "Targets", "Policy", "Devices", "Dest.",
                                       "Open findings", "Waived", "State"]))


@cli.command("diff")
@click.argument("old", required=False, metavar="[OLD]")
@click.argument("new", required=False, metavar="[NEW]")
@_store_option
@click.option("--site", metavar="NAME", help="Without OLD and NEW: the last two scans of this site.")
@click.option("--format", "fmt", type=click.Choice(DIFF_FORMATS), default="table", show_default=True)
@click.option("--output", metavar="FILE", help="Write the diff to FILE instead of stdout.")
@click.option("--fail-on-new", type=click.Choice(FAIL_ON), default="none", show_default=True,
              help="Exit 1 when a finding at or above this severity is newly open.")
@click.option("--include-partial", is_flag=True, help="Let interrupted (partial) scans be picked by default.")
def diff_cmd(old: str | None, new: str | None, store_path: str | None, site: str | None, fmt: str,
             output: str | None, fail_on_new: str, include_partial: bool) -> None:
    """What changed between two scans: OLD and NEW are stored scan ids or JSON result files.

    Without them: the last two complete scans of the newest scan's site and targets (--site: of that site)."""
    if new is None and old is not None:
        raise click.UsageError("give both OLD and NEW, or neither")
    if output and not Path(output).resolve().parent.is_dir():
        raise InputError("output directory does not exist", output)
    if old is None or new is None or old.isdigit() or new.isdigit():
        with Store(store_path, readonly=True) as store:
            pair = _stored_pair(store, old, new, include_partial, site)
            if pair is None:  # the first night of a schedule: nothing to compare yet, and no error
                of_site = f" of site {terminal_safe(site, 60)}" if site else ""
                note = (f"nothing to compare yet: fewer than two complete scans{of_site} of the same targets in "
                        f"{store.location}" + ("" if include_partial else " (partial scans are left out)"))
                if output:
                    write_atomic(output, note + "\n")
                click.echo(f"cityscan: {note}", err=True)
                sys.exit(EXIT_OK)
            before, after = pair
    else:
        before, after = load_result(old), load_result(new)
    changes = diff(before, after)
    text = render_diff(changes, fmt)
    if output:
        write_atomic(output, text)
        click.echo(f"cityscan: diff written to {output}", err=True)
    else:
        click.echo(text, nl=False)
    sys.exit(EXIT_FINDINGS if has_new_at_or_above(changes, fail_on_new) else EXIT_OK)


def _stored_pair(store: Store, old: str | None, new: str | None, include_partial: bool,
                 site: str | None = None) -> tuple[ScanResult, ScanResult] | None:
    """OLD and NEW as scan ids or JSON files; without them the last two scans of one site and targets."""
    if old is None or new is None:
        last = store.last_two(include_partial=include_partial, site=site)
        if last is None:
            return None
        old, new = str(last[0].id), str(last[1].id)
    return (store.load(int(old)) if old.isdigit() else load_result(old),
            store.load(int(new)) if new.isdigit() else load_result(new))


@cli.command()
@_store_option
@click.option("--site", metavar="NAME", help="Only this site.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def fleet(store_path: str | None, site: str | None, fmt: str) -> None:
    """Per site: the last scan, its devices, open findings by severity, and findings new since the site's previous scan."""
    with Store(store_path, readonly=True) as store:
        sites = store.fleet(site=site)
        location = store.location
    if fmt == "json":
        click.echo(json.dumps([s.to_dict() for s in sites], indent=2))
        return
    if not sites:
        click.echo(f"cityscan: no scans{' of site ' + terminal_safe(site, 60) if site else ''} in {location}",
                   err=True)
        return
    click.echo(tabulate([_fleet_row(s) for s in sites],
                        headers=["Site", "Last scan", "Scan", "Targets", "Devices", *SEVERITY_HEADERS, "New",
                                 "Scans"]))


SEVERITY_HEADERS = ["Critical", "High", "Medium", "Low", "Info"]


def _fleet_row(s: SiteSummary) -> list[object]:
    """One site: figures from its newest complete scan; a newer interrupted scan is marked."""
    last = terminal_safe(s.last_started_at, 40) + (" (partial)" if s.last_partial else "")
    counts = [s.open_findings.get(h.lower(), 0) if s.scan_id is not None else "-" for h in SEVERITY_HEADERS]
    new = "-" if s.new_findings is None else s.new_findings
    return [terminal_safe(s.site or "(no site)", 40), last, s.scan_id if s.scan_id is not None else "-",
            terminal_safe(s.targets_key or "-", 40), s.devices if s.scan_id is not None else "-", *counts, new,
            s.scans]


@cli.group("store")
def store_group() -> None:
    """The scan store itself: migrate its schema, push results saved while it was out of reach."""


@store_group.command("migrate")
@_store_option
def store_migrate(store_path: str | None) -> None:
    """Bring the store's schema to this cityscan's version (a scan's save also does this)."""
    store = Store(store_path)
    try:
        applied = store.migrate()
        version = store.version
    finally:
        store.close()
    for migration in applied:
        click.echo(f"cityscan: migrated {store.location} to version {migration.version}: {migration.title}", err=True)
    state = "migrated" if applied else "already current"
    click.echo(f"cityscan: store {store.location} is at version {version} ({state})", err=True)


@store_group.command("push")
@click.argument("results", nargs=-1, required=True, metavar="RESULT.json...")
@_store_option
def store_push(results: tuple[str, ...], store_path: str | None) -> None:
    """Save JSON results written earlier (e.g. while the database was out of reach) in the store.

    A result already in the store is recognised (same content) and not saved twice, so a
    retrying job can push the same files again."""
    loaded = [(path, load_result(path)) for path in results]  # every file checked before anything is saved
    with Store(store_path) as store:
        for path, result in loaded:
            scan_id, created = store.push(result)
            what = "saved as scan" if created else "already in the store as scan"
            click.echo(f"cityscan: {path}: {what} {scan_id} in {store.location}", err=True)
