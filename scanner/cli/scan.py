"""``cityscan scan``, ``report`` and ``demo``: a scan, a stored result re-rendered, the lab demo."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from collections import Counter
from pathlib import Path

import click

from scanner.collect.credentials import load_credentials
from scanner.collect.flows import FORMATS as FLOW_FORMATS
from scanner.collect.nmap import OT_UNPRIVILEGED, UNPRIVILEGED, privileged
from scanner.collect.scope import (
    Scope,
    hosts_file,
    parse_target,
    read_target_list,
    resolve_host,
)
from scanner.config import ScanConfig, discover_config, load_config, online_lookups
from scanner.errors import (
    EXIT_FINDINGS,
    EXIT_OK,
    CityscanError,
    InputError,
)
from scanner.history.results import load_result
from scanner.model.vocabulary import EVIDENCE_MODES
from scanner.history.store import Store
from scanner.history.unsent import keep_unsent
from scanner.judge.policy import DEFAULT_POLICY, load_policy, policy_of
from scanner.judge.inventory import load_inventory
from scanner.judge.waivers import load_waivers
from scanner.knowledge.paths import recorded_scan_path, sample_configs_dir
from scanner.lab import lab as lab_mod
from scanner.lab.accounts import LAB_PASSWORD, LAB_PASSWORD_ENV
from scanner.model import FAIL_ON, ScanResult
from scanner.pipeline import ScanRequest, describe, identify, judge, resolve, run_scan
from scanner.report import FORMATS, RenderOptions
from scanner.runtime.interrupt import ScanInterrupted, interruptible
from scanner.runtime.progress import Progress

DEMO_CAPTURE_SECONDS = 15
from scanner.cli.app import cli, emit, plan_outputs, terminal_width


@cli.command()
@click.argument("targets", nargs=-1)
@click.option("-iL", "--targets-file", "target_list", metavar="FILE",
              help="Read targets from FILE, as nmap -iL: one or more per line, # comments.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="Scan configuration (YAML).")
@click.option("--scope", "scope", multiple=True, metavar="CIDR",
              help="Networks the scan may touch (repeatable). Default: the targets themselves.")
@click.option("--policy", "policy_path", metavar="FILE", help="Policy file or built-in policy name.")
@click.option("--waivers", "waivers_path", metavar="FILE", help="Waivers file (YAML).")
@click.option("--inventory", "inventory_path", metavar="FILE",
              help="The devices the segment should hold (YAML): report any missing, unexpected or swapped.")
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
@click.option("--ot/--no-ot", "ot", default=None,
              help="Also scan the OT ports (S7 102, Modbus 502, DNP3 20000, EtherNet/IP 44818; BACnet UDP 47808 "
                   "when privileged) and run nmap's read-only identification scripts on them (s7-info, "
                   "modbus-discover, bacnet-info, enip-info). Off by default: without it nothing is sent to them.")
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
@click.option("--store", "store_path", metavar="FILE|URL", envvar="CITYSCAN_STORE",
              help="Scan history to save the result in: a SQLite file or a postgresql:// URL [default: "
                   "$CITYSCAN_STORE, else ~/.local/share/cityscan/scans.db].")
@click.option("--no-store", is_flag=True, help="Do not save this scan in the history.")
@click.option("--fingerprints", "fingerprint_dirs", metavar="DIR", multiple=True,
              help="A site's own fingerprint files (*.yaml, validated like the shipped ones), besides the "
                   "shipped database (repeatable).")
@click.option("--site", metavar="NAME", envvar="CITYSCAN_SITE",
              help="Which part of the city this scan covers (e.g. traffic-control); kept with the scan in the history.")
@click.option("--credentials", "credentials_path", metavar="FILE", envvar="CITYSCAN_CREDENTIALS",
              help="Read-only accounts for authenticated checks of devices you own (YAML; passwords from the "
                   "environment or files, never from the command line).")
@click.option("--evidence", type=click.Choice(EVIDENCE_MODES), default=None,
              help="compact (default): raw observations longer than 2,048 characters that no fingerprint matched are cut; "
                   "full: kept whole (up to 16 KB per HTTP body).")
@click.option("--quiet", "-q", is_flag=True, help="No progress display.")
@click.option("--verbose", "-v", is_flag=True, help="Progress as one line per step on stderr (for logs).")
def scan(targets: tuple[str, ...], target_list: str | None, config_path: str | None, scope: tuple[str, ...], policy_path: str | None,
         waivers_path: str | None, inventory_path: str | None, nmap_xml: tuple[str, ...], flows: tuple[str, ...], flows_format: str,
         capture_iface: str | None, capture_seconds: int, ports: str | None, ot: bool | None,
         offline: bool | None, fmts: tuple[str, ...], outputs: tuple[str, ...], output_dir: str | None,
         csv_kind: str, fail_on: str | None, store_path: str | None, no_store: bool, credentials_path: str | None,
         fingerprint_dirs: tuple[str, ...], site: str | None, evidence: str | None, quiet: bool,
         verbose: bool) -> None:
    """Scan TARGETS (addresses, CIDR networks, ranges such as 198.51.100.1-20, host names) and/or
    import nmap XML, then judge by a policy."""
    found, _ = discover_config(config_path)
    cfg = load_config(found) if found else ScanConfig()
    listed: list[tuple[str, str | None, int | None]] = [(t, None, None) for t in targets]
    listed += [(t, target_list, n) for t, n in (read_target_list(target_list) if target_list else [])]
    if not listed:
        listed = [(t, cfg.source, cfg.target_lines.get(t)) for t in cfg.targets]
    online = not (cfg.offline if offline is None else offline)
    nets = [net for text, source, line in listed
            for net in parse_target(text, source, line, resolve_host if online else hosts_file)]
    request = ScanRequest(
        targets=nets,
        scope=Scope.build(list(scope), nets) if scope else Scope.build(cfg.scope, nets, cfg.source, cfg.scope_lines),
        nmap_xml=list(nmap_xml) or cfg.nmap_xml,
        flows=list(flows) or cfg.flows,
        flows_format=None if flows_format == "auto" else flows_format,
        capture_iface=capture_iface,
        capture_seconds=capture_seconds,
        ports=ports or cfg.ports,
        ot=cfg.ot if ot is None else ot,
        timing=cfg.timing,
        offline=cfg.offline if offline is None else offline,
        snmp_community=cfg.snmp_community,
        site=site or cfg.site,
        fingerprints=list(fingerprint_dirs) or cfg.fingerprints,
        evidence=evidence or cfg.evidence or "compact",
        progress=None if quiet else Progress(plain=verbose),
    )
    if not request.targets and not request.nmap_xml:
        raise click.UsageError("nothing to scan: give TARGETS, --nmap-xml FILE or a --config with targets")
    if request.targets and not privileged() and not quiet:
        click.echo(f"cityscan: notice: {UNPRIVILEGED}", err=True)  # before the scan, so it can be stopped
        if request.ot:
            click.echo(f"cityscan: notice: {OT_UNPRIVILEGED}", err=True)
    if not request.offline:
        request.online = online_lookups(cfg)
    policy_ref = policy_path or cfg.policy or DEFAULT_POLICY  # a scan is judged unless told otherwise
    request.policy = None if policy_ref == "none" else load_policy(policy_ref)
    waivers_ref = waivers_path or cfg.waivers
    request.waivers = load_waivers(waivers_ref) if waivers_ref else []
    inventory_ref = inventory_path or cfg.inventory
    request.inventory = load_inventory(inventory_ref) if inventory_ref else None
    credentials_ref = credentials_path or cfg.credentials
    request.credentials = load_credentials(credentials_ref) if credentials_ref else []
    threshold = fail_on or cfg.fail_on or (request.policy.fail_on if request.policy else None) or "high"
    if fmts or outputs or output_dir:
        targets_out = plan_outputs(fmts, outputs, output_dir)
    else:
        targets_out = [(o.format, o.path) for o in cfg.outputs] or [("table", None)]
    options = RenderOptions(fail_on=threshold, csv_kind=csv_kind, width=terminal_width())
    # The store is opened (and locked) before the scan: a busy or broken store costs no scan time.
    with Store(store_path or cfg.store) if not no_store else contextlib.nullcontext() as store, \
            interruptible() as stop:
        if store is not None:
            store.check_writable()  # a read-only, full or locked store costs no scan time
        try:
            result = run_scan(request)
        except ScanInterrupted as exc:
            if exc.result is not None:
                with stop.deferred():
                    _keep(exc.result, store, targets_out, options, quiet)
            raise
        with stop.deferred():  # a signal now would only tear the save or a report in half
            _keep(result, store, targets_out, options, quiet)
    sys.exit(gate_exit(result, threshold))


def _keep(result: ScanResult, store: Store | None, plan: list[tuple[str, str | None]], options: RenderOptions,
          quiet: bool = False) -> None:
    """Write the reports, then save to the history: a store that fails costs neither the reports
    nor the exit status's meaning. A partial result is kept the same way."""
    emit(result, plan, options, quiet)
    if store is None:
        return
    try:
        scan_id = store.save(result)
    except CityscanError as exc:  # the database went away during the scan, the disk filled up...
        kept = keep_unsent(result)
        click.echo(f"cityscan: error: the scan was not saved in the history ({exc}); the reports are written and "
                   f"the result is kept in {kept}; save it later with: cityscan store push {kept}", err=True)
        return
    if result.scan.partial:  # a complete scan is saved silently; `cityscan history` lists it
        click.echo(f"cityscan: partial scan {scan_id} saved in {store.location}", err=True)


