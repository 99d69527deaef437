"""``cityscan history`` and ``diff``: the scan history of scheduled scans."""

from __future__ import annotations

import json
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
from scanner.history.diff import diff, has_new_at_or_above
from scanner.history.results import load_result
from scanner.history.store import Store
from scanner.model import FAIL_ON, ScanResult
from scanner.model.text import terminal_safe
from scanner.report.diff import DIFF_FORMATS, render_diff
from scanner.runtime.output import write_atomic


@cli.command()
@click.option("--store", "store_path", metavar="FILE", envvar="CITYSCAN_STORE", help="Scan history (SQLite).")
@click.option("--limit", type=click.IntRange(1), default=20, show_default=True, help="Newest N scans.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def history(store_path: str | None, limit: int, fmt: str) -> None:
    """List stored scans, newest first."""
    with Store(store_path, readonly=True) as store:
        scans = store.list(limit=limit)
    if fmt == "json":
        click.echo(json.dumps([s.to_dict() for s in scans], indent=2))
        return
    rows = [[s.id, s.started_at, terminal_safe(s.targets_key, 60), terminal_safe(s.policy_name or "-", 30),
             s.devices, s.destinations, " ".join(f"{k}:{v}" for k, v in s.open_findings.items() if v) or "-",
             s.waived_findings, "partial" if s.partial else "complete"] for s in scans]
    click.echo(tabulate(rows, headers=["ID", "Started", "Targets", "Policy", "Devices", "Dest.", "Open findings",
                                       "Waived", "State"]))


@cli.command("diff")
@click.argument("old", required=False, metavar="[OLD]")
@click.argument("new", required=False, metavar="[NEW]")
@click.option("--store", "store_path", metavar="FILE", envvar="CITYSCAN_STORE", help="Scan history (SQLite).")
@click.option("--format", "fmt", type=click.Choice(DIFF_FORMATS), default="table", show_default=True)
@click.option("--output", metavar="FILE", help="Write the diff to FILE instead of stdout.")
@click.option("--fail-on-new", type=click.Choice(FAIL_ON), default="none", show_default=True,
              help="Exit 1 when a finding at or above this severity is newly open.")
@click.option("--include-partial", is_flag=True, help="Let interrupted (partial) scans be picked by default.")
def diff_cmd(old: str | None, new: str | None, store_path: str | None, fmt: str, output: str | None,
             fail_on_new: str, include_partial: bool) -> None:
    """What changed between two scans: OLD and NEW are stored scan ids or JSON result files.

    Without them: the last two complete scans of the newest scan's targets."""
    if new is None and old is not None:
        raise click.UsageError("give both OLD and NEW, or neither")
    if output and not Path(output).resolve().parent.is_dir():
        raise InputError("output directory does not exist", output)
    if old is None or new is None or old.isdigit() or new.isdigit():
        with Store(store_path, readonly=True) as store:
            pair = _stored_pair(store, old, new, include_partial)
            if pair is None:  # the first night of a schedule: nothing to compare yet, and no error
                note = ("nothing to compare yet: fewer than two complete scans of the same targets in "
                        f"{store.path}" + ("" if include_partial else " (partial scans are left out)"))
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


def _stored_pair(store: Store, old: str | None, new: str | None,
                 include_partial: bool) -> tuple[ScanResult, ScanResult] | None:
    """OLD and NEW as scan ids or JSON files; without them the last two scans of the same targets."""
    if old is None or new is None:
        last = store.last_two(include_partial=include_partial)
        if last is None:
            return None
        old, new = str(last[0].id), str(last[1].id)
    return (store.load(int(old)) if old.isdigit() else load_result(old),
            store.load(int(new)) if new.isdigit() else load_result(new))
