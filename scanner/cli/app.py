"""The ``cityscan`` command group, its error handling, and what every command shares.

Exit codes: 0 done, nothing at or above --fail-on; 1 findings at or above it; 2 bad usage or
bad input; 3 the scan could not run. Errors are one line on stderr; ``--debug`` shows tracebacks.
"""

from __future__ import annotations

import shutil
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
    InputErrors,
)
from scanner.collect.flows.groups import describe as flows_core
from scanner.knowledge.loader import datasets_in_use
from scanner.model import ScanResult
from scanner.report import EXTENSIONS, RenderOptions, render
from scanner.runtime.interrupt import ScanInterrupted
from scanner.runtime.output import is_special, write_atomic


def _version(ctx: click.Context, value: bool) -> None:
    """``cityscan --version``: the program and every data set's version and date (what a verdict rests on)."""
    if not value or ctx.resilient_parsing:
        return
    click.echo(f"cityscan {__version__}")
    for dataset in datasets_in_use():
        click.echo(f"  {dataset.name} {dataset.version or '-'} ({dataset.date or 'undated'}): {dataset.source}")
    click.echo(f"Zeek conn logs are folded by {flows_core()}")
    ctx.exit()


class _State:
    debug = False


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=lambda ctx, _, value: _version(ctx, value),
              help="Show the version and the data sets it judges by, then exit.")
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


def name_environment(group: click.Group, prefix: str) -> None:
    """Give every option without a variable of its own one named after the command and the option
    itself: ``cityscan scan --fail-on`` reads ``CITYSCAN_SCAN_FAIL_ON``."""
    for name, command in group.commands.items():
        here = f"{prefix}_{name.upper().replace('-', '_')}"
        if isinstance(command, click.Group):
            name_environment(command, here)
        for param in command.params:
            if isinstance(param, click.Option) and not param.envvar and not param.hidden:
                flag = next((o for o in param.opts if o.startswith("--")), None)
                if flag and flag not in ("--help", "--version"):
                    param.envvar = f"{here}_{flag[2:].upper().replace('-', '_')}"
                    param.show_envvar = True


def terminal_width() -> int | None:
    """The width of the terminal stdout is, for the table (None when stdout is a file or a pipe)."""
    return shutil.get_terminal_size().columns if sys.stdout.isatty() else None


# What an output file's name says its format is (a file named by its extension needs no --format).
BY_EXTENSION = {".txt": "table", ".log": "table", ".json": "json", ".csv": "csv", ".sarif": "sarif",
                ".xml": "junit", ".md": "markdown", ".markdown": "markdown", ".html": "html", ".htm": "html"}


def format_of(path: str) -> str | None:
    name = path.lower()
    if name.endswith(".sarif.json"):
        return "sarif"
    return BY_EXTENSION.get(Path(name).suffix)


def plan_outputs(fmts: tuple[str, ...], outputs: tuple[str, ...], output_dir: str | None) -> list[tuple[str, str | None]]:
    """Pair formats with files, refusing anything ambiguous; checked before the scan costs time.

    A file whose extension names a format (``j.xml`` is JUnit, ``r.sarif`` SARIF) gets that format,
    which must then be one of the ``--format`` options if any were given; files without such an
    extension take the remaining formats in order. What has no file goes to stdout (one at most).
    """
    if output_dir:
        if outputs:
            raise click.UsageError("give --output or --output-dir, not both")
        try:
            Path(output_dir).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"cannot create the output directory: {exc.strerror}", output_dir) from None
        return [(f, str(Path(output_dir) / f"cityscan-report.{EXTENSIONS.get(f, f)}")) for f in dict.fromkeys(fmts or ("table",))]
    remaining = list(fmts)
    plan: list[tuple[str, str | None]] = []
    unnamed: list[str] = []
    for path in outputs:
        implied = format_of(path)
        if implied is None:
            unnamed.append(path)
        elif not fmts or implied in remaining:
            plan.append((implied, path))
            if implied in remaining:
                remaining.remove(implied)
        else:
            given = ", ".join(fmts)
            raise click.UsageError(f"{path}: the name says {implied}, but the formats given are {given}; "
                                   f"add --format {implied} or rename the file")
    for unnamed_path in unnamed:
        if not remaining:
            raise click.UsageError(f"{unnamed_path}: which format? give a --format for it (or a file name ending "
                                   f"in {', '.join(sorted(set(BY_EXTENSION)))})")
        plan.append((remaining.pop(0), unnamed_path))
    if not plan and not remaining:
        remaining = ["table"]
    plan += [(f, None) for f in remaining]
    if sum(1 for _, path in plan if path is None) > 1:
        raise click.UsageError("only one --format can go to stdout; give an --output for the others")
    seen: dict[str, str] = {}
    for fmt, target in plan:
        if target is None:
            continue
        real = str(Path(target).resolve())
        if real in seen and not is_special(real):
            raise click.UsageError(f"{target}: two reports ({seen[real]} and {fmt}) would be written to one file")
        seen[real] = fmt
        if not Path(target).resolve().parent.is_dir():
            raise InputError("output directory does not exist", target)
    return plan


def emit(result: ScanResult, plan: list[tuple[str, str | None]], options: RenderOptions, quiet: bool = False) -> None:
    """Render every format first, then write: a failing renderer leaves no partial set of files."""
    rendered = [(fmt, path, render(result, fmt, options)) for fmt, path in plan]
    for fmt, path, text in rendered:
        if path:
            write_atomic(path, text)
            if not quiet:
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
        # every option can come from the environment: CITYSCAN_<COMMAND>_<OPTION> (name_environment)
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
        for line in exc.lines() if isinstance(exc, InputErrors) else [str(exc)]:
            click.echo(f"cityscan: error: {line}", err=True)
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
