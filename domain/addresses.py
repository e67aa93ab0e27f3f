"""Which network addresses a webhook may reach: the rules behind the SSRF guard.

A webhook makes this server send requests to a URL a user typed. Without rules it
could be pointed at the server's own admin ports, the cloud metadata service or a
database on the private network. Every address below is refused unless the
operator allows it (TINYLYTICS_WEBHOOK_ALLOWED_NETWORKS): by network, or by the
host name in the URL. The sender checks the address it actually connects to
(infrastructure/safe_http.py); URL validation checks what can be known without
a DNS lookup.
"""

import ipaddress
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _classes(pairs: Iterable[tuple[str, str]]) -> tuple[tuple[Network, str], ...]:
    return tuple((ipaddress.ip_network(cidr), reason) for cidr, reason in pairs)


# In order: the first match names the reason.
IPV4_REFUSED = _classes(
    [
        ("0.0.0.0/8", "an unspecified address"),
        ("127.0.0.0/8", "a loopback address (localhost)"),
        ("10.0.0.0/8", "a private network address"),
        ("172.16.0.0/12", "a private network address"),
        ("192.168.0.0/16", "a private network address"),
        ("169.254.0.0/16", "a link-local address"),
        ("100.64.0.0/10", "a carrier-grade NAT address (100.64.0.0/10)"),
        ("224.0.0.0/4", "a multicast address"),
        ("255.255.255.255/32", "the broadcast address"),
        ("240.0.0.0/4", "a reserved address"),
        ("192.0.0.0/24", "a reserved address (IETF protocol assignments)"),
        ("192.0.2.0/24", "a reserved address (documentation)"),
        ("198.51.100.0/24", "a reserved address (documentation)"),
        ("203.0.113.0/24", "a reserved address (documentation)"),
        ("198.18.0.0/15", "a reserved address (benchmarking)"),
        ("192.88.99.0/24", "a reserved address (6to4 relay anycast)"),
    ]
)
IPV6_REFUSED = _classes(
    [
        ("::/128", "an unspecified address"),
        ("::1/128", "a loopback address (localhost)"),
        ("::ffff:0:0/96", "an IPv4-mapped IPv6 address"),
        ("::/96", "an IPv4-compatible IPv6 address"),
        ("::ffff:0:0:0/96", "an IPv4-translated IPv6 address"),
        ("64:ff9b:1::/48", "a reserved address (local-use IPv4/IPv6 translation)"),
        ("fe80::/10", "a link-local address"),
        ("fec0::/10", "a site-local address"),
        ("fc00::/7", "a unique-local address (private network)"),
        ("ff00::/8", "a multicast address"),
        ("100::/64", "a reserved address (discard-only)"),
        ("2001::/32", "a reserved address (Teredo tunnel)"),
        ("2001:db8::/32", "a reserved address (documentation)"),
    ]
)
NAT64 = ipaddress.ip_network("64:ff9b::/96")


def address_refusal(ip: IPAddress) -> str | None:
    """Why a webhook may not reach this address, or None when it is a public one."""
    if isinstance(ip, ipaddress.IPv4Address):
        for network, reason in IPV4_REFUSED:
            if ip in network:
                return reason
    else:
        if ip.scope_id:
            ip = ipaddress.IPv6Address(str(ip).split("%", 1)[0])
        for network, reason in IPV6_REFUSED:
            if ip in network:
                return reason
        # Addresses that carry an IPv4 address are judged by it: an IPv6-only host
        # reaches IPv4 sites through NAT64, and 6to4 routes to the embedded address.
        embedded: ipaddress.IPv4Address | None = None
        if ip in NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        elif ip.sixtofour is not None:
            embedded = ip.sixtofour
        if embedded is not None:
            inner = address_refusal(embedded)
            return f"{inner} (inside {ip})" if inner else None
    if not ip.is_global:
        return "a reserved address (not globally routable)"
    return None


_NUMERIC_HOST = re.compile(r"^[0-9a-fA-FxX.]+$")


def literal_address(host: str) -> IPAddress | None:
    """The address a host written as an IP literal names, in any form a resolver accepts.

    `127.1`, `0x7f.0.0.1` and `2130706433` all name 127.0.0.1 to the C resolver, so
    they are read as it reads them.
    """
    host = host.strip().strip("[]").rstrip(".")
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if _NUMERIC_HOST.match(host) and not host.startswith("."):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


_LABEL = r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?"
_HOST_NAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*$")


def normalize_host(host: str) -> str:
    return host.strip().lower().rstrip(".")


def is_host_name(text: str) -> bool:
    return bool(_HOST_NAME.match(normalize_host(text)))


def is_localhost_name(host: str) -> bool:
    host = normalize_host(host)
    return host in ("localhost", "localhost.localdomain") or host.endswith(".localhost")


@dataclass(frozen=True)
class AddressPolicy:
    """The refused address classes, less what the operator allows."""

    allowed_networks: tuple[Network, ...] = ()
    allowed_hosts: frozenset[str] = field(default_factory=frozenset)

    def host_allowed(self, host: str | None) -> bool:
        return host is not None and normalize_host(host) in self.allowed_hosts

    def refusal(self, ip: IPAddress, host: str | None = None) -> str | None:
        """Why this address may not be reached for this URL host, or None."""
        if self.host_allowed(host):
            return None
        if any(ip.version == n.version and ip in n for n in self.allowed_networks):
            return None
        return address_refusal(ip)

    def name_refusal(self, host: str) -> str | None:
        """What can be refused from the host in a URL alone, before any DNS lookup."""
        if self.host_allowed(host):
            return None
        ip = literal_address(host)
        if ip is not None:
            reason = self.refusal(ip, host)
            return f"{ip} is {reason}" if reason else None
        if is_localhost_name(host):
            return f"{normalize_host(host)} is a loopback address (localhost)"
        return None
