"""The client's IP address, as rate limits need it: from X-Forwarded-For only when the
request came from one of our proxies.

allauth alone takes the n-th address from the right of X-Forwarded-For
(``ALLAUTH_TRUSTED_PROXY_COUNT``) whoever sent the request: a client that reaches gunicorn
directly could name a new address on every request and never be rate limited, and a header
with fewer addresses than proxies made allauth raise (a 500). Here the header is read only
when ``REMOTE_ADDR`` is one of ``TRUSTED_PROXY_IPS`` and it has an address for every proxy;
otherwise the client is ``REMOTE_ADDR``.
"""

from __future__ import annotations

import functools
import ipaddress

from django.conf import settings
from django.http import HttpRequest

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def proxy_networks() -> tuple[Network, ...]:
    """``settings.TRUSTED_PROXY_IPS`` parsed; raises ValueError on a bad entry."""
    return _parse(tuple(settings.TRUSTED_PROXY_IPS))


@functools.cache
def _parse(entries: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries)


def _is_proxy(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_ip(request: HttpRequest) -> str | None:
    remote = request.META.get("REMOTE_ADDR") or None
    count = settings.ALLAUTH_TRUSTED_PROXY_COUNT
    forwarded = request.headers.get("x-forwarded-for", "")
    if count <= 0 or not forwarded or remote is None or not _is_proxy(remote, proxy_networks()):
        return remote
    hops = [hop.strip() for hop in forwarded.split(",")]
    if len(hops) < count:
        return remote
    candidate = hops[-count]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote
