"""Safe against real environments: which create calls may erase, what their
bodies may name, how many may reach the wire, and the audit log.

The guarantee (also in the README):
- a call to a create operation *may erase* when its JSON body satisfies the
  contract's create schema, whatever its headers or method: a deployment that
  ignores a broken token, a wrong media type or a wrong method would erase;
- against a remote target, every string of a create body is an allow-listed
  user id (`--erase-user-id`), except bot ids where the schema expects them,
  whether or not the contract accepts the body: a lenient deployment that
  skips or coerces bad items can only ever erase allow-listed users;
- a check that is not about the body (a header, the method, the media type)
  is sent with the user ids taken out of the body whenever the erase budget
  is limited, so it proves what it proves without erasing;
- every erasing request that reaches the wire, retries included, takes a unit
  of the budget (`--max-erase-requests`; 5 against a remote target); when
  none is left, it is not sent;
- every create answered with a request id is appended to the audit log.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openapi_schema_validator import OAS30Validator

from contracts.bounded_memo import Memo
from contracts.core.vocabulary import Vocabulary
from contracts.safety.files import append_audit

#: (contract, body) -> may erase. A run asks about the same bodies again and again, and
#: the runs of one process (a test suite, the plugin) about the same generated ones. Bounded by
#: the bytes of the bodies kept.
_ERASING: Memo[tuple[str, bytes | None], bool] = Memo(16 * 2**20, cost=lambda key: len(key[1] or b""))


@dataclass
class BodyPolicy:
    """What create bodies may be sent, and how they are made safe."""

    vocabulary: Vocabulary
    remote: bool
    allow_list: tuple[str, ...]

    def __post_init__(self) -> None:
        create = self.vocabulary.create[0]
        document = self.vocabulary.spec.document
        schema = dict(self.vocabulary.spec.resolve(create.body_schema or {}), components=document["components"])
        self._schema = schema
        self._validator = OAS30Validator(schema)
        self._bot_schema = self.vocabulary.spec.schema(self.vocabulary.bot_id.name)

    def may_erase(self, body: bytes | None) -> bool:
        """True when this body satisfies the create schema (a conforming deployment erases)."""
        key = (self.vocabulary.spec.digest, body)  # the create schema is the contract's
        known = _ERASING.get(key)
        if known is None:
            value = _json(body)
            known = value is not _NOT_JSON and self._validator.is_valid(value)
            _ERASING.put(key, known)
        return known

    def safe(self, body: bytes | None, content_type: str | None) -> bytes | None:
        """The body to send to this target: on a remote target every string is an
        allow-listed id (bot ids where the schema expects them excepted); a body
        that is not JSON becomes `{}`, which names no one."""
        if body is None or not self.remote:
            return body
        value = _json(body)
        if value is _NOT_JSON:
            return b"{}"
        rewritten = self._rewrite(value, self._schema, user_ids=False)
        return body if rewritten == value else _dumps(rewritten)

    def without_users(self, body: bytes | None) -> bytes | None:
        """The same body with the user ids taken out: the contract rejects it and
        it names no one, for checks that are not about the body."""
        value = _json(body)
        if isinstance(value, dict):
            return _dumps({k: v for k, v in value.items() if k != self.vocabulary.fields.user_ids})
        return b"{}" if body is not None else None

    def with_users(self, body: bytes | None, users: list[str]) -> bytes:
        value = _json(body)
        value = dict(value) if isinstance(value, dict) else {}
        value[self.vocabulary.fields.user_ids] = users
        return _dumps(value)

    def _rewrite(self, value: Any, schema: Mapping[str, Any] | None, *, user_ids: bool) -> Any:
        schema = self.vocabulary.spec.resolve(schema) if schema else None
        if isinstance(value, dict):
            properties = (schema or {}).get("properties", {})
            return {
                key: self._rewrite(item, properties.get(key), user_ids=key == self.vocabulary.fields.user_ids)
                for key, item in value.items()
            }
        if isinstance(value, list):
            items = (schema or {}).get("items")
            if user_ids:
                return self._user_list(value)
            return [self._rewrite(item, items, user_ids=False) for item in value]
        if isinstance(value, str):
            if schema is self._bot_schema and self.vocabulary.bot_id.matches(value):
                return value  # a bot id where the contract expects one: it names no user
            return self.allow_list[0] if self.allow_list else ""
        return value

    def _user_list(self, items: list[Any]) -> list[Any]:
        """User ids as allow-listed ones, each at most once; strings past the end
        of the allow-list are dropped, other items kept (they make the body invalid)."""
        allowed = iter(self.allow_list)
        rewritten = []
        for item in items:
            if isinstance(item, str):
                chosen = next(allowed, None)
                if chosen is not None:
                    rewritten.append(chosen)
            else:
                rewritten.append(self._rewrite(item, None, user_ids=False))
        return rewritten


@dataclass
class Budget:
    """Erasing requests allowed on the wire (None: unlimited); thread-safe."""

    cap: int | None
    sent: int = 0
    refused: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def take(self) -> bool:
        with self._lock:
            if self.cap is not None and self.sent >= self.cap:
                self.refused += 1
                return False
            self.sent += 1
            return True


@dataclass
class AuditLog:
    """Every create answered with a request id: what was sent, to whom, when."""

    path: Path | None
    target: str
    created: list[dict[str, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, request_id: str, operation_id: str, body: bytes | None, erasing: bool) -> None:
        value = _json(body)
        entry = {
            "requestId": request_id,
            "operation": operation_id,
            "body": value if value is not _NOT_JSON else None,
            "mayErase": erasing,
            "target": self.target,
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        with self._lock:
            self.created.append(entry)
            if self.path is not None:
                append_audit(self.path, json.dumps(entry) + "\n")


class _NotJson:
    pass


_NOT_JSON: Any = _NotJson()


def _json(body: bytes | None) -> Any:
    if body is None:
        return _NOT_JSON
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return _NOT_JSON


def _dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode()