def gate_exit(result: ScanResult, threshold: str) -> int:
    """Exit 1 when an unwaived finding is at or above ``threshold``, saying which on stderr."""
    failing = result.open_at_or_above(threshold)
    if not failing:
        return EXIT_OK
    rules = Counter(f.rule for f in failing)
    listed = ", ".join(f"{rule} ({count})" for rule, count in rules.most_common())
    click.echo(f"cityscan: {len(failing)} finding{'s' if len(failing) != 1 else ''} at or above {threshold}: "
               f"{listed}", err=True)
    return EXIT_FINDINGS


@cli.command()
@click.argument("scan_file", metavar="SCAN.json")
@click.option("--policy", "policy_path", metavar="FILE", help="Re-evaluate under this policy.")
@click.option("--waivers", "waivers_path", metavar="FILE", help="Waivers file (YAML).")
@click.option("--inventory", "inventory_path", metavar="FILE", help="The devices the segment should hold (YAML).")
@click.option("--format", "fmts", type=click.Choice(sorted(FORMATS)), multiple=True, help="Report format (repeatable).")
@click.option("--output", "outputs", metavar="FILE", multiple=True, help="Output file (repeatable, one per --format).")
@click.option("--output-dir", "output_dir", metavar="DIR", help="Write every --format to DIR/cityscan-report.EXT.")
@click.option("--csv-kind", type=click.Choice(["findings", "devices", "destinations"]), default="findings",
              show_default=True)
