"""Which deployment a run talks to, and whether it may.

The host is judged as the HTTP library will contact it: httpx parses the
base URL (percent-escapes in the host decoded, IDNA applied, lower case),
and a trailing dot is dropped, so `http://platform%2ekore%2eai` and
`https://PLATFORM.KORE.AI./` are the vendor's production host, refused like
the plain spelling. The production hosts are the contract's
(`servers[].x-production-hosts`).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import unquote

import httpx

from contracts.core.errors import ConfigError


@dataclass(frozen=True)
class Target:
    """The deployment a run talks to: its base URL and host as httpx will use them, and
    whether erase safety is strict (remote)."""

    base_url: str  # as httpx will use it, without a trailing slash
    host: str  # the host httpx will contact, normalised
    remote: bool

    @classmethod
    def of(cls, base_url: str, *, kind: str, denied_hosts: tuple[str, ...], allow_denied: bool) -> Target:
        url = _parse(base_url)
        host = normalise_host(url.host)
        denied = [d for d in denied_hosts if host == normalise_host(d) or host.endswith("." + normalise_host(d))]
        if denied and not allow_denied:
            raise ConfigError(
                f"{host} is a production host of the vendor (deny-list); refusing to test it."
                " Use a staging host, or pass --allow-denied-host if you really mean it"
            )
        remote = {"auto": not is_loopback(host), "local": False, "remote": True}[kind]
        return cls(str(url).rstrip("/"), host, remote)


def _parse(base_url: str) -> httpx.URL:
    problem = f"--base-url {base_url!r} is not an http(s) URL (e.g. http://127.0.0.1:8080)"
    try:
        url = httpx.URL(base_url)
        host = url.host  # decoded from IDNA here: an invalid A-label raises
    except UnicodeError as exc:  # IDNA
        raise ConfigError(f"--base-url {base_url!r}: its host is not a valid domain name ({exc})") from None
    except (httpx.InvalidURL, TypeError, ValueError):
        raise ConfigError(problem) from None
    if url.scheme not in ("http", "https") or not host:
        raise ConfigError(problem)
    if url.query or url.fragment or url.userinfo:
        raise ConfigError(f"--base-url {base_url!r} must not carry credentials, a query or a fragment")
    return url


def normalise_host(host: str) -> str:
    """A host as compared with the deny-list: percent-escapes decoded, IDNA
    (A-labels), lower case, no trailing dot."""
    host = unquote(host).strip().lower().rstrip(".")
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return host


def is_loopback(host: str) -> bool:
    """Whether the run talks to this machine: an address literal that is loopback, or a
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
