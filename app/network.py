"""Who a request comes from, as every per-client limit and cap counts it."""

from __future__ import annotations

import ipaddress

from flask import request


def client_network() -> str:
    """The client as the per-IP limits and the code caps count it: its IPv4 address, or its IPv6
    /64 (one subscriber gets a whole /64, so single IPv6 addresses would be free to change)."""
    try:
        ip = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return "-"
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return str(ipaddress.ip_network(f"{ip}/64", strict=False) if ip.version == 6 else ip)
