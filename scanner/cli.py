"""The ``cityscan`` command. Thin: it parses options, calls the stages, maps errors to exit codes.

Exit codes: 0 done, nothing at or above --fail-on; 1 findings at or above it; 2 bad usage or
bad input; 3 the scan could not run. Errors are one line on stderr; ``--debug`` shows tracebacks.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import traceback
from pathlib import Path
from typing import Any

import click
from tabulate import tabulate

from scanner import __version__
from scanner.collect.credentials import load_credentials
from scanner.collect.flows import FORMATS as FLOW_FORMATS
from scanner.collect.scope import Scope, parse_network
from scanner.config import ScanConfig, load_config, online_lookups
from scanner.errors import (
    EXIT_CANNOT_RUN,
    EXIT_FINDINGS,
    EXIT_OK,
    EXIT_USAGE,
    CityscanError,
    InputError,
)
from scanner.history.diff import diff, has_new_at_or_above
from scanner.history.results import load_result
from scanner.history.store import Store
from scanner.identify.selftest import check_db
from scanner.judge.policy import load_policy
from scanner.judge.waivers import load_waivers
from scanner.knowledge.fingerprints import load_db
from scanner.knowledge.paths import recorded_scan_path, sample_configs_dir
from scanner.lab import lab as lab_mod
from scanner.lab.accounts import LAB_PASSWORD, LAB_PASSWORD_ENV
from scanner.lab.devices import load_devices
from scanner.model import FAIL_ON, ScanResult
from scanner.model.text import terminal_safe
from scanner.pipeline import ScanRequest, describe, identify, judge, resolve, run_scan
from scanner.report import EXTENSIONS, FORMATS, RenderOptions, render
from scanner.report.diff import DIFF_FORMATS, render_diff
from scanner.runtime.interrupt import ScanInterrupted, interruptible
from scanner.runtime.output import write_atomic
from scanner.runtime.progress import Progress

DEMO_CAPTURE_SECONDS = 15


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
@click.option("--flows", "flows", multiple=True, metavar="FILE",
              help="Traffic records: Zeek conn/dns log, flow CSV or pcap (repeatable; format sniffed).")
@click.option("--flows-format", type=click.Choice(["auto", *FLOW_FORMATS]), default="auto", show_default=True,
              help="Format of every --flows file, when sniffing is not wanted.")
@click.option("--capture", "capture_iface", metavar="IFACE",
              help="Capture traffic on IFACE while the scan runs (root, tcpdump) and map where devices talk to.")
@click.option("--capture-seconds", type=click.IntRange(1, 86400), default=30, show_default=True,
              help="How long --capture listens; the scan waits for it.")
@click.option("--ports", metavar="LIST", help="Ports to scan, e.g. 80,443,554,8000-8100.")
@click.option("--offline/--online", "offline", default=None,
              help="--offline (default): no DNS, RDAP or web look-ups at all.")
@click.option("--format", "fmts", type=click.Choice(sorted(FORMATS)), multiple=True,
              help="Report format (repeatable; default table).")
@click.option("--output", "outputs", metavar="FILE", multiple=True,
              help="Write the report to FILE (repeatable: the n-th --output takes the n-th --format).")
@click.option("--output-dir", "output_dir", metavar="DIR", help="Write every --format to DIR/cityscan-report.EXT.")
@click.option("--csv-kind", type=click.Choice(["findings", "devices", "destinations"]), default="findings",
              show_default=True, help="What the csv format lists.")
@click.option("--fail-on", "fail_on", type=click.Choice(FAIL_ON), default=None,
              help="Exit 1 when an unwaived finding has this severity or higher (default: the policy's fail_on, else high).")
@click.option("--store", "store_path", metavar="FILE", envvar="CITYSCAN_STORE",
              help="Scan history (SQLite) to save the result in [default: $CITYSCAN_STORE, else "
                   "~/.local/share/cityscan/scans.db].")
@click.option("--no-store", is_flag=True, help="Do not save this scan in the history.")
@click.option("--credentials", "credentials_path", metavar="FILE", envvar="CITYSCAN_CREDENTIALS",
              help="Read-only accounts for authenticated checks of devices you own (YAML; passwords from the "
                   "environment or files, never from the command line).")
@click.option("--quiet", "-q", is_flag=True, help="No progress display.")
@click.option("--verbose", "-v", is_flag=True, help="Progress as one line per step on stderr (for logs).")
def scan(targets: tuple[str, ...], config_path: str | None, scope: tuple[str, ...], policy_path: str | None,
         waivers_path: str | None, nmap_xml: tuple[str, ...], flows: tuple[str, ...], flows_format: str,
         capture_iface: str | None, capture_seconds: int, ports: str | None,
         offline: bool | None, fmts: tuple[str, ...], outputs: tuple[str, ...], output_dir: str | None,
         csv_kind: str, fail_on: str | None, store_path: str | None, no_store: bool, credentials_path: str | None,
         quiet: bool, verbose: bool) -> None:
    """Scan TARGETS (IP addresses or CIDR networks) and/or import nmap XML, then judge by a policy."""
    cfg = load_config(config_path) if config_path else ScanConfig()
    target_strings = list(targets) or cfg.targets
    nets = [parse_network(t, "target", cfg.source if not targets else None) for t in target_strings]
    request = ScanRequest(
        targets=nets,
        scope=Scope.build(list(scope) or cfg.scope, nets),
        nmap_xml=list(nmap_xml) or cfg.nmap_xml,
        flows=list(flows) or cfg.flows,
        flows_format=None if flows_format == "auto" else flows_format,
        capture_iface=capture_iface,
        capture_seconds=capture_seconds,
        ports=ports or cfg.ports,
        timing=cfg.timing,
        offline=cfg.offline if offline is None else offline,
        snmp_community=cfg.snmp_community,
        progress=None if quiet else Progress(plain=verbose),
    )
    if not request.targets and not request.nmap_xml:
        raise click.UsageError("nothing to scan: give TARGETS, --nmap-xml FILE or a --config with targets")
    if not request.offline:
        request.online = online_lookups(cfg)
    policy_ref = policy_path or cfg.policy
    request.policy = load_policy(policy_ref) if policy_ref else None
    waivers_ref = waivers_path or cfg.waivers
    request.waivers = load_waivers(waivers_ref) if waivers_ref else []
    credentials_ref = credentials_path or cfg.credentials
    request.credentials = load_credentials(credentials_ref) if credentials_ref else []
    threshold = fail_on or cfg.fail_on or (request.policy.fail_on if request.policy else None) or "high"
    if fmts or outputs or output_dir:
        targets_out = plan_outputs(fmts, outputs, output_dir)
    else:
        targets_out = [(o.format, o.path) for o in cfg.outputs] or [("table", None)]
    options = RenderOptions(fail_on=threshold, csv_kind=csv_kind)
    # The store is opened (and locked) before the scan: a busy or broken store costs no scan time.
    with Store(store_path) if not no_store else contextlib.nullcontext() as store, interruptible() as stop:
        try:
            result = run_scan(request)
        except ScanInterrupted as exc:
            if exc.result is not None:
                with stop.deferred():
                    _keep(exc.result, store, targets_out, options)
            raise
        with stop.deferred():  # a signal now would only tear the save or a report in half
            _keep(result, store, targets_out, options)
    sys.exit(EXIT_FINDINGS if result.open_at_or_above(threshold) else EXIT_OK)


def _keep(result: ScanResult, store: Store | None, plan: list[tuple[str, str | None]], options: RenderOptions) -> None:
    """Save to the history, then write the reports: a partial result is kept the same way."""
    if store is not None:
        scan_id = store.save(result)
        if result.scan.partial:  # a complete scan is saved silently; `cityscan history` lists it
            click.echo(f"cityscan: partial scan {scan_id} saved in {store.path}", err=True)
    _emit(result, plan, options)


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


@cli.command()
@click.argument("scan_file", metavar="SCAN.json")
@click.option("--policy", "policy_path", metavar="FILE", help="Re-evaluate under this policy.")
@click.option("--waivers", "waivers_path", metavar="FILE", help="Waivers file (YAML).")
@click.option("--format", "fmts", type=click.Choice(sorted(FORMATS)), multiple=True, help="Report format (repeatable).")
@click.option("--output", "outputs", metavar="FILE", multiple=True, help="Output file (repeatable, one per --format).")
@click.option("--output-dir", "output_dir", metavar="DIR", help="Write every --format to DIR/cityscan-report.EXT.")
@click.option("--csv-kind", type=click.Choice(["findings", "devices", "destinations"]), default="findings",
              show_default=True)
@click.option("--fail-on", "fail_on", type=click.Choice(FAIL_ON), default=None,
              help="Exit 1 when an unwaived finding has this severity or higher (default: the policy's, else high).")
def report(scan_file: str, policy_path: str | None, waivers_path: str | None, fmts: tuple[str, ...],
           outputs: tuple[str, ...], output_dir: str | None, csv_kind: str, fail_on: str | None) -> None:
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
        judge(result, policy, waivers)
    threshold = fail_on or (policy.fail_on if policy_path and policy else None) or "high"
    targets_out = plan_outputs(fmts or ("table",), outputs, output_dir)
    describe(result)  # an older stored result lacks the country names the reports show
    _emit(result, targets_out, RenderOptions(fail_on=threshold, csv_kind=csv_kind))
    sys.exit(EXIT_FINDINGS if result.open_at_or_above(threshold) else EXIT_OK)


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
    sys.exit(lab_mod.exec_in_scanner(_resolve_self(list(argv))))


@cli.command()
@click.option("--policy", "policy_ref", default="eu-gdpr-baseline", show_default=True,
              help="Policy file or built-in policy name.")
@click.option("--format", "fmt", type=click.Choice(sorted(FORMATS)), default="table", show_default=True)
@click.option("--output", "output", metavar="FILE")
@click.option("--replay", is_flag=True, help="Do not build the lab: replay the recorded lab scan.")
def demo(policy_ref: str, fmt: str, output: str | None, replay: bool) -> None:
    """Bring the lab up, scan it with a sample policy, print the report, take the lab down.

    Without root (or with --replay) it replays a recorded scan of the same lab instead."""
    load_policy(policy_ref)  # a bad policy fails before the lab is built
    if not replay and os.geteuid() != 0:
        click.echo("cityscan: the live lab needs root (network namespaces); replaying the recorded lab scan",
                   err=True)
        replay = True
    if replay:
        result = judge(resolve(identify(load_result(str(recorded_scan_path())))), load_policy(policy_ref))
        _emit(result, plan_outputs((fmt,), (output,) if output else (), None), RenderOptions())
        sys.exit(EXIT_OK)
    state = lab_mod.up()
    click.echo(f"cityscan demo: lab up with {len(state.devices)} emulated devices; scanning from namespace "
               f"{state.scanner_ns}", err=True)
    try:
        argv = [sys.executable, "-m", "scanner.cli", "scan", lab_mod.LAB_NETWORK, "--config",
                str(sample_configs_dir() / "scan-lab.yaml"), "--policy", policy_ref, "--format", fmt,
                "--fail-on", "none", "--no-store",
                # the lab's own read-only audit account: the password goes by the environment, not argv
                "--credentials", str(sample_configs_dir() / "lab-credentials.yaml")]
        os.environ[LAB_PASSWORD_ENV] = LAB_PASSWORD
        if shutil.which("tcpdump"):  # the devices call their clouds every 10 s: listen for it
            argv += ["--capture", "eth0", "--capture-seconds", str(DEMO_CAPTURE_SECONDS)]
        if output:
            argv += ["--output", str(Path(output).resolve())]
        code = lab_mod.exec_in_scanner(argv)
    finally:
        lab_mod.down()
        click.echo("cityscan demo: lab down", err=True)
    sys.exit(code)


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


def _resolve_self(argv: list[str]) -> list[str]:
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


def _emit(result: ScanResult, plan: list[tuple[str, str | None]], options: RenderOptions) -> None:
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


if __name__ == "__main__":
    main()