@click.option("--fail-on", "fail_on", type=click.Choice(FAIL_ON), default=None,
              help="Exit 1 when an unwaived finding has this severity or higher (default: the policy's, else high).")
def report(scan_file: str, policy_path: str | None, waivers_path: str | None, inventory_path: str | None, fmts: tuple[str, ...],
           outputs: tuple[str, ...], output_dir: str | None, csv_kind: str, fail_on: str | None) -> None:
    """Render a stored JSON result, optionally re-judged under another policy, without rescanning."""
    result = load_result(scan_file)
    policy = None
    if policy_path or waivers_path or inventory_path:
        policy = load_policy(policy_path) if policy_path else None
        waivers = load_waivers(waivers_path) if waivers_path else []
        inventory = load_inventory(inventory_path) if inventory_path else None
        if policy is None:
            if not result.scan.policy:
                raise InputError("the stored scan names no policy; give --policy", scan_file)
            policy = policy_of(result.scan.policy)
        judge(result, policy, waivers, inventory=inventory)
    threshold = fail_on or (policy.fail_on if policy_path and policy else None) or "high"
    targets_out = plan_outputs(fmts or ("table",), outputs, output_dir)
    describe(result)  # an older stored result lacks the country names the reports show
    emit(result, targets_out, RenderOptions(fail_on=threshold, csv_kind=csv_kind))
    sys.exit(gate_exit(result, threshold))


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
        emit(result, plan_outputs((fmt,), (output,) if output else (), None), RenderOptions())
        sys.exit(EXIT_OK)
    state = lab_mod.up()
    click.echo(f"cityscan demo: lab up with {len(state.devices)} emulated devices; scanning from namespace "
               f"{state.scanner_ns}", err=True)
    try:
        argv = [sys.executable, "-m", "scanner.cli", "scan", lab_mod.LAB_NETWORK, "--config",
                str(sample_configs_dir() / "scan-lab.yaml"), "--policy", policy_ref, "--format", fmt,
                "--fail-on", "none", "--no-store",
                # the lab's PLCs, meter and building controller are ours to ask: nmap's read-only OT scripts
                "--ot",
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
