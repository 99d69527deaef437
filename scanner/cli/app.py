"""The ``cityscan`` command group, its error handling, and what every command shares.

Exit codes: 0 done, nothing at or above --fail-on; 1 findings at or above it; 2 bad usage or
bad input; 3 the scan could not run. Errors are one line on stderr; ``--debug`` shows tracebacks.
"""

from __future__ import annotations

import sys
import traceback
from pathlib import Path
from typing import Any

import click

from scanner import __version__
from scanner.errors import (
    EXIT_CANNOT_RUN,
    EXIT_OK,
    EXIT_USAGE,
    CityscanError,
    InputError,
)
from scanner.model import ScanResult
from scanner.report import EXTENSIONS, RenderOptions, render
from scanner.runtime.interrupt import ScanInterrupted
from scanner.runtime.output import write_atomic


class _State:
    debug = False


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cityscan")
@click.option("--debug", is_flag=True, help="Show tracebacks on errors.")
def cli(debug: bool) -> None:
    """cityscan: which devices are on a city network, who made them, where their data goes,
    and which rules they break."""
    _State.debug = debug


def resolve_self(argv: list[str]) -> list[str]:
    """``cityscan`` inside the namespace is this same installation, whatever PATH says there."""
    if argv and argv[0] == "cityscan":
        return [sys.executable, "-m", "scanner.cli", *argv[1:]]
    return argv


def plan_outputs(fmts: tuple[str, ...], outputs: tuple[str, ...], output_dir: str | None) -> list[tuple[str, str | None]]:
    """Pair formats with files: the n-th --output takes the n-th --format; the rest go to stdout (one at most).

    Checked before the scan, so a typo in an output path costs no scan time.
    """
    fmts = fmts or ("table",)
    if output_dir:
        if outputs:
            raise click.UsageError("give --output or --output-dir, not both")
        if not Path(output_dir).is_dir():
            raise InputError("output directory does not exist", output_dir)
        return [(f, str(Path(output_dir) / f"cityscan-report.{EXTENSIONS.get(f, f)}")) for f in dict.fromkeys(fmts)]
    if len(outputs) > len(fmts):
        raise click.UsageError("more --output files than --format options")
    plan: list[tuple[str, str | None]] = [(f, outputs[i] if i < len(outputs) else None) for i, f in enumerate(fmts)]
    if sum(1 for _, path in plan if path is None) > 1:
        raise click.UsageError("only one --format can go to stdout; give an --output for the others")
    for _, path in plan:
        if path and not Path(path).resolve().parent.is_dir():
            raise InputError("output directory does not exist", path)
    return plan


def emit(result: ScanResult, plan: list[tuple[str, str | None]], options: RenderOptions) -> None:
    """Render every format first, then write: a failing renderer leaves no partial set of files."""
    rendered = [(fmt, path, render(result, fmt, options)) for fmt, path in plan]
    for fmt, path, text in rendered:
        if path:
            write_atomic(path, text)
            click.echo(_summary(result, path), err=True)
        else:
            click.echo(text, nl=False)


def _summary(result: ScanResult, output: str) -> str:
    open_findings = [f for f in result.findings if not f.waived]
    return (f"cityscan: {len(result.devices)} devices, {len(open_findings)} findings "
            f"({len(result.findings) - len(open_findings)} waived); report written to {output}")


def main(argv: list[str] | None = None) -> Any:
    """Entry point: run the click group and turn every error into one line and an exit code."""
    try:
        cli.main(args=argv, prog_name="cityscan", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("cityscan: interrupted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        click.echo(f"cityscan: error: {exc.format_message()}", err=True)
        sys.exit(EXIT_USAGE)
    except CityscanError as exc:
        if _State.debug:
            traceback.print_exc()
        click.echo(f"cityscan: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except ScanInterrupted as exc:
        kept = " (what was collected is saved, marked partial)" if exc.result is not None else ""
        click.echo(f"cityscan: {exc}{kept}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("cityscan: interrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(EXIT_OK)
    except Exception as exc:  # noqa: BLE001 - last resort: never a bare traceback
        if _State.debug:
            traceback.print_exc()
        click.echo(f"cityscan: internal error: {type(exc).__name__}: {exc} (run with --debug for details)", err=True)
        sys.exit(EXIT_CANNOT_RUN)
    sys.exit(EXIT_OK)
