"""Which hosts are internal: loopback, private, link-local (169.254.0.0/16, where cloud
metadata services answer) and every other address that is not globally reachable.

A feed on the public internet must not be able to send the bot, by a redirect, to one of
them; a source configured on such an address on purpose may redirect within it.

`PublicOnly` makes that hold at the socket: it resolves a name once, refuses it if any answer
is internal, and connects to an address it checked. Checking a name and then letting the HTTP
client resolve it again would let a name that answers differently the second time (DNS
rebinding) send the bot wherever it likes.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable, Sequence

import httpcore

Resolver = Callable[[str], Sequence[str]]


class InternalAddressRefused(Exception):
    """A connection refused because `host` is or resolves to a non-public address."""

    def __init__(self, host: str, internal: str) -> None:
        super().__init__(f"{host}: {internal} is not a public address")
        self.host = host
        self.internal = internal


def resolve(host: str) -> list[str]:
    """Every address `host` resolves to, in the resolver's order of preference (an empty list
    when it does not resolve)."""
    try:
        answers = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return []
    return list(dict.fromkeys(str(answer[4][0]) for answer in answers))


def internal_address(host: str, resolver: Resolver = resolve) -> str | None:
    """The first non-public address `host` is or resolves to, with what it is; else None."""
    literal = _as_address(host.strip("[]"))
    return first_internal([str(literal)] if literal else resolver(host))


def first_internal(addresses: Iterable[str]) -> str | None:
    """The first of `addresses` that is not public, with what it is; else None."""
    for text in addresses:
        address = _as_address(text)
        if address is not None and not address.is_global:
            return f"{address} ({_kind(address)})"
    return None


class PublicOnly(httpcore.NetworkBackend):
    """An httpcore network backend that connects to public addresses only: each name resolved
    once, here, refused if any of its addresses is internal, and connected to by the address
    checked (TLS still names the host: httpcore takes that from the URL, not from here)."""

    def __init__(self, resolver: Resolver = resolve, inner: httpcore.NetworkBackend | None = None):
        self.resolver = resolver
        self.inner = inner or httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        literal = _as_address(host.strip("[]"))
        addresses = [str(literal)] if literal else list(self.resolver(host))
        if not addresses:
            raise httpcore.ConnectError(f"{host} does not resolve")
        internal = first_internal(addresses)
        if internal is not None:
            raise InternalAddressRefused(host, internal)
        error: httpcore.ConnectError | None = None
        for address in addresses:  # in the resolver's order, as a plain connect tries them
            try:
                return self.inner.connect_tcp(
                    address, port, timeout, local_address, socket_options=socket_options
                )
            except httpcore.ConnectError as failed:
                error = failed
        assert error is not None
        raise error

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("a public source is never fetched over a Unix socket")

    def sleep(self, seconds: float) -> None:
        self.inner.sleep(seconds)


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
