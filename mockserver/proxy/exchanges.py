"""One exchange through the proxy: judged against the contract, redacted, then
written to the journal and the recording.

`Received` is the request as the client sent it; `Sent` the answer the client
got (the upstream's, or the proxy's own 502). `ExchangeLog.judge` gives the
contract's verdict (`contracts.core.conformance`); `ExchangeLog.write` keeps
what was seen, redacted: the credential headers' values are the secrets
(each 16-character fragment of them is masked wherever it appears, as the
runner's `Redactor` does, and so is anything shaped like a JWT), so a
deployment that echoes a token, whole or cut, leaks nothing to the journal,
the page, the logs or the recording.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from contracts.core.conformance import Conformance, Exchange, Verdict
from contracts.core.redaction import MARK, Redactor
from contracts.core.tokens import claimed_app_id
from contracts.core.vocabulary import CREATE, Vocabulary
from mockserver.proxy.recording import Recorder, body_fields
from mockserver.proxy.upstream import Answer
from mockserver.state.journal import CREDENTIAL_HEADERS, Journal, JournalRow
from mockserver.state.journal_query import parse_body
from mockserver.state.records import iso, now_ms

log = logging.getLogger("mockserver.proxy")


@dataclass
class Received:
    """A request as the client sent it."""

    method: str
    path: str  # decoded, as the journal shows it
    raw_path: bytes  # as sent
    query: bytes
    headers: list[tuple[bytes, bytes]]
    body: bytes = b""
    time_ms: int = field(default_factory=now_ms)
    started: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class Sent:
    """The answer the client got, and why it is not the upstream's when it is not."""

    status: int
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes
    replaced: str | None = None  # strict (the upstream's answer broke the contract) or unreachable


def _text(pairs: Any) -> tuple[tuple[str, str], ...]:
    return tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in pairs)


class ExchangeLog:
    """Judges each exchange and keeps it, redacted, in the journal and the recording."""

    def __init__(self, vocabulary: Vocabulary, journal: Journal, recorder: Recorder | None, *, upstream: str,
                 response_limit: int):
        self.vocabulary, self.journal, self.recorder = vocabulary, journal, recorder
        self.conformance = Conformance(vocabulary)
        self.upstream, self.response_limit = upstream, response_limit
        self.credentials = CREDENTIAL_HEADERS | {vocabulary.auth_header.lower().encode()}

    def judge(self, received: Received, answer: Answer | None) -> Verdict:
        exchange = Exchange(
            received.method, received.raw_path.decode("latin-1"), received.query.decode("latin-1"),
            _text(received.headers), received.body,
            answer.status if answer else None, _text(answer.headers) if answer else (),
            answer.decoded(self.response_limit) if answer else b"",
        )
        return self.conformance.exchange(exchange)

    def redactor(self, received: Received) -> Redactor:
        secrets = [v.decode("latin-1") for k, v in received.headers if k.lower() in self.credentials]
        return Redactor(secrets)

    def write(self, received: Received, answer: Answer | None, sent: Sent, verdict: Verdict) -> None:
        redact = self.redactor(received)
        violations = [self._redacted(v.as_json(), redact) for v in verdict.violations]
        if violations:
            log.warning("%s %s -> %d: %d contract violation(s), the first: %s", received.method,
                        redact(received.path), sent.status, len(violations), violations[0]["message"])
        self.journal.append(JournalRow(
            received.time_ms, received.method, redact(received.path), redact_bytes(received.query, redact),
            tuple((k, redact_bytes(v, redact)) for k, v in self.journal.headers(received.headers)),
            redact_bytes(received.body, redact) or None, sent.status,
            redact_bytes(self._answer_body(answer, sent), redact), self._app_id(received),
            verdict.operation_id, None, self._request_id(verdict, sent), violations,
        ))
        if self.recorder is not None:
            self.recorder.append(self._line(received, answer, sent, verdict, violations, redact))

    def _line(self, received: Received, answer: Answer | None, sent: Sent, verdict: Verdict,
              violations: list[dict[str, str]], redact: Redactor) -> dict[str, Any]:
        upstream = answer or sent
        body = answer.decoded(self.response_limit) if answer else sent.body
        return {
            "contractDigest": self.vocabulary.spec.digest,
            "upstream": self.upstream,
            "time": iso(received.time_ms),
            "durationMs": round((time.monotonic() - received.started) * 1000, 3),
            "upstreamMs": round(answer.seconds * 1000, 3) if answer else None,
            "request": {
                "method": received.method,
                "path": redact(received.raw_path.decode("latin-1")),
                "query": redact(received.query.decode("latin-1")),
                "headers": self._headers(received.headers, redact),
                **body_fields(redact_bytes(received.body, redact)),
            },
            "response": {
                "status": upstream.status,
                "headers": self._headers(upstream.headers, redact),
                **body_fields(redact_bytes(body, redact)),
            } if answer else None,
            "sent": {"status": sent.status, "replaced": sent.replaced} if sent.replaced else None,
            "operationId": verdict.operation_id,
            "violations": violations,
        }

    def _answer_body(self, answer: Answer | None, sent: Sent) -> bytes:
        """The answer's body as the journal keeps it: decoded, unless the proxy answered itself."""
        return answer.decoded(self.response_limit) if answer is not None and sent.replaced is None else sent.body

    def _headers(self, pairs: Any, redact: Redactor) -> list[list[str]]:
        return [[k.decode("latin-1"), MARK if k.lower() in self.credentials or k.lower() == b"set-cookie"
                 else redact(v.decode("latin-1"))] for k, v in pairs]

    @staticmethod
    def _redacted(violation: dict[str, str], redact: Redactor) -> dict[str, str]:
        return {key: redact(value) for key, value in violation.items()}

    def _app_id(self, received: Received) -> str | None:
        header = self.vocabulary.auth_header.lower().encode()
        tokens = [v.decode("latin-1") for k, v in received.headers if k.lower() == header]
        return claimed_app_id(self.vocabulary.token, tokens[0]) if len(tokens) == 1 else None

    def _request_id(self, verdict: Verdict, sent: Sent) -> str | None:
        if verdict.operation_id is None or not 200 <= sent.status < 300:
            return None
        if self.vocabulary.operation(verdict.operation_id).role != CREATE:
            return None
        parsed, body = parse_body(sent.body)
        value = self.vocabulary.link.value_in(body) if parsed else None
        return value if isinstance(value, str) and len(value) <= 200 else None


def redact_bytes(data: bytes, redact: Redactor) -> bytes:
    """`data` with secrets masked, when it is UTF-8 text holding any; else as it was."""
    if not data:
        return data
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return data
    masked = redact(text)
    return data if masked == text else masked.encode("utf-8")


