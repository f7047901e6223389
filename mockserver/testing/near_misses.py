"""Verifying calls through the journal: the filters `ControlClient.journal()`
takes, and the messages of `assert_called` / `assert_not_called`, which show
the entries nearest to what was expected and say how each differs (the
same operation with another body or status, the same path with another
method, ...), the way WireMock's near misses do.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from contracts.core.vocabulary import Operation, Vocabulary
from mockserver.state.journal_query import difference

#: The filters of `ControlClient.journal()`, `count()`, `unmatched()` and the
#: assertions: keyword -> query parameter of `GET /__mockserver/journal`.
FILTERS = {
    "operation_id": "operationId",
    "method": "method",
    "path": "path",
    "status": "status",
    "app_id": "appId",
    "from_": "from",
    "to": "to",
    "json": "json",
}
#: Entries a failure message shows.
SHOWN = 5


def filter_query(filters: Mapping[str, Any]) -> dict[str, Any]:
    """The query parameters of `filters` (None values left out). Raises `TypeError`
    for a keyword that is not a filter."""
    unknown = sorted(set(filters) - set(FILTERS))
    if unknown:
        raise TypeError(f"unknown journal filter(s) {', '.join(unknown)}; the filters are {', '.join(FILTERS)}")
    query: dict[str, Any] = {}
    for name, value in filters.items():
        if value is None:
            continue
        if name == "json":
            value = json.dumps(value)
        elif isinstance(value, datetime):
            value = value.isoformat()
        query[FILTERS[name]] = value
    return query


def operation(vocabulary: Vocabulary, operation_id: str) -> Operation:
    """The contract's operation `operation_id`. Raises `ValueError` naming the known
    ones (an assertion about an operation that does not exist would prove nothing)."""
    if operation_id in vocabulary.operations:
        return vocabulary.operations[operation_id]
    close = difflib.get_close_matches(operation_id, vocabulary.operations, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise ValueError(f"{operation_id!r} is no operation of the contract; {hint}"
                     f"the operations are {', '.join(vocabulary.operations)}")


def near_misses(vocabulary: Vocabulary, wanted: Operation, entries: Sequence[Mapping[str, Any]],
                unmatched: Sequence[Mapping[str, Any]]) -> list[tuple[str, list[Mapping[str, Any]]]]:
    """The entries nearest to a call of `wanted` that was not found, in groups:
    the same operation (another body, status, app...), the same path with another
    method, requests that matched nothing and most likely meant it; else the last."""
    meant = {e["id"] for e in unmatched if e["nearest"]["operationId"] == wanted.operation_id}
    nearest = {e["id"]: e["nearest"] for e in unmatched}
    same, other_method, typos = [], [], []
    for entry in entries:
        entry = dict(entry, nearest=nearest[entry["id"]]) if entry["id"] in nearest else entry
        on_path = vocabulary.operations_at(entry["path"]) or {}
        if entry["operationId"] == wanted.operation_id:
            same.append(entry)
        elif wanted in on_path.values():
            other_method.append(entry)
        elif entry["id"] in meant:
            typos.append(entry)
    groups: list[tuple[str, list[Mapping[str, Any]]]] = [
        (f"{wanted.operation_id}, otherwise", same),
        (f"The same path ({wanted.path}), another method", other_method),
        (f"Requests that matched no operation and most likely meant {wanted.operation_id}", typos),
    ]
    if not same and not other_method and not typos:
        groups.append(("The last requests", list(entries[-SHOWN:])))
    return groups


def describe(filters: Mapping[str, Any]) -> str:
    """What `filters` ask for, as a phrase: `createX with a body containing {...}, status 200`."""
    details = []
    for name, value in filters.items():
        if value is None or name == "operation_id":
            continue
        if name == "json":
            details.append(f"with a body containing {json.dumps(value)}")
        elif name == "path":
            details.append(f"path starting {value!r}")
        else:
            details.append(f"{name.rstrip('_').replace('_', ' ')} {value}")
    head = filters.get("operation_id") or "a request"
    return f"{head} {', '.join(details)}" if details else head


def line(entry: Mapping[str, Any], why: str = "") -> str:
    """One journal entry, as a failure message shows it."""
    query = f"?{entry['query']}" if entry.get("query") else ""
    answer = entry["status"] or "dropped"
    fault = f" (injected {entry['fault']['kind']} fault)" if entry.get("fault") else ""
    operation = entry.get("operationId") or "no operation"
    text = f"#{entry['id']} {entry['method']} {entry['path']}{query} -> {answer}{fault} [{operation}]"
    return f"{text}: {why}" if why else text


def mismatch(entry: Mapping[str, Any], filters: Mapping[str, Any]) -> str:
    """How `entry` differs from what `filters` ask for ('' if it does not)."""
    reasons = []
    for name, wanted in filters.items():
        if wanted is None:
            continue
        if name == "json":
            if entry.get("body") is None:
                reasons.append("no JSON body recorded" + (" (answered before it was read)" if entry["status"] else ""))
            else:
                found = difference(entry["body"], wanted)
                if found:
                    reasons.append(f"other body: {found}")
        elif name == "operation_id" and entry.get("operationId") != wanted:
            nearest = entry.get("nearest")
            reasons.append(nearest["why"] if nearest else f"another operation ({entry.get('operationId')})"
                           if entry.get("operationId") else "matched no operation")
        elif name == "status" and entry["status"] != wanted:
            reasons.append(f"status {entry['status']}, not {wanted}")
        elif name == "method" and entry["method"] != str(wanted).upper():
            reasons.append(f"method {entry['method']}, not {str(wanted).upper()}")
        elif name == "app_id" and entry.get("appId") != wanted:
            reasons.append(f"app {entry.get('appId')}, not {wanted}")
        elif name == "path" and not entry["path"].startswith(wanted):
            reasons.append(f"path does not start with {wanted!r}")
    if any(filters.get(name) is not None for name in ("from_", "to")):
        reasons.append(f"at {entry['time']}")
    return "; ".join(reasons)


def failure(headline: str, candidates: Sequence[tuple[str, Sequence[Mapping[str, Any]]]],
            filters: Mapping[str, Any]) -> str:
    """An assertion message: the headline, then each non-empty group of candidate
    entries (the newest `SHOWN`), each entry with how it differs from `filters`."""
    lines = [headline]
    for title, entries in candidates:
        if not entries:
            continue
        lines.append(f"{title}:")
        lines += [f"  {line(entry, mismatch(entry, filters))}" for entry in entries[-SHOWN:]]
        if len(entries) > SHOWN:
            lines.append(f"  ... and {len(entries) - SHOWN} earlier")
    if len(lines) == 1:
        lines.append("The journal holds no request at all (is the journal on, and was the mock reset since?).")
    return "\n".join(lines)
