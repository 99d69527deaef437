"""The ``cityscan`` command. Thin: it parses options, calls the stages, maps errors to exit codes.

Exit codes: 0 done, nothing at or above --fail-on; 1 findings at or above it; 2 bad usage or
bad input; 3 the scan could not run. Errors are one line on stderr; ``--debug`` shows tracebacks.
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path
from typing import Any

import click

from . import __version__
from .config import FAIL_ON, ScanConfig, load_config
from .errors import EXIT_CANNOT_RUN, EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, CityscanError, InputError
from .evaluate import evaluate, gate
from .model import ScanResult
from .output import write_atomic
from .pipeline import ScanRequest, run_scan
from .policy import load_policy
from .report import FORMATS, render
from .scope import Scope, parse_network
from .waivers import load_waivers

MAX_RESULT_BYTES = 512 * 1024 * 1024


class _State:
    debug = False


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cityscan")
@click.option("--debug", is_flag=True, help="Show tracebacks on errors.")
def cli(debug: bool) -> None:
    """cityscan: which devices are on a city network, who made them, where their data goes,
    and which rules they break."""
    _State.debug = debug


@cli.command()
@click.argument("targets", nargs=-1)
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="Scan configuration (YAML).")
@click.option("--scope", "scope", multiple=True, metavar="CIDR",
              help="Networks the scan may touch (repeatable). Default: the targets themselves.")
@click.option("--policy", "policy_path", metavar="FILE", help="Policy file or built-in policy name.")
@click.option("--waivers", "waivers_path", metavar="FILE", help="Waivers file (YAML).")
@click.option("--nmap-xml", "nmap_xml", multiple=True, metavar="FILE", help="Import nmap XML output (repeatable).")
@click.option("--flows", "flows", multiple=True, metavar="FILE", help="Traffic observations (repeatable).")
@click.option("--ports", metavar="LIST", help="Ports to scan, e.g. 80,443,554,8000-8100.")
@click.option("--offline/--online", "offline", default=None,
              help="--offline (default): no DNS, RDAP or web look-ups at all.")
@click.option("--format", "fmt", type=click.Choice(sorted(FORMATS)), default=None, help="Output format (default table).")
@click.option("--output", "output", metavar="FILE", help="Write the report to FILE instead of stdout.")
@click.option("--fail-on", "fail_on", type=click.Choice(FAIL_ON), default=None,
              help="Exit 1 when an unwaived finding has this severity or higher (default high).")
def scan(targets: tuple[str, ...], config_path: str | None, scope: tuple[str, ...], policy_path: str | None,
         waivers_path: str | None, nmap_xml: tuple[str, ...], flows: tuple[str, ...], ports: str | None,
         offline: bool | None, fmt: str | None, output: str | None, fail_on: str | None) -> None:
    """Scan TARGETS (IP addresses or CIDR networks) and/or import nmap XML, then judge by a policy."""
    cfg = load_config(config_path) if config_path else ScanConfig()
    target_strings = list(targets) or cfg.targets
    nets = [parse_network(t, "target", cfg.source if not targets else None) for t in target_strings]
    request = ScanRequest(
        targets=nets,
        scope=Scope.build(list(scope) or cfg.scope, nets),
        nmap_xml=list(nmap_xml) or cfg.nmap_xml,
        flows=list(flows) or cfg.flows,
        ports=ports or cfg.ports,
        timing=cfg.timing,
        offline=cfg.offline if offline is None else offline,
    )
    if not request.targets and not request.nmap_xml:
        raise click.UsageError("nothing to scan: give TARGETS, --nmap-xml FILE or a --config with targets")
    policy_ref = policy_path or cfg.policy
    request.policy = load_policy(policy_ref) if policy_ref else None
    waivers_ref = waivers_path or cfg.waivers
    request.waivers = load_waivers(waivers_ref) if waivers_ref else []
    fmt = fmt or (cfg.outputs[0].format if cfg.outputs else "table")
    output = output or (cfg.outputs[0].path if cfg.outputs else None)
    _check_output(output)
    result = run_scan(request)
    _emit(result, fmt, output)
    threshold = fail_on or cfg.fail_on or (request.policy.fail_on if request.policy else None) or "high"
    sys.exit(EXIT_FINDINGS if gate(result, threshold) else EXIT_OK)


@cli.command()
@click.argument("scan_file", metavar="SCAN.json")
@click.option("--policy", "policy_path", metavar="FILE", help="Re-evaluate under this policy.")
@click.option("--waivers", "waivers_path", metavar="FILE", help="Waivers file (YAML).")
@click.option("--format", "fmt", type=click.Choice(sorted(FORMATS)), default="table", show_default=True)
@click.option("--output", "output", metavar="FILE")
@click.option("--fail-on", "fail_on", type=click.Choice(FAIL_ON), default=None,
              help="Exit 1 when an unwaived finding has this severity or higher (default: the policy's, else high).")
def report(scan_file: str, policy_path: str | None, waivers_path: str | None, fmt: str, output: str | None,
           fail_on: str) -> None:
    """Render a stored JSON result, optionally re-judged under another policy, without rescanning."""
    result = load_result(scan_file)
    policy = None
    if policy_path or waivers_path:
        policy = load_policy(policy_path) if policy_path else None
        waivers = load_waivers(waivers_path) if waivers_path else []
        if policy is None:
            stored = (result.scan.policy or {}).get("files") or []
            if not stored:
                raise InputError("the stored scan names no policy; give --policy", scan_file)
            policy = load_policy(stored[0])
        evaluate(result, policy, waivers)
    _check_output(output)
    _emit(result, fmt, output)
    threshold = fail_on or (policy.fail_on if policy_path and policy else None) or "high"
    sys.exit(EXIT_FINDINGS if gate(result, threshold) else EXIT_OK)


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


def load_result(path: str) -> ScanResult:
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_RESULT_BYTES + 1)
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", path) from None
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        line = getattr(exc, "lineno", None)
        raise InputError(f"not a cityscan JSON result: {getattr(exc, 'msg', exc)}", path, line) from None
    if not isinstance(doc, dict) or doc.get("schema_version") != 1 or "devices" not in doc:
        raise InputError("not a cityscan JSON result (schema_version 1)", path)
    try:
        return ScanResult.from_dict(doc)
    except (TypeError, ValueError, AttributeError) as exc:
        raise InputError(f"malformed cityscan JSON result: {exc}", path) from None


def _check_output(output: str | None) -> None:
    if output and not Path(output).resolve().parent.is_dir():
        raise InputError("output directory does not exist", output)


def _emit(result: ScanResult, fmt: str, output: str | None) -> None:
    text = render(result, fmt)
    if output:
        write_atomic(output, text)
        click.echo(_summary(result, output), err=True)
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


if __name__ == "__main__":
    main()
