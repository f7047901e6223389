"""Who may use the control API and the inspector page, and what every control answer carries.

The policy, in one place:
- the caller: a loopback peer (unless `--trust-proxy`: behind a reverse proxy or a
  sidecar every client looks like loopback), or the admin token, given in the
  `X-Mockserver-Admin-Token` header or in the page's cookie;
- the `Host`: an IP address literal, a name the public DNS never answers (`localhost`,
  `*.localhost`, `*.test`: RFC 6761), the address the mock listens on, or a `--public-host`
  name (a DNS-rebinding page reaches the mock under its own, public name);
- the browser: no cross-site request (`Sec-Fetch-Site` other than `same-origin`/`none`,
  or an `Origin` that is not the `Host` asked for); request bodies are JSON only (`Guard`);
- the admin token never stays in a URL: `/__mockserver/ui/?token=T` is traded for an
  HttpOnly, SameSite=Strict cookie scoped to the control prefix and a redirect to the
  clean URL, so no `Referer`, history entry or log line holds it;
- every control answer says `Referrer-Policy: no-referrer`, `X-Frame-Options: DENY`,
  `X-Content-Type-Options: nosniff`, `Cache-Control: no-store` and a strict
  `Content-Security-Policy` (the page's inline script and style are allowed by hash).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import ipaddress
import re
from enum import StrEnum
from http.cookies import SimpleCookie
from urllib.parse import parse_qsl, urlsplit

from starlette.types import Message, Scope, Send

from mockserver.control.ui import ui_page
from mockserver.settings import Settings

ADMIN_TOKEN_HEADER = b"x-mockserver-admin-token"
COOKIE = "mockserver_admin"
#: What a browser may do with any control answer that is not the page.
API_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
#: `Sec-Fetch-Site` values of a request the mock's own page (or a person typing the URL) makes.
SAME_SITE = frozenset({"same-origin", "none"})
#: Names no public DNS server answers (RFC 6761): no page can rebind them.
RESERVED_SUFFIXES = (".localhost", ".test")
_INLINE = re.compile(rb"<(script|style)>(.*?)</\1>", re.S)


class Refusal(StrEnum):
    """Why a control request is refused (403), as its error message says."""

    CALLER = "The control API answers loopback clients or the admin token only"
    PROXIED = "The control API answers the admin token only (--trust-proxy: loopback is a proxy)"
    HOST = "The control API answers requests for the mock's own address only (Host; see --public-host)"
    CROSS_SITE = "The control API refuses cross-site browser requests"


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


def is_loopback(scope: Scope) -> bool:
    """A loopback peer. A server listening on `::` sees IPv4 clients as
    IPv4-mapped IPv6 addresses (`::ffff:127.0.0.1`), which `is_loopback` does
    not recognise: the mapped IPv4 address is what counts."""
    client = scope.get("client")
    if not client:
        return False
    try:
        address = ipaddress.ip_address(client[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def _host_name(value: str) -> str:
    """The name in a `Host` header, without its port or IPv6 brackets, lower case."""
    try:
        return (urlsplit("//" + value).hostname or "").lower()
    except ValueError:
        return ""


def _is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


@functools.cache
def page_policy() -> str:
    """The page's CSP: nothing from elsewhere; its own inline script and style by hash."""
    hashes: dict[bytes, list[str]] = {b"script": [], b"style": []}
    for tag, content in _INLINE.findall(ui_page()):
        hashes[tag].append("'sha256-" + base64.b64encode(hashlib.sha256(content).digest()).decode() + "'")
    return (f"default-src 'none'; script-src {' '.join(hashes[b'script'])}; style-src {' '.join(hashes[b'style'])};"
            " connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")


def with_security_headers(send: Send, *, page: bool) -> Send:
    """A `send` that adds the control answers' security headers to the answer's start."""
    policy = page_policy() if page else API_POLICY
    extra = [(b"referrer-policy", b"no-referrer"), (b"x-frame-options", b"DENY"),
             (b"x-content-type-options", b"nosniff"), (b"cache-control", b"no-store"),
             (b"content-security-policy", policy.encode())]

    async def secured(message: Message) -> None:
        if message["type"] == "http.response.start":
            names = {name for name, _ in extra}
            headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
            message = dict(message, headers=[*headers, *extra])
        await send(message)

    return secured


class ControlGate:
    """Owns the decision whether a control request (page or API) is answered, and the
    trade of the page's `?token=` for a cookie."""

    def __init__(self, settings: Settings):
        self.token = settings.admin_token
        self.trust_proxy = settings.trust_proxy
        names = {"localhost", settings.host.lower()}
        names.update(name.strip().lower() for name in (settings.public_host or "").split(",") if name.strip())
        self.hosts = frozenset(names)

    def refusal(self, scope: Scope, *, query_token: bool = False) -> Refusal | None:
        """Why this request may not use the control API (None: it may)."""
        if not self._host_allowed(scope):
            return Refusal.HOST
        if self._cross_site(scope):
            return Refusal.CROSS_SITE
        if self.presented_token(scope, query_token=query_token):
            return None
        if self.trust_proxy:
            return Refusal.PROXIED
        return None if is_loopback(scope) else Refusal.CALLER

    def presented_token(self, scope: Scope, *, query_token: bool = False) -> bool:
        """Whether the request carries the admin token (header, cookie, or `?token=` for the page)."""
        if not self.token:
            return False
        candidates = [_header(scope, ADMIN_TOKEN_HEADER), self._cookie(scope)]
        if query_token:
            candidates.append(query_value(scope, "token"))
        return any(given and hmac.compare_digest(self.token.encode(), given.encode()) for given in candidates)

    def _host_allowed(self, scope: Scope) -> bool:
        host = _host_name(_header(scope, b"host") or "")
        if not host:  # HTTP/1.0 without Host: the peer address is all there is
            return True
        return _is_address(host) or host in self.hosts or ("." + host).endswith(RESERVED_SUFFIXES)

    @staticmethod
    def _cross_site(scope: Scope) -> bool:
        site = _header(scope, b"sec-fetch-site")
        if site is not None and site.lower() not in SAME_SITE:
            return True
        origin = _header(scope, b"origin")
        if origin is None:
            return False
        return origin.lower() != _own_origin(scope)

    @staticmethod
    def _cookie(scope: Scope) -> str | None:
        raw = _header(scope, b"cookie")
        if not raw:
            return None
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(raw)
        except Exception:  # a malformed Cookie header: no token in it
            return None
        morsel = jar.get(COOKIE)
        return morsel.value if morsel is not None else None

    async def trade_token(self, scope: Scope, send: Send, clean_path: str) -> None:
        """Answer a page request that names its token in the URL: a cookie and a redirect
        to the same page without the query."""
        headers = [(b"location", clean_path.encode()), (b"content-length", b"0")]
        if query_value(scope, "token") and self.presented_token(scope, query_token=True):
            assert self.token is not None
            cookie = f"{COOKIE}={self.token}; Path=/__mockserver; HttpOnly; SameSite=Strict"
            if scope.get("scheme") == "https":
                cookie += "; Secure"
            headers.append((b"set-cookie", cookie.encode("latin-1")))
        await send({"type": "http.response.start", "status": 303, "headers": headers})
        await send({"type": "http.response.body", "body": b""})


def query_value(scope: Scope, name: str) -> str | None:
    return dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"))).get(name)


def _own_origin(scope: Scope) -> str:
    """The origin a same-origin page would send: the scheme and the `Host` asked for."""
    return f"{scope.get('scheme', 'http')}://{(_header(scope, b'host') or '').lower()}"
