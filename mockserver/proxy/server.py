"""Running a proxy: `build_proxy()` (the ASGI app, for tests in-process too) and
`serve_proxy()` for the CLI: one uvicorn worker (the recording is one file
written in order) behind the mock's HTTP/1.1 hardening
(`mockserver.wire.http11`: malformed requests, oversized headers and slow
clients answered by the proxy itself, with the contract's error body)."""

from __future__ import annotations

import functools
import re
import sys
from typing import Any, TextIO

import httpx

from mockserver.common.openapi_documents import load_documents
from mockserver.proxy.app import ProxyApp
from mockserver.proxy.control import ProxyService, control_app
from mockserver.proxy.exchanges import ExchangeLog
from mockserver.proxy.recording import Recorder
from mockserver.proxy.settings import ProxySettings, upstream_url
from mockserver.proxy.upstream import Upstream
from mockserver.state.backends import open_store
from mockserver.state.journal import Journal
from mockserver.wire.http11 import Limits, MockHttpProtocol
from mockserver.wire.server import bind

LISTENING = re.compile(r"mockserver proxy listening on (http://\S+)")


def build_proxy(settings: ProxySettings, transport: httpx.AsyncBaseTransport | None = None) -> ProxyApp:
    """The proxy's application. Raises `StartupError` (a refused upstream, an unwritable
    recording, a state that cannot be opened) or `SpecError`."""
    documents = load_documents(settings.spec)
    vocabulary = documents.vocabulary
    url = upstream_url(settings, vocabulary)
    store = open_store(settings.state)
    journal = Journal(store, keep=settings.retain_journal_rows, auth_header=vocabulary.auth_header)
    recorder = Recorder(settings.record) if settings.record else None
    log = ExchangeLog(vocabulary, journal, recorder, upstream=str(url), response_limit=settings.max_response_bytes)
    control = control_app(ProxyService(documents, vocabulary, store, journal, str(url)))
    return ProxyApp(settings, vocabulary, Upstream(url, settings, transport), log, control)


def banner(settings: ProxySettings, base_url: str, app: ProxyApp) -> str:
    mode = "strict: an answer that breaks the contract becomes a 502" if settings.strict else \
        "recording violations, answers passed through unchanged"
    return "\n".join([
        f"mockserver proxy listening on {base_url} -> {app.log.upstream}",
        f"  contract: {app.vocabulary.spec.path} (sha256 {app.vocabulary.spec.digest[:12]})   mode: {mode}",
        f"  journal: {base_url}/__mockserver/journal   page: {base_url}/__mockserver/ui/",
        f"  recording: {settings.record or 'none (--record FILE)'}",
    ])


def serve_proxy(settings: ProxySettings, out: TextIO = sys.stdout) -> None:
    """Run until interrupted. Raises `StartupError` or `SpecError`."""
    import uvicorn

    app = build_proxy(settings)
    sock = bind(settings.host, settings.port)
    host, port = sock.getsockname()[:2]
    shown_host = f"[{host}]" if ":" in host else host
    print(banner(settings, f"http://{shown_host}:{port}", app), file=out, flush=True)
    limits = Limits(header_timeout=settings.header_timeout, body_timeout=settings.body_timeout)
    protocol: Any = functools.partial(MockHttpProtocol, limits=limits)
    config = uvicorn.Config(
        app,
        log_level=settings.log_level,
        access_log=settings.log_level == "debug",
        fd=sock.fileno(),
        lifespan="on",
        timeout_graceful_shutdown=5,
        proxy_headers=False,
        server_header=False,
        date_header=False,  # the upstream's Date goes through, not a second one
        http=protocol,
        ws="none",
    )
    uvicorn.Server(config).run(sockets=[sock])
