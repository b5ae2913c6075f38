"""Where a client webhook may point: https on a public address (SSRF guard).

A URL is accepted only with scheme ``https``, a host, no user info, and a host whose every
resolved address is globally routable: private, loopback, link-local (cloud metadata at
169.254.169.254), multicast, reserved and unspecified addresses are refused, including IPv4
addresses wrapped in IPv6 (``::ffff:10.0.0.1``). ``allow_loopback`` (the local stack only) admits
loopback targets, over plain ``http`` too.

The check runs when an endpoint is registered and again before every delivery, and the delivery
connects to the address that was checked (DNS rebinding cannot swap in an internal one).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

Resolver = Callable[[str, int], list[str]]
MAX_URL = 2048


class TargetRefused(ValueError):  # noqa: N818 - reads as what happened
    """A webhook URL we will not call; the message names the rule, never internal addresses."""


def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (A and AAAA), via the system resolver."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise TargetRefused("webhook host does not resolve") from None
    return sorted({str(info[4][0]) for info in infos})


@dataclass(frozen=True, slots=True)
class Target:
    """A checked URL: the host to name (Host header, TLS SNI) and the address to connect to."""

    url: str
    scheme: str
    host: str
    port: int
    address: str


def _allowed(address: str, allow_loopback: bool) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return allow_loopback
    return ip.is_global and not ip.is_multicast


def check_url(url: str, *, allow_loopback: bool = False,
              resolve: Resolver = system_resolver) -> Target:
    """The :class:`Target` of ``url``, or :class:`TargetRefused` saying which rule it breaks."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL:
        raise TargetRefused(f"webhook URL must be 1 to {MAX_URL} characters")
    if any(ord(ch) < 0x21 or ord(ch) == 0x7f for ch in url):
        raise TargetRefused("webhook URL contains spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise TargetRefused("webhook URL is malformed") from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        raise TargetRefused("webhook URL must use https")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise TargetRefused("webhook URL must not carry credentials")
    if parts.fragment:
        raise TargetRefused("webhook URL must not have a fragment")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise TargetRefused("webhook URL has no host")
    if port == 0:
        raise TargetRefused("webhook URL port must be 1 to 65535")
    port = port or (443 if scheme == "https" else 80)
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        addresses = resolve(host, port)
    if not addresses:
        raise TargetRefused("webhook host does not resolve")
    if not all(_allowed(a, allow_loopback) for a in addresses):
        raise TargetRefused("webhook host resolves to a private, loopback, link-local or "
                            "reserved address")
    loopback = all(ipaddress.ip_address(a.split("%", 1)[0]).is_loopback for a in addresses)
    if scheme == "http" and not (allow_loopback and loopback):
        raise TargetRefused("webhook URL must use https")
    return Target(url, scheme, host, port, addresses[0])
