"""Collect stage: what the network says. nmap (live or imported XML), cityscan's read-only probes,
traffic records and live capture, always inside the scan's scope."""
