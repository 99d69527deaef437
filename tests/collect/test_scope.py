from __future__ import annotations

import ipaddress

import pytest

from scanner.collect.scope import Scope, parse_network
from scanner.errors import InputError, ScopeError


def net(text: str) -> ipaddress.IPv4Network:
    return ipaddress.ip_network(text)  # type: ignore[return-value]


def test_targets_are_the_scope_by_default() -> None:
    scope = Scope.build([], [net("198.51.100.0/24")])
    scope.check([net("198.51.100.0/24")])
    assert scope.contains_ip("198.51.100.7")
    assert not scope.contains_ip("203.0.113.7")


def test_target_outside_scope_is_refused() -> None:
    scope = Scope.build(["198.51.100.0/25"], [])
    with pytest.raises(ScopeError, match="outside the scope"):
        scope.check([net("198.51.100.0/24")])
    with pytest.raises(ScopeError):
        scope.check([net("203.0.113.5/32")])


def test_huge_target_is_refused() -> None:
    scope = Scope.build(["0.0.0.0/0"], [])
    with pytest.raises(ScopeError, match="split the work"):
        scope.check([net("198.0.0.0/8")])


def test_host_names_are_not_targets() -> None:
    with pytest.raises(InputError, match="not an IP address or CIDR"):
        parse_network("camera.example")
