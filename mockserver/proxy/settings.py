"""What a proxy is told: `ProxySettings`, and the upstream URL judged before
anything is opened (an http(s) URL; the contract's production hosts only with
`allow_denied_host`, as for `contracts run`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from contracts.core.hosts import denied_hosts_matching
from contracts.core.vocabulary import Vocabulary
from mockserver.errors import StartupError

if TYPE_CHECKING:
    import httpx

MIB = 1024 * 1024


@dataclass(frozen=True)
class ProxySettings:
    """The settings of one `mockserver proxy`."""

    upstream: str
    host: str = "127.0.0.1"
    port: int = 8081
    record: str | None = None  # the JSON-lines recording (--record)
    strict: bool = False  # a response that breaks the contract becomes a 502
    allow_denied_host: bool = False
    spec: str | None = None
    state: str = ":memory:"  # where the journal is kept
    timeout: float = 30.0  # seconds per upstream exchange (connect, each read, each write)
    max_request_bytes: int = 16 * MIB  # above the contract's limit: the upstream's own 413 is what is judged
    max_response_bytes: int = 16 * MIB
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    admin_token: str | None = None
    public_host: str | None = None  # other names of the proxy its control API answers to (Host)
    trust_proxy: bool = False  # behind a reverse proxy: loopback is no proof, the admin token is needed
    retain_journal_rows: int = 100_000
    log_level: str = "info"


def upstream_url(settings: ProxySettings, vocabulary: Vocabulary) -> httpx.URL:
    """The upstream as httpx will contact it. Raises `StartupError` for a URL that is
    not http(s), carries credentials, a query or a fragment, or names a production
    host of the contract without `--allow-denied-host`."""
    import httpx

    problem = f"--upstream {settings.upstream!r} is not an http(s) URL (e.g. https://staging.example.com)"
    try:
        url = httpx.URL(settings.upstream)
    except (httpx.InvalidURL, TypeError, ValueError):
        raise StartupError(problem) from None
    if url.scheme not in ("http", "https") or not url.host:
        raise StartupError(problem)
    if url.query or url.fragment or url.userinfo:
        raise StartupError(f"--upstream {settings.upstream!r} must not carry credentials, a query or a fragment")
    denied = denied_hosts_matching(url.host, vocabulary.production_hosts)
    if denied and not settings.allow_denied_host:
        raise StartupError(f"{url.host} is a production host of the vendor (the contract's deny-list); refusing to"
                           " proxy to it. Use a staging host, or pass --allow-denied-host if you really mean it")
    return url
