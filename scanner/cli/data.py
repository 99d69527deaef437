"""``cityscan data``: the data sets cityscan judges by."""

from __future__ import annotations

from scanner.cli.app import cli


@cli.group()
def data() -> None:
    """The data sets (fingerprints, countries, ownership, IP data) and their versions."""
