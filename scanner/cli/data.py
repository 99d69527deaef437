"""``cityscan data``: the data sets cityscan judges by."""

from __future__ import annotations

import os
from pathlib import Path

import click

from scanner.cli.app import cli
from scanner.knowledge.datafiles import user_data_dir
from scanner.knowledge.freshness import stale
from scanner.knowledge.loader import datasets_in_use
from scanner.knowledge.update import read_manifest
from scanner.knowledge.update import update as fetch_update


@cli.group()
def data() -> None:
    """The data sets (fingerprints, countries, ownership, IP data) and their versions."""


@data.command("list")
@click.option("--max-age", "max_age", type=click.IntRange(min=0), default=None,
              help="Warn about data sets older than this many days (default $CITYSCAN_DATA_MAX_AGE_DAYS, else 365; 0: never).")
def data_list(max_age: int | None) -> None:
    """The data sets in use (bundled, or installed by `data update`), with their versions and dates."""
    used = [d.to_dict() for d in datasets_in_use()]
    for item in used:
        click.echo(f"{item['name']}\t{item['version'] or '-'}\t{item['date'] or '-'}\t{item['source']}")
    for warning in stale(used, max_age):
        click.echo(f"cityscan: warning: {warning}", err=True)


@data.command("update")
@click.option("--mirror", default=lambda: os.environ.get("CITYSCAN_DATA_MIRROR"), metavar="URL",
              help="Where the pinned files are served (default $CITYSCAN_DATA_MIRROR).")
@click.option("--manifest", "manifest_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="A newer pinned manifest (JSON) instead of the one shipped with cityscan.")
@click.option("--dataset", "only", multiple=True, help="Update only this data set (repeatable).")
@click.option("--data-dir", "target", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Install into this directory (default $CITYSCAN_DATA_DIR, else ~/.local/share/cityscan/data).")
@click.option("--timeout", type=click.FloatRange(min=0.1, max=600), default=30.0, show_default=True,
              help="Seconds to wait for each download.")
def data_update(mirror: str | None, manifest_path: Path | None, only: tuple[str, ...], target: Path | None,
                timeout: float) -> None:
    """Fetch the pinned, checksummed versions of the external data sets into the user's data directory.

    Nothing is installed unless every file matches its pinned SHA-256; the bundled snapshot stays
    the offline default and is used again when the installed files are removed.
    """
    target = target or user_data_dir()
    done = fetch_update(mirror, read_manifest(manifest_path), target, set(only) or None, timeout=timeout)
    for dataset in done:
        click.echo(f"{dataset.name}: {dataset.version} ({dataset.date or 'undated'}) installed in {target}")
