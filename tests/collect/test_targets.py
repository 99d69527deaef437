"""Targets as nmap users type them, and a scope that no typo can widen. Nothing is scanned here."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from scanner.collect.scope import (
    MAX_TARGET_ADDRESSES,
    Scope,
    hosts_file,
    parse_target,
    read_target_list,
)
from scanner.errors import InputError, ScopeError


def nets(*texts: str) -> list[str]:
    return [str(n) for n in ipaddress.collapse_addresses(
        [n for t in texts for n in parse_target(t, resolve=lambda name: {"cam1.lab": ["198.51.100.11"]}.get(name, []))])]  # type: ignore[type-var]


def test_addresses_networks_ranges_and_host_names() -> None:
    assert nets("198.51.100.7") == ["198.51.100.7/32"]
    assert nets("198.51.100.0/28") == ["198.51.100.0/28"]
    assert nets("198.51.100.1-20") == ["198.51.100.1/32", "198.51.100.2/31", "198.51.100.4/30",
                                       "198.51.100.8/29", "198.51.100.16/30", "198.51.100.20/32"]
    assert nets("198.51.100.250-198.51.100.255") == ["198.51.100.250/31", "198.51.100.252/30"]
    assert nets("cam1.lab") == ["198.51.100.11/32"]


@pytest.mark.parametrize("text", ["198.51.100.1-300", "198.51.100.20-1", "198.51.100.0/33", "no_such host",
                                  "unknown.lab", "1-2-3"])
def test_what_is_not_a_target(text: str) -> None:
    with pytest.raises(InputError):
        nets(text)


def test_the_address_limit_is_for_the_whole_scan() -> None:
    scope = Scope((ipaddress.ip_network("198.0.0.0/8"),))
    half = MAX_TARGET_ADDRESSES // 2
    blocks = [ipaddress.ip_network(f"198.51.{i}.0/24") for i in range(half // 256 + 1)]
    scope.check(blocks)  # just under the limit
    with pytest.raises(ScopeError, match="the targets cover"):
        scope.check(blocks * 2 + [ipaddress.ip_network("198.52.0.0/24")])


def test_offline_host_names_come_from_the_hosts_file_only(tmp_path: Path) -> None:
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost\n198.51.100.11 cam1.lab cam1  # lab camera\n")
    assert hosts_file("cam1.lab", str(hosts)) == ["198.51.100.11"] and hosts_file("CAM1", str(hosts)) == ["198.51.100.11"]
    assert hosts_file("cam2.lab", str(hosts)) == []
    with pytest.raises(InputError, match="only with --online"):
        parse_target("cam2.lab")


def test_a_target_list_file(tmp_path: Path) -> None:
    path = tmp_path / "targets.txt"
    path.write_text("# lab cameras\n198.51.100.11 198.51.100.12\n\n198.51.100.20-23  # trackers\n")
    assert read_target_list(str(path)) == [("198.51.100.11", 2), ("198.51.100.12", 2), ("198.51.100.20-23", 4)]


def test_cli_targets_file_and_errors_name_the_file_and_line(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "targets.txt"
    path.write_text("198.51.100.11\n198.51.100.1-300\n")
    run = cli("scan", "-iL", str(path), "--no-store")
    assert run.code == 2 and f"{path}:2: target '198.51.100.1-300'" in run.err
    config = tmp_path / "scan.yaml"
    config.write_text("targets: [198.51.100.0/24]\nscope:\n  - 198.51.100.0/24\n  - 198.51.100.0/99\n")
    run = cli("scan", "--config", str(config), "--no-store")
    assert run.code == 2 and f"{config}:4: scope '198.51.100.0/99'" in run.err
    config.write_text("targets: [198.51.100.0/24]\npolicy: ./missing-policy.yaml\n")
    run = cli("scan", "--config", str(config), "--no-store")
    assert run.code == 2 and f"{config}:2: config.policy: no such file" in run.err
    run = cli("scan", "203.0.113.0/24", "198.51.100.0/24", "--scope", "198.51.100.0/24", "--no-store")
    assert run.code == 2 and "outside the scope" in run.err
