"""Which hosts are internal: loopback, private, link-local (169.254.0.0/16, where cloud
metadata services answer) and every other address that is not globally reachable.

A feed on the public internet must not be able to send the bot, by a redirect, to one of
them; a source configured on such an address on purpose may redirect within it.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence

Resolver = Callable[[str], Sequence[str]]


def resolve(host: str) -> list[str]:
    """Every address `host` resolves to (an empty list when it does not resolve)."""
    try:
        answers = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return []
    return sorted({str(answer[4][0]) for answer in answers})


def internal_address(host: str, resolver: Resolver = resolve) -> str | None:
    """The first non-public address `host` is or resolves to, with what it is; else None."""
    literal = _as_address(host.strip("[]"))
    addresses = [literal] if literal else [_as_address(a) for a in resolver(host)]
    for address in addresses:
        if address is not None and not address.is_global:
            return f"{address} ({_kind(address)})"
    return None


def _as_address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(text.partition("%")[0])  # drop an IPv6 zone
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _kind(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_private:
        return "private"
    return "not public"
