"""What the contract says of the platform around the two operations: its rate
limit (`x-rate-limit`) and its error answers (`x-error-answers`,
`x-method-not-allowed`), read once so that the mock's defaults and the
runner's expectations come from one place.

    limit = RateLimit.of(spec)            # per account: 60 a minute, 1800 an hour
    answers = ErrorAnswers.of(spec)
    answers[Refusal.SCOPE].status         # 401
    answers[Refusal.SCOPE].body(fields)   # {"errors": [{"msg": "Permission denied...", "code": 4002}]}

Raises `SpecError` when an extension is missing or malformed, or names a
status an operation does not document.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from contracts.core.errors import SpecError
from contracts.core.spec import Spec

RATE_LIMIT_KEY, ERROR_ANSWERS_KEY, METHOD_NOT_ALLOWED_KEY = "x-rate-limit", "x-error-answers", "x-method-not-allowed"


class Refusal(enum.StrEnum):
    """The platform's error answers the contract lists (`x-error-answers`), by what they refuse."""

    CREDENTIALS = "invalidCredentials"  # no token, or one the platform does not accept
    TOKEN = "invalidToken"  # a header value that is not a JWT at all
    SCOPE = "scope"  # an app without the scope, or a bot-level app
    VALIDATION = "validation"  # a missing body, or one that fails the schema
    METHOD = "methodNotAllowed"  # a method the path does not have
    RATE_LIMITED = "rateLimited"  # over the rate limit


@dataclass(frozen=True)
class ErrorAnswer:
    """One error answer of the platform: the HTTP status, the body's code and message."""

    status: int
    code: int
    message: str

    def body(self, errors_field: str, message_field: str, code_field: str) -> dict[str, Any]:
        return {errors_field: [{message_field: self.message, code_field: self.code}]}


class ErrorAnswers(Mapping[Refusal, ErrorAnswer]):
    """Every `Refusal` with its answer, checked against the operations that may give it."""

    def __init__(self, answers: Mapping[Refusal, ErrorAnswer]):
        self._answers = dict(answers)

    def __getitem__(self, refusal: Refusal) -> ErrorAnswer:
        return self._answers[refusal]

    def __iter__(self) -> Iterator[Refusal]:
        return iter(self._answers)

    def __len__(self) -> int:
        return len(self._answers)

    @classmethod
    def of(cls, spec: Spec, operations: Iterable[Any]) -> ErrorAnswers:
        """Read `x-error-answers`; `operations` (with `statuses` and `has_body`) must
        document each status where it can happen."""
        raw = spec.document.get(ERROR_ANSWERS_KEY)
        if not isinstance(raw, dict):
            raise SpecError(f"{spec.path}: no top-level {ERROR_ANSWERS_KEY} (the platform's error answers)")
        answers: dict[Refusal, ErrorAnswer] = {}
        for refusal in Refusal:
            item = raw.get(refusal.value)
            if not isinstance(item, dict) or not all(isinstance(item.get(k), int) for k in ("status", "code")) \
                    or not isinstance(item.get("msg"), str):
                raise SpecError(f"{spec.path}: {ERROR_ANSWERS_KEY}.{refusal.value} needs an integer status and"
                                " code and a string msg")
            answers[refusal] = ErrorAnswer(item["status"], item["code"], item["msg"])
        for operation in operations:
            for refusal, answer in answers.items():
                applies = refusal is not Refusal.METHOD and (refusal is not Refusal.VALIDATION or operation.has_body)
                if applies and answer.status not in operation.statuses:
                    raise SpecError(f"{spec.path}: {operation.operation_id} does not document {answer.status},"
                                    f" the status of {ERROR_ANSWERS_KEY}.{refusal.value}")
        if not isinstance(spec.document.get(METHOD_NOT_ALLOWED_KEY), dict):
            raise SpecError(f"{spec.path}: no top-level {METHOD_NOT_ALLOWED_KEY} (the answer to an undocumented"
                            " method)")
        return cls(answers)


@dataclass(frozen=True)
class RateLimit:
    """Calls allowed per rolling minute and per rolling hour, shared by the apps of
    one account (`scope`) across every operation."""

    scope: str
    per_minute: int
    per_hour: int

    @classmethod
    def of(cls, spec: Spec) -> RateLimit:
        raw = spec.document.get(RATE_LIMIT_KEY)
        if not isinstance(raw, dict):
            raise SpecError(f"{spec.path}: no top-level {RATE_LIMIT_KEY} (the vendor's rate limit)")
        counts: dict[str, int] = {}
        for name in ("perMinute", "perHour"):
            value = raw.get(name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise SpecError(f"{spec.path}: {RATE_LIMIT_KEY}.{name} must be a positive integer, not {value!r}")
            counts[name] = value
        if raw.get("scope") != "account":
            raise SpecError(f"{spec.path}: {RATE_LIMIT_KEY}.scope must be 'account' (the only scope this toolkit"
                            f" models), not {raw.get('scope')!r}")
        return cls("account", counts["perMinute"], counts["perHour"])
