"""Traffic records: where each device's data goes, read from Zeek logs, CSV exports and captures.

Every reader streams one record type (:class:`FlowRecord` for a connection, :class:`DnsAnswer`
for a name -> address a client was told), so the resolve stage is format-blind::

    summary = summarize(read_flows("conn.log"))        # format sniffed; or fmt="zeek-conn"
    summary.flows[(src, dst, port, transport)].connections
    summary.names[dst]                                 # DNS names tied to dst

Formats: :data:`FORMATS` (docs/flows.md). Hostile input is an InputError naming file and line.
"""

from __future__ import annotations

from scanner.collect.flows.inputs import MAX_BYTES, MAX_LINE
from scanner.collect.flows.live import capture
from scanner.collect.flows.reader import FORMATS, read_flows, sniff_format
from scanner.collect.flows.records import TRANSPORTS, DnsAnswer, FlowRecord, ReadStats
from scanner.collect.flows.summary import summarize, summarize_file
from scanner.model.flows import FlowKey, FlowStats, FlowSummary

__all__ = ["FORMATS", "MAX_BYTES", "MAX_LINE", "TRANSPORTS", "DnsAnswer", "FlowKey", "FlowRecord", "FlowStats",
           "FlowSummary", "ReadStats", "capture", "read_flows", "sniff_format", "summarize", "summarize_file"]
