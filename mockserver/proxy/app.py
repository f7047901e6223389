"""The proxy's ASGI application: the control API's journal and the inspector
page under `/__mockserver` (loopback clients or the admin token, as on the
mock), everything else forwarded to the upstream, judged and kept.

Never in the way by default: the client gets the upstream's answer as it
came (status, headers, body), whatever the verdict. With `--strict`, an
answer that breaks the contract is replaced by a `502` whose error body (the
contract's) lists the violations; request violations are recorded only (a
team's negative tests send them on purpose). An upstream that gives no
answer gets a `502` with the error body, journaled like any exchange.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import cast

from starlette.types import ASGIApp, Receive, Scope, Send

from contracts.core.conformance import Side, Verdict
from contracts.core.vocabulary import ERROR_ITEM_FIELDS, Vocabulary
from mockserver.app.control_gate import ControlGate, with_security_headers
from mockserver.app.front_door import CONTROL_PREFIX, UI_PATHS, read_body, send_raw
from mockserver.common.error_body import send_error
from mockserver.control.ui import ui_page
from mockserver.errors import BodyTooLarge
from mockserver.proxy.exchanges import ExchangeLog, Received, Sent
from mockserver.proxy.settings import ProxySettings
from mockserver.proxy.upstream import Answer, Upstream, UpstreamError
from mockserver.settings import Settings

JSON = (b"content-type", b"application/json")


class ProxyApp:
    """Routes a request to the control API, the page, or the upstream; owns the
    upstream client and the exchange log for the proxy's lifetime."""

    def __init__(self, settings: ProxySettings, vocabulary: Vocabulary, upstream: Upstream, log: ExchangeLog,
                 control: ASGIApp):
        self.settings, self.vocabulary, self.upstream, self.log = settings, vocabulary, upstream, log
        self.control = control
        # The mock's own gate: Host, cross-site requests, the admin token (header or cookie), --trust-proxy.
        self.gate = ControlGate(cast(Settings, settings))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path = scope["path"]
        if path.startswith(CONTROL_PREFIX):
            send = with_security_headers(send, page=path in UI_PATHS)
            refusal = self.gate.refusal(scope)
            if refusal is not None:
                await send_error(send, 403, refusal.value)
            elif path in UI_PATHS:
                await send_raw(send, 200, b"text/html; charset=utf-8", ui_page())
            else:
                await self.control(scope, receive, send)
            return
        await self.forward(scope, receive, send)

    async def forward(self, scope: Scope, receive: Receive, send: Send) -> None:
        received = Received(scope["method"], scope["path"], scope.get("raw_path") or scope["path"].encode(),
                            scope.get("query_string", b""), list(scope["headers"]))
        problem = await self._read_body(received, receive)
        if problem is not None:
            await send_error(send, *problem)
            return
        answer: Answer | None = None
        try:
            answer = await self.upstream.send(self.upstream.request(
                received.method, received.raw_path, received.query, received.headers, received.body))
        except UpstreamError as exc:
            sent = self._own_answer(502, [f"The upstream {self.log.upstream} gave no answer: {exc}"], "unreachable")
        verdict = self.log.judge(received, answer)
        if answer is not None:
            sent = Sent(answer.status, answer.headers, answer.body)
            wrong = verdict.on(Side.RESPONSE)
            if wrong and self.settings.strict:
                sent = self._own_answer(502, [f"The upstream's answer (HTTP {answer.status}) breaks the contract:"
                                              f" {v}" for v in wrong], "strict")
        await send({"type": "http.response.start", "status": sent.status, "headers": list(sent.headers)})
        await send({"type": "http.response.body", "body": sent.body})
        self._keep(received, answer, sent, verdict)

    def _keep(self, received: Received, answer: Answer | None, sent: Sent, verdict: Verdict) -> None:
        try:
            self.log.write(received, answer, sent, verdict)
        except Exception:  # noqa: BLE001 - keeping an exchange must never break the proxy
            logging.getLogger("mockserver.proxy").exception("could not keep an exchange")

    def _own_answer(self, status: int, messages: list[str], why: str) -> Sent:
        message_field, code_field = ERROR_ITEM_FIELDS
        body = json.dumps({self.vocabulary.fields.errors: [{message_field: m, code_field: status}
                                                           for m in messages]}).encode()
        return Sent(status, (JSON, (b"content-length", str(len(body)).encode())), body, why)

    async def _read_body(self, received: Received, receive: Receive) -> tuple[int, str] | None:
        """Read the whole body into `received`; the status and message to answer instead, if any."""
        limit, timeout = self.settings.max_request_bytes, self.settings.body_timeout
        try:
            async with asyncio.timeout(timeout):
                body = await read_body(receive, limit)
        except TimeoutError:
            return 408, f"Request body not received within {timeout:g} seconds"
        except BodyTooLarge as exc:
            return exc.status, f"{exc.message} (the proxy's limit)"
        if body is None:
            return 400, "The client went away"
        received.body = body
        return None

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.log.journal.flush()
                if self.log.recorder is not None:
                    self.log.recorder.close()
                await self.upstream.close()
                await send({"type": "lifespan.shutdown.complete"})
                return
