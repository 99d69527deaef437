"""The lab's stand-in for the internet: a DNS server and listeners for the vendors' cloud hosts.

Emulated devices look up their vendor's documented cloud endpoints (from the fingerprint
database) and connect to them, as real devices do; inside the lab every such name resolves to an
address in 203.0.113.0/24 held by this namespace, so the traffic never leaves the lab and a
capture on the lab segment shows it. Run as ``python -m scanner.lab.cloud ZONE.json``.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path

import dns.exception
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset

from scanner.lab.emulator import closing

DNS_IP = "203.0.113.53"
CLOUD_PORTS = (80, 443, 1883, 8883)


class _DnsProtocol(asyncio.DatagramProtocol):
    def __init__(self, zone: dict[str, str]) -> None:
        self.zone = {name.lower().rstrip("."): ip for name, ip in zone.items()}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            query = dns.message.from_wire(data)
        except dns.exception.DNSException:
            return
        reply = dns.message.make_response(query)
        for question in query.question:
            name = question.name.to_text().lower().rstrip(".")
            if question.rdtype == dns.rdatatype.A and name in self.zone:
                reply.answer.append(dns.rrset.from_text(question.name, 300, "IN", "A", self.zone[name]))
            elif name not in self.zone:
                reply.set_rcode(dns.rcode.NXDOMAIN)
        self.transport.sendto(reply.to_wire(), addr)  # type: ignore[attr-defined]


async def _accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    async with closing(writer):
        await asyncio.wait_for(reader.read(4096), timeout=5)


async def serve(zone: dict[str, str]) -> None:
    loop = asyncio.get_running_loop()
    await loop.create_datagram_endpoint(lambda: _DnsProtocol(zone), local_addr=(DNS_IP, 53))
    for port in CLOUD_PORTS:
        await asyncio.start_server(_accept, "0.0.0.0", port)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print("ready cloud", flush=True)
    await stop.wait()


def main() -> None:
    zone = json.loads(Path(sys.argv[1]).read_text())
    asyncio.run(serve(zone))


if __name__ == "__main__":
    main()
