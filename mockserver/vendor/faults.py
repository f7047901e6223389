"""Faults injected through the control API: what they match, and what they do.

Request faults answer instead of the mock: `status` (an error status with the
contract's body, `Retry-After` when asked), `latency` (wait, then answer
normally), `drop` (close the connection without an answer), `gateway` (a
`text/html` 502, as a proxy in front of the vendor sends).

Vendor drift faults let the mock answer, then change the answer the way a
deployment that drifted from the contract would, for testing a client's
resilience:

| kind | the answer becomes |
|---|---|
| `statusValue` | every per-user status is `value` (default `QUEUED`: undocumented) |
| `missingField` | the top-level `field` is left out |
| `renamedField` | the top-level `field` is called `renameTo` |
| `extraField` | a top-level `field` with `value` is added |
| `requestIdFormat` | request ids as the prefix and 32 hex digits, no dashes (readable while the fault exists) |
| `errorShape` | error bodies as `{"error": {"message": ..., "status": ...}}` |
| `contentType` | the `Content-Type` is `contentType` (default `text/plain`) |
| `slowFirstByte` | the answer starts after `delayMs` |

Every fault can be narrowed by `method`, `path` (a prefix), `operationId`,
`count` (the next N matching requests) and `fraction` (at random).

Faults compose. Every fault that matches a request applies, in three stages
(`Stage`), whatever the order they were injected in:

1. delays: `latency` waits before the request is answered, `slowFirstByte`
   before the answer's first byte is sent (both, when both match);
2. a replacing answer: `status`, `gateway` or `drop` answers instead of the
   mock (the earliest injected one; another replacing fault is not used, and
   keeps its `count`);
3. drifts: each drift fault changes whatever answer the first two stages
   left (the mock's, or the replacing one), in the order they were injected,
   so several drifts stack (`statusValue` and `extraField` on one answer;
   `errorShape` on an injected `status` answer; `contentType` on a gateway page).
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Any

from contracts.core.vocabulary import Vocabulary


class FaultKind(StrEnum):
    """The kinds of fault (control.yaml's `Fault.kind`); each member is its JSON spelling."""

    STATUS = "status"
    LATENCY = "latency"
    DROP = "drop"
    GATEWAY = "gateway"
    STATUS_VALUE = "statusValue"
    MISSING_FIELD = "missingField"
    RENAMED_FIELD = "renamedField"
    EXTRA_FIELD = "extraField"
    REQUEST_ID_FORMAT = "requestIdFormat"
    ERROR_SHAPE = "errorShape"
    CONTENT_TYPE = "contentType"
    SLOW_FIRST_BYTE = "slowFirstByte"


class Stage(IntEnum):
    """When a fault acts on a request, in the order the stages apply."""

    DELAY = 1
    REPLACE = 2
    DRIFT = 3


#: Faults that wait (before the answer, or before its first byte).
DELAY_FAULTS = frozenset({FaultKind.LATENCY, FaultKind.SLOW_FIRST_BYTE})
#: Faults that answer instead of the mock.
REPLACING_FAULTS = frozenset({FaultKind.STATUS, FaultKind.DROP, FaultKind.GATEWAY})
#: Faults that change whatever answer the request gets (vendor drift).
DRIFT_FAULTS = frozenset(FaultKind) - DELAY_FAULTS - REPLACING_FAULTS


def stage(kind: FaultKind) -> Stage:
    """The stage a fault of `kind` acts in."""
    if kind in DELAY_FAULTS:
        return Stage.DELAY
    return Stage.REPLACE if kind in REPLACING_FAULTS else Stage.DRIFT
#: The parameters of the drift kinds (beside the ones every fault has).
DRIFT_PARAMETERS = ("value", "field", "renameTo", "contentType", "delayMs")
#: The parameter each kind needs (checked when the fault is injected).
REQUIRED = {FaultKind.MISSING_FIELD: ("field",), FaultKind.RENAMED_FIELD: ("field", "renameTo"),
            FaultKind.EXTRA_FIELD: ("field",)}
GATEWAY_PAGE = (b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1>"
                b"</center></body></html>\n")
UNDOCUMENTED_STATUS = "QUEUED"


@dataclass
class Fault:
    """Owns one injected fault: its kind and parameters, which requests it matches
    (`method`, `path` prefix, `operationId`, `fraction`), how many it has left, and
    its `spec` as injected (what the control API and the journal show)."""

    id: int
    kind: FaultKind
    remaining: int | None
    fraction: float
    method: str | None
    path: str | None
    operation_id: str | None
    status: int = 503
    retry_after: int | None = None
    latency_ms: int = 0
    message: str | None = None
    spec: dict[str, Any] = field(default_factory=dict)  # as injected: what the journal shows

    @classmethod
    def from_row(cls, fault_id: int, spec: dict[str, Any], remaining: int | None) -> Fault:
        return cls(
            id=fault_id,
            kind=FaultKind(spec["kind"]),
            remaining=remaining,
            fraction=spec.get("fraction", 1.0),
            method=spec.get("method"),
            path=spec.get("path"),
            operation_id=spec.get("operationId"),
            status=spec.get("status", 503),
            retry_after=spec.get("retryAfter"),
            latency_ms=spec.get("latencyMs", 0),
            message=spec.get("message"),
            spec=spec,
        )

    @property
    def params(self) -> dict[str, Any]:
        """The drift kinds' parameters, as injected."""
        return {k: self.spec[k] for k in DRIFT_PARAMETERS if k in self.spec}

    def matches(self, method: str, path: str, operation_id: str | None) -> bool:
        return (
            (self.method is None or self.method.upper() == method)
            and (self.path is None or path.startswith(self.path))
            and (self.operation_id is None or self.operation_id == operation_id)
        )


@dataclass(frozen=True)
class Composed:
    """Owns the faults that apply to one request, by stage: the delays, the one
    replacing answer (if any) and the drifts, each list in injection order."""

    faults: tuple[Fault, ...]

    @property
    def latency_ms(self) -> int:
        """The wait before the request is answered."""
        return sum(f.latency_ms for f in self.faults if f.kind is FaultKind.LATENCY)

    @property
    def first_byte_delay_ms(self) -> int:
        """The wait before the answer's first byte."""
        return sum(int(f.params.get("delayMs", 1000)) for f in self.faults if f.kind is FaultKind.SLOW_FIRST_BYTE)

    @property
    def replacing(self) -> Fault | None:
        return next((f for f in self.faults if f.kind in REPLACING_FAULTS), None)

    @property
    def drifts(self) -> tuple[Fault, ...]:
        return tuple(f for f in self.faults if f.kind in DRIFT_FAULTS)

    def journaled(self) -> list[dict[str, Any]]:
        """The faults as the journal shows them (as listed by the control API), in stage order."""
        ordered = sorted(self.faults, key=lambda f: (stage(f.kind), f.id))
        return [dict(f.spec, id=f.id) for f in ordered]


def problem(spec: dict[str, Any]) -> str | None:
    """Why an injected fault cannot work, if it cannot (a parameter its kind needs)."""
    missing = [name for name in REQUIRED.get(spec["kind"], ()) if name not in spec]
    return f"a {spec['kind']} fault needs {', '.join(missing)}" if missing else None


class Drift:
    """The vendor drift faults' changes to an answer, in the contract's vocabulary."""

    def __init__(self, vocabulary: Vocabulary):
        self.vocabulary = vocabulary
        fmt = vocabulary.request_id
        self.alternate_id = re.compile(re.escape(fmt.prefix) + "([0-9a-f]{32})$")

    # -- request ids in another format, both ways -----------------------------------------------

    def other_id(self, request_id: str) -> str:
        return self.vocabulary.request_id.prefix + request_id.removeprefix(self.vocabulary.request_id.prefix).replace(
            "-", "")

    def canonical_path(self, path: str) -> str | None:
        """The path with an id in the alternate format put back in the contract's, if it has one."""
        head, _, last = path.rpartition("/")
        match = self.alternate_id.match(last)
        if not head or match is None:
            return None
        return f"{head}/{self.vocabulary.request_id.prefix}{uuid.UUID(hex=match.group(1))}"

    # -- answers ----------------------------------------------------------------------------------

    def apply_all(self, faults: tuple[Fault, ...], status: int, headers: list[tuple[bytes, bytes]], body: bytes
                  ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """The answer with every drift of `faults` applied, one on the other's result, in order."""
        for fault in faults:
            status, headers, body = self.apply(fault, status, headers, body)
        return status, headers, body

    def apply(self, fault: Fault, status: int, headers: list[tuple[bytes, bytes]], body: bytes
              ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        kind, params = fault.kind, fault.params
        if kind is FaultKind.CONTENT_TYPE:
            value = str(params.get("contentType", "text/plain")).encode()
            headers = [(k, v) for k, v in headers if k.lower() != b"content-type"] + [(b"content-type", value)]
            return status, headers, body
        try:
            document = json.loads(body)
        except ValueError:
            return status, headers, body
        changed = self._change(kind, params, status, document)
        if changed is document:
            return status, headers, body
        data = json.dumps(changed).encode()
        headers = [(k, v) for k, v in headers if k.lower() != b"content-length"]
        return status, headers + [(b"content-length", str(len(data)).encode())], data

    def _change(self, kind: FaultKind, params: dict[str, Any], status: int, document: Any) -> Any:
        f = self.vocabulary.fields
        if not isinstance(document, dict):
            return document
        if kind is FaultKind.ERROR_SHAPE and status >= 400:
            message = self.vocabulary.error_message(document) or ""
            return {"error": {"message": message, "status": status}}
        if status >= 400:
            return document
        if kind is FaultKind.STATUS_VALUE and isinstance(document.get(f.results), list):
            value = params.get("value", UNDOCUMENTED_STATUS)
            return dict(document, **{f.results: [dict(r, **{f.user_status: value}) for r in document[f.results]]})
        if kind is FaultKind.MISSING_FIELD and params["field"] in document:
            return {k: v for k, v in document.items() if k != params["field"]}
        if kind is FaultKind.RENAMED_FIELD and params["field"] in document:
            return {(params["renameTo"] if k == params["field"] else k): v for k, v in document.items()}
        if kind is FaultKind.EXTRA_FIELD:
            return dict(document, **{params["field"]: params.get("value")})
        if kind is FaultKind.REQUEST_ID_FORMAT:
            changed = dict(document)
            for name in (f.request_id, f.id):
                if isinstance(changed.get(name), str):
                    changed[name] = self.other_id(changed[name])
            return changed
        return document
