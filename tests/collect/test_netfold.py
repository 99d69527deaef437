"""The Labeller's memories (per address, per IPv4 /24 and IPv6 /48 wholly inside one network) give
the label a direct look-up in the network index gives, whatever came before."""

from __future__ import annotations

import gzip
import ipaddress
import random

from scanner.collect.flows.netfold import Labeller
from scanner.knowledge.datafiles import find
from scanner.knowledge.loader import network_index


def direct(ip: str) -> str:
    net = network_index().network(ip)
    if net is None:
        return ip
    return ip if net.lo == net.hi else net.label


def addresses(count: int, seed: int) -> list[str]:
    """Addresses in and around the shipped cloud ranges (IPv6 /32 ... /64 and IPv4 ranges of many
    sizes, so network boundaries cut some /24s and /48s), with repeats, in random order."""
    rng = random.Random(seed)
    with gzip.open(find("cloud-ranges.tsv.gz", "cloud-ranges")[0], "rt", encoding="utf-8") as handle:
        prefixes = [line.split("\t", 1)[0] for line in handle]
    picked = rng.sample(prefixes, 600)
    out = []
    for prefix in picked:
        net = ipaddress.ip_network(prefix)
        for _ in range(4):
            value = int(net.network_address) + rng.randrange(net.num_addresses)
            for nudge in (0, rng.randrange(-300, 300), net.num_addresses):   # inside, near, just after
                out.append(str(ipaddress.ip_address(max(0, value + nudge) % (2 ** net.max_prefixlen))))
    out += rng.sample(out, len(out) // 3)
    rng.shuffle(out)
    return out[:count]


def test_memorised_labels_are_the_index_labels() -> None:
    sample = addresses(8000, seed=16)
    assert sum(":" in ip for ip in sample) > 1000 and sum(":" not in ip for ip in sample) > 1000
    label = Labeller()
    got = [label(ip) for ip in sample]
    assert got == [direct(ip) for ip in sample]
    assert label.by_24 and label.by_48   # the memories were used, not only the index
    heads = {ip.rpartition(".")[0] for ip in sample if ":" not in ip}
    assert all(label.of_24(head) in ("", direct(head + ".0")) for head in heads)
