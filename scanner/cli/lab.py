"""``cityscan lab``: the emulated city lab in network namespaces (root)."""

from __future__ import annotations

import sys

import click

from scanner.cli.app import cli, resolve_self
from scanner.lab import lab as lab_mod
from scanner.lab.devices import load_devices


@cli.group()
def lab() -> None:
    """The emulated city lab (Linux network namespaces; needs root)."""


@lab.command("list")
def lab_list() -> None:
    """List the emulated devices the lab can run."""
    for spec in load_devices():
        expect = spec.expect
        label = " ".join(str(expect.get(k) or "") for k in ("vendor", "model")).strip() or "unidentifiable"
        click.echo(f"{spec.name:28} {spec.ip:16} {spec.mac}  {label}{'  [hostile]' if spec.hostile else ''}")


@lab.command("up")
@click.option("--devices", metavar="NAME,...", help="Only these devices (default: all normal devices).")
@click.option("--hostile", is_flag=True, help="Add the hostile devices too.")
def lab_up(devices: str | None, hostile: bool) -> None:
    """Create the lab's namespaces and start its emulated devices."""
    names = [n.strip() for n in devices.split(",") if n.strip()] if devices else None
    state = lab_mod.up(names, hostile=hostile)
    click.echo(f"lab up: {len(state.devices)} devices on {lab_mod.LAB_NETWORK}; scanner namespace "
               f"{state.scanner_ns} at {lab_mod.SCANNER_IP}")
    click.echo(f"scan it with: cityscan lab exec -- cityscan scan {lab_mod.LAB_NETWORK} --policy eu-gdpr-baseline")


@lab.command("down")
def lab_down() -> None:
    """Remove the lab's namespaces and stop its devices."""
    removed = lab_mod.down()
    click.echo(f"lab down: removed {len(removed)} namespaces" if removed else "lab down: nothing to remove")


@lab.command("status")
def lab_status() -> None:
    """Show whether the lab is up and which devices run in it."""
    state = lab_mod.status()
    if state is None:
        click.echo("lab is down")
        return
    click.echo(f"lab is up: scanner namespace {state.scanner_ns} ({lab_mod.SCANNER_IP})")
    for dev in state.devices:
        click.echo(f"  {dev['name']:28} {dev['ip']:16} {dev['mac']}  namespace {dev['ns']}")


@lab.command("exec", context_settings={"ignore_unknown_options": True})
@click.argument("argv", nargs=-1, type=click.UNPROCESSED, required=True)
def lab_exec(argv: tuple[str, ...]) -> None:
    """Run a command inside the lab's scanner namespace (e.g. -- cityscan scan 198.51.100.0/24)."""
    sys.exit(lab_mod.exec_in_scanner(resolve_self(list(argv))))
