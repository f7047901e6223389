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
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or bool(mapped and mapped.is_loopback)
