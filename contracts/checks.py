"""The runner's own checks, beyond schemathesis's: findings and the
lifecycle properties every observed erase request must keep.

`Findings` collects violations (grouped by check, first example kept, with
its reproduction); `LifecycleTracker` is fed every create and status answer
the run sees, from every suite, and checks:
- every `requestId` matches the documented pattern and is unique;
- `_id` equals the id it was read with;
- the per-user results cover exactly the requested users;
- `RemoveDataFromAllBots` echoes the request;
- `lastUpdatedOn` never precedes `createdOn` and never goes back;
- a user's status only moves forward (in progress to a final status) and a
  final status never changes.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from openapi_schema_validator import OAS30Validator, oas30_format_checker

from contracts.core.spec import Spec
from contracts.transport import Exchange

IN_PROGRESS = "IN_PROGRESS"


@dataclass
class Finding:
    check: str
    operation: str
    message: str
    expected: str
    actual: str
    curl: str | None = None
    count: int = 1


@dataclass
class Findings:
    items: dict[tuple[str, str, str], Finding] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, check: str, operation: str, message: str, *, expected: str, actual: str,
            exchange: Exchange | None = None) -> None:
        """Record a violation; repeats of the same check, operation and message are counted."""
        key = (check, operation, message)
        with self._lock:
            if key in self.items:
                self.items[key].count += 1
            else:
                self.items[key] = Finding(check, operation, message, expected, actual,
                                          exchange.curl() if exchange else None)

    def __len__(self) -> int:
        return len(self.items)

    def by_check(self) -> dict[str, list[Finding]]:
        grouped: dict[str, list[Finding]] = {}
        for finding in self.items.values():
            grouped.setdefault(finding.check, []).append(finding)
        return dict(sorted(grouped.items()))


class SchemaChecker:
    """Validates payloads against the contract's component schemas."""

    def __init__(self, spec: Spec):
        self.spec = spec
        self._validators: dict[str, OAS30Validator] = {}

    def errors(self, schema_name: str, payload: Any) -> list[str]:
        validator = self._validators.get(schema_name)
        if validator is None:
            root = dict(self.spec.schema(schema_name), components=self.spec.document["components"])
            validator = OAS30Validator(root, format_checker=oas30_format_checker)
            self._validators[schema_name] = validator
        return [error.message for error in validator.iter_errors(payload)]


def error_body_problem(checker: SchemaChecker, exchange: Exchange) -> str | None:
    """Why an error answer does not carry the documented error body, if it does not."""
    content_type = exchange.response_headers.get("content-type", "")
    if not content_type.startswith("application/json"):
        return f"content type {content_type or '(none)'!r}, not application/json"
    try:
        body = exchange.json()
    except ValueError:
        return "body is not JSON"
    problems = checker.errors("Error", body)
    return "; ".join(problems) if problems else None


@dataclass
class _Observed:
    user_ids: list[str] | None
    remove_all: bool | None
    created_on: str | None = None
    last_updated: datetime | None = None
    statuses: dict[str, str] = field(default_factory=dict)


class LifecycleTracker:
    def __init__(self, spec: Spec, findings: Findings):
        self.pattern = re.compile(spec.schema("RequestId")["pattern"])
        self.final = [s for s in spec.schema("UserEraseStatus")["enum"] if s != IN_PROGRESS]
        self.findings = findings
        self.requests: dict[str, _Observed] = {}
        self._lock = threading.Lock()

    def created(self, operation: str, body: dict[str, Any], exchange: Exchange) -> str | None:
        """Check a 200 create answer; returns the request id when there is one."""
        try:
            request_id = exchange.json().get("requestId")
        except (ValueError, AttributeError):
            return None
        if not isinstance(request_id, str):
            return None
        if not self.pattern.fullmatch(request_id):
            self.findings.add("request_id_format", operation, "requestId does not match the documented pattern",
                              expected=f"a string matching {self.pattern.pattern}", actual=repr(request_id),
                              exchange=exchange)
        with self._lock:
            if request_id in self.requests:
                self.findings.add("request_id_unique", operation, "the same requestId was returned twice",
                                  expected="a new id for every create", actual=request_id, exchange=exchange)
            users = body.get("userIds")
            self.requests[request_id] = _Observed(
                list(users) if isinstance(users, list) else None,
                body.get("RemoveDataFromAllBots", False) is True,
            )
        return request_id

    def observed(self, operation: str, request_id: str, exchange: Exchange) -> None:
        """Check a 200 status answer against what was asked and seen before."""
        try:
            body = exchange.json()
            created = _parse(body["createdOn"])
            updated = _parse(body["lastUpdatedOn"])
            results = {r["userId"]: r["status"] for r in body["response"]}
        except (ValueError, KeyError, TypeError, AttributeError):
            return  # shape problems are response_schema_conformance's to report
        add = lambda check, message, expected, actual: self.findings.add(  # noqa: E731
            check, operation, message, expected=expected, actual=actual, exchange=exchange)
        if body.get("_id") != request_id:
            add("lifecycle_id", "_id differs from the requestId it was read with", request_id, repr(body.get("_id")))
        if updated < created:
            add("lifecycle_timestamps", "lastUpdatedOn precedes createdOn",
                "lastUpdatedOn >= createdOn", f"{body['lastUpdatedOn']} < {body['createdOn']}")
        with self._lock:
            seen = self.requests.setdefault(request_id, _Observed(None, None))
            if seen.user_ids is not None and list(results) != seen.user_ids:
                add("lifecycle_users", "per-user results do not cover exactly the requested users",
                    repr(seen.user_ids), repr(list(results)))
            if seen.remove_all is not None and body.get("RemoveDataFromAllBots") is not seen.remove_all:
                add("lifecycle_echo", "RemoveDataFromAllBots does not echo the request",
                    repr(seen.remove_all), repr(body.get("RemoveDataFromAllBots")))
            if seen.created_on is not None and seen.created_on != body["createdOn"]:
                add("lifecycle_timestamps", "createdOn changed", seen.created_on, body["createdOn"])
            if seen.last_updated is not None and updated < seen.last_updated:
                add("lifecycle_timestamps", "lastUpdatedOn went back",
                    f">= {seen.last_updated.isoformat()}", body["lastUpdatedOn"])
            for user, status in results.items():
                before = seen.statuses.get(user)
                if before in self.final and status != before:
                    add("lifecycle_status", "a final user status changed",
                        f"{user}: {before} forever", f"{user}: {status}")
            seen.created_on, seen.last_updated = body["createdOn"], max(updated, seen.last_updated or updated)
            seen.statuses.update(results)

    def unfinished(self) -> list[str]:
        with self._lock:
            return [
                rid for rid, seen in self.requests.items()
                if seen.user_ids is not None
                and (not seen.statuses or any(s == IN_PROGRESS for s in seen.statuses.values()))
            ]


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
