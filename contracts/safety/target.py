"""Which deployment a run talks to, and whether it may.

The host is judged as the HTTP library will contact it: httpx parses the
base URL (percent-escapes in the host decoded, IDNA applied, lower case),
and a trailing dot is dropped, so `http://platform%2ekore%2eai` and
`https://PLATFORM.KORE.AI./` are the vendor's production host, refused like
the plain spelling. The production hosts are the contract's
(`servers[].x-production-hosts`).
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from contracts.core.errors import ConfigError
from contracts.core.hosts import denied_hosts_matching, is_loopback, normalise_host

__all__ = ["Target", "is_loopback", "normalise_host"]


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
        denied = denied_hosts_matching(host, denied_hosts)
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
