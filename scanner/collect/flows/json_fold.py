"""A Zeek conn.log written as JSON lines, folded while it is read (Corelight and Security Onion
write JSON by default).

Each line is parsed once with ``json.loads``; a line whose fields are all there in the form Zeek
writes them (dotted keys, string addresses, integer ports and counts, a numeric time) is added to
the summary directly, as :class:`~scanner.collect.flows.conn_fold.ConnFold` adds a TSV line. Any
other line (a blank one, ISO times, underscore keys, a missing or odd field, invalid UTF-8 or
JSON) goes through the reader's own :func:`~scanner.collect.flows.zeek.json_line`, which gives
the same record or the same error (file, line, what is wrong) as ``read_flows``.
"""

from __future__ import annotations

import json

from scanner.collect.flows import zeek
from scanner.collect.flows.conn_fold import ConnFold
from scanner.collect.flows.inputs import BoundedReader, iter_lines
from scanner.collect.flows.records import FlowRecord

_MAX_COUNT = 2 ** 63      # inputs.check_count
_EXACT_FLOAT = 2 ** 53    # an integer time that float() takes exactly and check_ts takes
_SHALLOW = 1000           # a shorter line cannot nest deep enough to reach the recursion limit


class JsonConnFold(ConnFold):
    """The state of one JSON conn.log being folded into a summary (see :class:`ConnFold`)."""

    def _feed(self, stream: BoundedReader) -> None:
        source, ips, transports, loads = self.source, self.ips, zeek._TRANSPORT, json.loads  # noqa: SLF001
        ip_bytes, payload_bytes = zeek.IP_BYTES, zeek.PAYLOAD_BYTES
        for lineno, raw, terminated in iter_lines(stream):
            self.units += 1
            try:
                if len(raw) >= _SHALLOW and raw.count(b"[") + raw.count(b"{") > 64:
                    raise KeyError("nested")   # deep nesting: the reader's parse says (its stack is deeper)
                obj = loads(raw.decode())   # UnicodeDecodeError and JSONDecodeError are ValueErrors
                if type(obj) is not dict:
                    raise KeyError(obj)
                get = obj.get
                path = get("_path")
                if path is not None and path != "conn":
                    raise KeyError(path)
                src, dst, proto = get("id.orig_h"), get("id.resp_h"), get("proto")
                if type(src) is not str or type(dst) is not str or type(proto) is not str:
                    raise KeyError(src)
                src, dst, transport = ips[src], ips[dst], transports[proto]   # KeyError: not valid
                port, sport, ts = get("id.resp_p"), get("id.orig_p"), get("ts")
                if type(port) is not int or not 0 <= port <= 65535 or type(sport) is not int or not 0 <= sport <= 65535:
                    raise KeyError(port)
                if type(ts) is int and -_EXACT_FLOAT < ts < _EXACT_FLOAT:
                    ts = float(ts)
                elif type(ts) is not float or ts - ts != 0.0:   # nan, inf, a string, none: the reader says
                    raise KeyError(ts)
                total = out = None
                for side, name in enumerate(ip_bytes if ip_bytes[0] in obj or ip_bytes[1] in obj else payload_bytes):
                    count = get(name)
                    if count is not None:
                        if type(count) is not int or not 0 <= count < _MAX_COUNT:
                            raise KeyError(count)
                        total = (total or 0) + count
                        if side == 0:
                            out = count
            except (KeyError, TypeError, ValueError, RecursionError):
                record = zeek.json_line(raw, "conn", source, lineno, terminated)   # the record, or the error
                if record is None:
                    continue
                assert isinstance(record, FlowRecord)
                src, dst, port, transport, ts, total, out = (record.src_ip, record.dst_ip, record.dst_port,
                                                             record.transport, record.ts, record.bytes,
                                                             record.bytes_out)
            else:
                if transport == "icmp":
                    port = None
            self.records += 1
            self._add(src, dst, port, transport, ts, total, out)
