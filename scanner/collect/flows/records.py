"""The record types every traffic reader yields, whatever the input format.

One streaming shape for Zeek logs, CSV and packet captures, so that the resolve stage needs to
know nothing about formats: a :class:`FlowRecord` says "this address opened a connection to that
one", a :class:`DnsAnswer` says "this client was told that this name is at these addresses".
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

TRANSPORTS: tuple[str, ...] = ("tcp", "udp", "icmp", "other")


@dataclass(frozen=True, slots=True)
class FlowRecord:
    """One connection/flow as observed."""

    ts: float | None
    src_ip: str
    dst_ip: str
    dst_port: int | None
    transport: str           # tcp | udp | icmp | other
    bytes: int | None        # total bytes if known
    dns_query: str | None = None   # a DNS name this record ties to dst_ip (from a CSV column)
    bytes_out: int | None = None   # what src_ip sent (Zeek's orig side), if the input says


@dataclass(frozen=True, slots=True)
class DnsAnswer:
    """A name -> address seen in DNS traffic (dns.log or captured DNS)."""

    ts: float | None
    client_ip: str
    query: str
    answers: tuple[str, ...]   # IP addresses only


@dataclass
class ReadStats:
    """What a reader saw besides its records: how much it read and what it had to skip.

    Pass one to :func:`read_flows` (``stats=``) to learn, after the iteration, how many packets
    of a capture could not be decoded and why; skipping is not an error, but it should be visible.
    """

    units: int = 0                 # lines of a log, packets of a capture
    records: int = 0
    skipped: int = 0
    skip_reasons: Counter[str] = field(default_factory=Counter)

    def skip(self, reason: str) -> None:
        self.skipped += 1
        self.skip_reasons[reason] += 1
