"""Where the service may send a request to a URL a client gave it (the callbackUrl): never inside the network.

A URL is refused when its scheme is not https, its port is not 443 (or one the operator allows), or its host, as
spelled or as resolved, is an address no partner can own: loopback, private, shared, link-local (the instance
metadata service 169.254.169.254 is one), multicast, reserved or unspecified, IPv4 or IPv6, including an IPv4
address carried in an IPv6 one (IPv4-mapped ::ffff:a.b.c.d, 6to4, Teredo, NAT64 64:ff9b::/96). Every spelling of an
IPv4 address the C library accepts counts (decimal 2130706433, hex 0x7f000001, octal 0177.0.0.1, short 127.1): the
address is what a connection would reach, not the text.

The check is made twice: when the client gives the URL (what its name resolves to then), and when the service
connects, against the very address it connects to (`checked_connection`), so a name that resolves elsewhere later
(DNS rebinding) is still refused. Redirects are never followed by the sender.

Local testing only: `callback_test_receivers` lists exact origins (scheme://host:port) exempt from these rules, so
a test can run a receiver on 127.0.0.1. It is empty by default and nothing else bypasses the check.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

HTTPS_PORT = 443
# IPv4/IPv6 translation (RFC 6052): the last 32 bits are the IPv4 address reached.
NAT64_PREFIX = ipaddress.IPv6Network("64:ff9b::/96")

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
# host, port -> the addresses it resolves to (socket.getaddrinfo by default)
Resolver = Callable[[str, int], list[str]]


class RefusedDestination(ValueError):
    """The URL, or the address it leads to, is not one the service sends to."""


def resolve(host: str, port: int) -> list[str]:
    answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return [str(answer[4][0]) for answer in answers]


def literal_address(host: str) -> Address | None:
    """The address a host written as an address reaches, in any spelling; None for a name."""
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        pass
    try:
        # inet_aton takes what the C library's resolver takes for IPv4: decimal, hex, octal and short forms.
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in NAT64_PREFIX:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def forbidden_reason(address: Address) -> str | None:
    """Why nothing may be sent to `address`, or None when it is a public unicast address."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = embedded_ipv4(address)
        if inner is not None:
            return forbidden_reason(inner)
    checks = (
        (address.is_loopback, "loopback"),
        (address.is_link_local, "link-local (instance metadata)"),
        (address.is_multicast, "multicast"),
        (address.is_unspecified, "unspecified"),
        (address.is_reserved, "reserved"),
        (address.is_private, "private"),
        (not address.is_global, "not public"),
    )
    return next((reason for failed, reason in checks if failed), None)


def origin(parts: SplitResult) -> str:
    port = parts.port or (HTTPS_PORT if parts.scheme == "https" else 80)
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{port}"


@dataclass(frozen=True)
class OutboundPolicy:
    """The operator's settings of where client-given URLs may lead (RuntimeSettings.callback_ports/_test_receivers)."""

    ports: frozenset[int] = frozenset({HTTPS_PORT})
    test_receivers: frozenset[str] = frozenset()
    resolver: Resolver = resolve

    @classmethod
    def of(cls, ports: Iterable[int], test_receivers: Iterable[str], resolver: Resolver = resolve) -> OutboundPolicy:
        receivers = frozenset(origin(urlsplit(receiver.strip())) for receiver in test_receivers if receiver.strip())
        return cls(frozenset(ports), receivers, resolver)

    def is_test_receiver(self, url: str) -> bool:
        return bool(self.test_receivers) and origin(urlsplit(url)) in self.test_receivers

    def check_url(self, url: str) -> tuple[str, int]:
        """The host and port of `url` once its scheme, port and spelled address are allowed; else RefusedDestination."""
        parts = urlsplit(url)
        try:
            port = parts.port or HTTPS_PORT
        except ValueError:
            raise RefusedDestination("must be an https:// URL") from None
        host = parts.hostname or ""
        if "@" in parts.netloc:
            raise RefusedDestination("must not carry credentials (user:password@)")
        if self.is_test_receiver(url):
            return host, port
        if parts.scheme != "https" or not host:
            raise RefusedDestination("must be an https:// URL")
        if port not in self.ports:
            allowed = ", ".join(str(p) for p in sorted(self.ports))
            raise RefusedDestination(f"port {port} is not allowed (allowed: {allowed})")
        address = literal_address(host)
        if address is not None:
            self.check_address(host, str(address))
        return host, port

    def check_address(self, host: str, address: str) -> None:
        parsed = literal_address(address)
        reason = "unreadable" if parsed is None else forbidden_reason(parsed)
        if reason is not None:
            raise RefusedDestination(f"host {host} leads to a {reason} address; only public addresses are called")

    def check_submitted(self, url: str) -> None:
        """At submit: the URL's rules, and every address its name resolves to now (a name that does not resolve
        yet is checked when the notice is sent)."""
        host, port = self.check_url(url)
        if self.is_test_receiver(url) or literal_address(host) is not None:
            return
        try:
            addresses = self.resolver(host, port)
        except OSError:
            return
        for address in addresses:
            self.check_address(host, address)

    def connect(self, url: str, timeout: float) -> socket.socket:
        """A TCP connection to `url`'s host, to an address checked just before connecting, and checked again as
        the peer actually connected (DNS rebinding). Every resolved address must be allowed."""
        host, port = self.check_url(url)
        addresses = self.resolver(host, port)
        if not addresses:
            raise RefusedDestination(f"host {host} does not resolve")
        exempt = self.is_test_receiver(url)
        if not exempt:
            for address in addresses:
                self.check_address(host, address)
        connection = socket.create_connection((addresses[0], port), timeout=timeout)
        try:
            peer = str(connection.getpeername()[0])
            if not exempt:
                self.check_address(host, peer)
        except BaseException:
            connection.close()
            raise
        return connection
