"""Hosts as the HTTP library contacts them, and the contract's deny-list of the
vendor's production hosts (`servers[].x-production-hosts`), for every tool that
sends traffic somewhere: `contracts run` and `contracts diff`
(`contracts.safety.target`) and `mockserver proxy`.

A host is compared after httpx has parsed the URL (percent-escapes in the
host decoded, IDNA applied, lower case) and a trailing dot is dropped, so
`http://platform%2ekore%2eai` and `https://PLATFORM.KORE.AI./` are the
production host the plain spelling is."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import unquote


def normalise_host(host: str) -> str:
    """A host as compared with the deny-list: percent-escapes decoded, IDNA
    (A-labels), lower case, no trailing dot."""
    host = unquote(host).strip().lower().rstrip(".")
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return host


def denied_hosts_matching(host: str, denied_hosts: tuple[str, ...]) -> list[str]:
    """The deny-listed hosts `host` is, or is a subdomain of."""
    host = normalise_host(host)
    return [d for d in denied_hosts if host == normalise_host(d) or host.endswith("." + normalise_host(d))]


def is_loopback(host: str) -> bool:
    """Whether a run talks to this machine: an address literal that is loopback, or a
    `localhost` name (`localhost`, `*.localhost`) that resolves, every address of it, to
    loopback. Judged by resolution, not by spelling: `staging.localhost` may be a name a
    resolver or /etc/hosts points elsewhere, and then it is remote. Other names are remote
    without a lookup (no DNS traffic to judge them)."""
    address = _address(host)
    if address is not None:
        return _loopback(address)
    if host != "localhost" and not host.endswith(".localhost"):
        return False
    try:
        found = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except (OSError, UnicodeError):
        return False
    addresses = [_address(str(a).split("%")[0]) for a in found]
    return bool(addresses) and all(a is not None and _loopback(a) for a in addresses)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return None


def _loopback(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or bool(mapped and mapped.is_loopback)
