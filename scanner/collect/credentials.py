"""Credentials for the opt-in authenticated checks, from a file the user names (never an option).

A password is never given on the command line (where ``ps`` shows it) and never written anywhere:
not in the result, a report, the history store or an error message. It comes from an environment
variable (``password_env``), a file of its own (``password_file``, e.g. a container secret) or
this file (``password``), which must then be readable by its owner only.

    credentials:
      - targets: [198.51.100.12, 198.51.100.0/28]   # where these may be used (inside --scope)
        vendor: Hikvision                          # optional: only devices identified as this vendor
        username: auditor
        password_env: CITYSCAN_NVR_PASSWORD
"""

from __future__ import annotations

import ipaddress
import os
import stat
from dataclasses import dataclass, field

from scanner.errors import InputError
from scanner.files import read_bounded
from scanner.knowledge import validate as v
from scanner.knowledge.yamlfile import line_of, load

KEYS = ("targets", "vendor", "username", "password", "password_env", "password_file", "notes")
MAX_SECRET_BYTES = 4096


@dataclass(frozen=True)
class Credential:
    """A read-only account. ``repr`` never shows the password."""

    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
    username: str
    password: str = field(repr=False)
    vendor: str | None = None
    where: str = ""   # file:line, for messages

    def applies(self, ip: str, vendor: str | None) -> bool:
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return any(addr in net for net in self.networks) and (
            self.vendor is None or (vendor or "").lower() == self.vendor.lower())


def load_credentials(path: str) -> list[Credential]:
    doc = load(path)
    items = doc.get("credentials") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        raise InputError("a credentials file needs a 'credentials' list", path, line_of(doc) or 1)
    v.check_keys(doc, ("credentials",), "credentials file")
    out = []
    for index, raw in enumerate(items):
        item = v.mapping(raw, items, index, "credential")
        v.check_keys(item, KEYS, "credential", required=("targets", "username"))
        where = f"{path}:{line_of(items, index) or '?'}"
        networks = []
        for text in v.string_list(item, "targets", "credential"):
            try:
                networks.append(ipaddress.ip_network(text, strict=False))
            except ValueError:
                raise v.fail(item, "targets", f"credential.targets: {text[:60]!r} is not an address or network") from None
        sources = [k for k in ("password", "password_env", "password_file") if k in item]
        if len(sources) != 1:
            raise v.fail(item, None, "a credential needs exactly one of password, password_env, password_file")
        username = v.typed(item, "username", str, "credential")
        try:
            username.encode("latin-1")
        except UnicodeEncodeError:
            raise v.fail(item, "username", "credential.username must be Latin-1 text (HTTP headers carry it)") from None
        password = _password(item, sources[0], path)
        if not password:
            raise v.fail(item, sources[0], f"credential.{sources[0]} gives an empty password")
        out.append(Credential(tuple(networks), username, password, v.typed(item, "vendor", str, "credential"), where))
    return out


def _password(item: dict[str, object], source: str, path: str) -> str:
    if source == "password_env":
        name = v.typed(item, "password_env", str, "credential")  # type: ignore[arg-type]
        value = os.environ.get(name)
        if not value:
            raise v.fail(item, "password_env", f"credential.password_env: the environment variable {name} is not set")
        return value
    if source == "password_file":
        secret = v.typed(item, "password_file", str, "credential")  # type: ignore[arg-type]
        data = read_bounded(secret, MAX_SECRET_BYTES, "password file")
        if len(data) > MAX_SECRET_BYTES:
            raise v.fail(item, "password_file", "credential.password_file is larger than a password")
        return data.decode("utf-8", "replace").strip()
    if os.stat(path).st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise v.fail(item, "password", "a credentials file with passwords in it must be readable by its owner only "
                                       f"(chmod 600 {path}), or use password_env / password_file")
    inline = item.get("password")
    if not isinstance(inline, str):  # a number or a date would be a YAML value, not the password typed
        raise v.fail(item, "password", "credential.password must be text: put it in quotes")
    return inline
