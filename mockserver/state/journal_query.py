"""Reading the journal back: the filters of `GET /__mockserver/journal` (and of
`ControlClient.journal()`), the JSON subset match on request bodies, an
entry as the control API shows it, and the nearest documented operation of
a request that matched none.

The subset match is PostgreSQL's `jsonb @>` containment, worked out here in
Python so that both state backends answer alike: an object contains another
when it has each of its keys with a value that contains that key's value; an
array contains another when each element of the other is contained in some
element of it (in any order); any other value only itself (`true` is not
`1`, `1` is `1.0`).
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from contracts.core.vocabulary import Operation, Vocabulary
from mockserver.common import strict_json
from mockserver.state.records import iso
from mockserver.state.store import JOURNAL_COLUMNS

_NO_JSON = object()
_TEMPLATE_PARAMETER = re.compile(r"^\{[^/]+\}$")


@dataclass(frozen=True)
class JournalFilter:
    """Which entries to show. Every field is optional; the SQL ones are applied by
    the store, the body match (`json`) here, after them."""

    operation_id: str | None = None
    method: str | None = None
    path: str | None = None  # a prefix
    status: int | None = None
    app_id: str | None = None
    from_ms: int | None = None  # inclusive
    to_ms: int | None = None  # exclusive
    unmatched: bool = False  # only requests no documented operation matched
    json: Any = field(default=_NO_JSON)

    @property
    def has_json(self) -> bool:
        return self.json is not _NO_JSON

    def where(self) -> tuple[str, list[Any]]:
        """The SQL condition (with `?` placeholders) and its parameters."""
        clauses: list[str] = []
        params: list[Any] = []
        method = self.method.upper() if self.method is not None else None
        for column, value in (("operation_id", self.operation_id), ("method", method),
                              ("status", self.status), ("app_id", self.app_id)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if self.path is not None:
            clauses.append("substr(path, 1, ?) = ?")
            params += [len(self.path), self.path]
        if self.from_ms is not None:
            clauses.append("time_ms >= ?")
            params.append(self.from_ms)
        if self.to_ms is not None:
            clauses.append("time_ms < ?")
            params.append(self.to_ms)
        if self.unmatched:
            clauses.append("operation_id IS NULL")
        return " AND ".join(clauses) or "1 = 1", params

    def matches_body(self, raw: bytes | None) -> bool:
        if not self.has_json:
            return True
        parsed, value = parse_body(raw)
        return parsed and difference(value, self.json) is None


def parse_body(raw: bytes | None) -> tuple[bool, Any]:
    """(True, the JSON value) when `raw` is JSON text, else (False, None)."""
    if not raw:
        return False, None
    try:
        return True, strict_json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, strict_json.JsonTextError):
        return False, None


def difference(value: Any, pattern: Any, where: str = "$") -> str | None:
    """Why `value` does not contain `pattern` (the first place it does not, as a
    phrase), or None when it does."""
    if isinstance(pattern, dict):
        if not isinstance(value, dict):
            return f"{where} is {_short(value)}, not an object"
        for key, wanted in pattern.items():
            if key not in value:
                return f"{where} has no {key!r}"
            found = difference(value[key], wanted, f"{where}.{key}")
            if found:
                return found
        return None
    if isinstance(pattern, list):
        if not isinstance(value, list):
            return f"{where} is {_short(value)}, not an array"
        for wanted in pattern:
            if not any(difference(item, wanted) is None for item in value):
                return f"{where} ({_short(value)}) has no element {_short(wanted)}"
        return None
    if _same_scalar(value, pattern):
        return None
    return f"{where} is {_short(value)}, not {_short(pattern)}"


def _same_scalar(value: Any, pattern: Any) -> bool:
    if isinstance(value, bool) or isinstance(pattern, bool):
        return isinstance(value, bool) and isinstance(pattern, bool) and value == pattern
    if isinstance(value, dict | list):
        return False
    return bool(value == pattern)


def _short(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def render(row: Sequence[Any]) -> dict[str, Any]:
    """A journal row as the control API shows it."""
    values = dict(zip(JOURNAL_COLUMNS, row, strict=True))
    entry: dict[str, Any] = {
        "id": values["id"],
        "time": iso(values["time_ms"]),
        "method": values["method"],
        "path": values["path"],
        "query": values["query"] or "",
        "headers": json.loads(values["headers"]) if values["headers"] else {},
    }
    raw = _bytes(values["body"])
    parsed, body = parse_body(raw)
    entry["body"] = body
    if raw and not parsed:
        entry["bodyText"] = raw.decode("utf-8", "backslashreplace")
    entry["status"] = values["status"]
    answer = _bytes(values["response_body"])
    if answer is not None:
        parsed, body = parse_body(answer)
        entry["responseBody"] = body if parsed else answer.decode("utf-8", "backslashreplace")
    entry.update(
        operationId=values["operation_id"],
        appId=values["app_id"],
        **_faults(values["fault"]),
        requestId=values["request_id"],
        rateLimited=json.loads(values["rate_limit"]) if values["rate_limit"] else None,
        worker=values["worker"],
    )
    if values["violations"] is not None:  # an exchange a proxy judged
        entry["violations"] = json.loads(values["violations"])
    return entry


def _faults(column: str | None) -> dict[str, Any]:
    """`fault` (the first fault that applied) and `faults` (all of them, in stage order).
    Rows journaled before faults composed hold one fault, as an object."""
    faults = json.loads(column) if column else []
    faults = faults if isinstance(faults, list) else [faults]
    return {"fault": faults[0] if faults else None, "faults": faults}


def _bytes(value: Any) -> bytes | None:
    """A BLOB/BYTEA column as bytes (drivers return bytes or memoryview)."""
    return None if value is None else bytes(value)


# -- near misses -------------------------------------------------------------------------------------


def nearest_operation(vocabulary: Vocabulary, method: str, path: str) -> dict[str, Any]:
    """The documented operation a request that matched none most likely meant:
    the most similar path (parameters filled from the request), then the same
    method, then the operation that is not deprecated; and why it did not match."""
    method = method.upper()

    def score(op: Operation) -> tuple[float, bool, bool]:
        return _path_similarity(path, op.path), op.method == method, not op.deprecated

    best = max(vocabulary.operations.values(), key=score)
    on_path = vocabulary.operations_at(path)
    if on_path and best.path == next(iter(on_path.values())).path:
        why = f"{method} is not documented on this path (documented: {', '.join(sorted(on_path))})"
    else:
        why = f"no documented path matches; the nearest is {best.method} {best.path}"
    return {"operationId": best.operation_id, "method": best.method, "path": best.path, "why": why}


def _path_similarity(path: str, template: str) -> float:
    segments, wanted = path.split("/"), template.split("/")
    filled = [
        segments[index] if _TEMPLATE_PARAMETER.match(part) and index < len(segments) and segments[index] else part
        for index, part in enumerate(wanted)
    ]
    return difflib.SequenceMatcher(None, path, "/".join(filled), autojunk=False).ratio()
