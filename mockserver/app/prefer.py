"""Per-request forcing, as Prism users expect (RFC 7240's `Prefer` header):

- `Prefer: code=429` answers the operation's documented 429: its example
  body (or the contract's error body) and its documented headers, with
  their examples (`Retry-After: 30`);
- `Prefer: example=mixed` answers the named example of one of the
  operation's documented responses, with that response's status.

It applies only to a request that passed auth and validation (it is checked
where the handler would run), so it can never stand in for an auth test. A
code the operation does not document, or an example it does not have, is a
400 naming what it does have. The answer says `Preference-Applied`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from contracts.core.vocabulary import Operation, Vocabulary
from mockserver.errors import Refused

_PAIR = re.compile(r"^\s*([A-Za-z-]+)\s*=\s*\"?([^\";,]*)\"?\s*$")


@dataclass(frozen=True)
class Canned:
    """Owns one canned answer: its status, headers and body."""

    status: int
    headers: dict[str, str]
    body: bytes


class Preferences:
    """Owns the canned answers a `Prefer` header may ask for, per operation: by
    documented status code and by named example."""

    def __init__(self, vocabulary: Vocabulary):
        self.vocabulary = vocabulary
        self.codes: dict[str, dict[int, Canned]] = {}
        self.examples: dict[str, dict[str, Canned]] = {}
        for operation in vocabulary.operations.values():
            self._read(operation)

    def _read(self, operation: Operation) -> None:
        spec = self.vocabulary.spec
        codes, examples = {}, {}
        for code, raw in operation.definition.get("responses", {}).items():
            if not str(code).isdigit():
                continue
            status, response = int(code), spec.resolve(raw)
            headers = {name: str(spec.resolve(header).get("example", spec.resolve(header).get("schema", {})
                                                       .get("example", "")))
                       for name, header in (response.get("headers") or {}).items()}
            media = (response.get("content") or {}).get("application/json", {})
            named = {name: spec.resolve(example).get("value") for name, example in (media.get("examples") or {})
                     .items()}
            value = media.get("example", next(iter(named.values()), None))
            if value is None and status >= 400:
                description = str(response.get("description", "")).strip().splitlines()
                value = self.vocabulary.error_body(status, description[0] if description else f"HTTP {status}")
            body = json.dumps(value).encode() if value is not None else b""
            codes[status] = Canned(status, headers, body)
            for name, example in named.items():
                examples[name] = Canned(status, headers, json.dumps(example).encode())
        self.codes[operation.operation_id], self.examples[operation.operation_id] = codes, examples

    def answer(self, operation_id: str, header: str) -> tuple[Canned, str] | None:
        """The canned answer a `Prefer` header asks for (and what was applied),
        None when it asks for nothing this mock does. Raises `Refused` (400)
        for a code or example the operation does not document."""
        wanted: dict[str, str] = {}
        for part in re.split(r"[,;]", header):
            if match := _PAIR.match(part):
                wanted[match.group(1).lower()] = match.group(2)
        code, example = wanted.get("code"), wanted.get("example")
        if example is not None:
            known = self.examples.get(operation_id, {})
            if example not in known:
                names = ", ".join(sorted(known)) or "none"
                raise Refused(400, f"Prefer: example={example} is not an example of {operation_id}"
                                   f" (examples: {names})")
            return known[example], f"example={example}"
        if code is not None:
            known_codes = self.codes.get(operation_id, {})
            if not code.isdigit() or int(code) not in known_codes:
                documented = ", ".join(str(c) for c in sorted(known_codes))
                raise Refused(400, f"Prefer: code={code} is not documented for {operation_id}"
                                   f" (documented: {documented})")
            return known_codes[int(code)], f"code={code}"
        return None


def as_headers(canned: Canned, applied: str) -> list[tuple[bytes, bytes]]:
    headers = {"content-type": "application/json", "preference-applied": applied, **{
        k.lower(): v for k, v in canned.headers.items()}}
    if canned.body:
        headers["content-length"] = str(len(canned.body))
    return [(k.encode(), v.encode()) for k, v in headers.items()]


