"""The contract's vocabulary: what the mock and the runner need to know about
the vendor API, read from `openapi.yaml` at load time.

    vocabulary = Vocabulary.of(load_spec())
    vocabulary.create[0].method, vocabulary.create[0].path   # DELETE /api/public/bot/eraseUsersData
    vocabulary.auth_header                                   # auth
    vocabulary.request_id.matches("eud-...")                 # the documented id format
    vocabulary.user_status.final                             # (SUCCESS, FAILURE)

Nothing the contract says is repeated here. The roles of the operations come
from the contract's `links` (an operation whose answer links its id to
another operation creates; the operations at the linked path read a status);
the auth header from the security scheme; the id formats, status values,
error body and limits from the schemas and their `x-` annotations. The one
thing a document cannot say for itself, which JSON field holds which datum,
is the `FIELDS` table below, and it is checked against the contract at load:
a contract that renamed a field fails here, by name, not in a handler.

Raises `SpecError` when the contract lacks something the toolkit relies on.
"""

from __future__ import annotations

import itertools
import random
import re
import string
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from typing import Any

from contracts.core.errors import SpecError
from contracts.core.platform import ErrorAnswer, ErrorAnswers, RateLimit, Refusal
from contracts.core.spec import Spec


class Role(StrEnum):
    """What an operation does in the erase API (from the contract's links)."""

    CREATE = "create"
    STATUS = "status"


CREATE, STATUS = Role.CREATE, Role.STATUS


@dataclass(frozen=True)
class Parameter:
    """One parameter of an operation: its name, where it goes and its schema."""

    name: str
    location: str  # path | query | header | cookie
    required: bool
    schema: Mapping[str, Any] = field(repr=False)


@dataclass(frozen=True)
class Operation:
    """One operation of the contract, with its role in the erase API."""

    operation_id: str
    method: str
    path: str
    role: Role | None  # None for an operation the toolkit has no role for
    deprecated: bool
    parameters: tuple[Parameter, ...]
    body_schema: Mapping[str, Any] | None = field(repr=False)  # the JSON request body's schema (refs kept)
    statuses: tuple[int, ...] = ()  # the documented response status codes
    definition: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def has_body(self) -> bool:
        return self.body_schema is not None

    def url_path(self, **raw_segments: str) -> str:
        """The path with its parameters replaced by raw (already URL-encoded) segments."""
        path = self.path
        for name, value in raw_segments.items():
            path = path.replace("{" + name + "}", value)
        return path

    def documents(self, status: int) -> bool:
        return status in self.statuses


@dataclass(frozen=True)
class IdFormat:
    """An id format of the contract (`components/schemas/<name>`): its pattern,
    matched as ECMA-262 does for a whole string, and its length bounds."""

    name: str
    pattern: str
    min_length: int = 0
    max_length: int | None = None

    @cached_property
    def regex(self) -> re.Pattern[str]:
        return re.compile(self.pattern)

    def matches(self, value: object) -> bool:
        """True for a string the schema accepts. `fullmatch`, not `search`: Python's
        `$` also matches before a final newline, ECMA-262's does not."""
        if not isinstance(value, str) or len(value) < self.min_length:
            return False
        if self.max_length is not None and len(value) > self.max_length:
            return False
        return self.regex.fullmatch(value) is not None

    def generate(self, rng: random.Random | None = None) -> str:
        """A new random id in this format: the pattern's literal prefix and a
        UUID4 where the format is a prefixed UUID (as the vendor's request ids
        are), else random characters position by position (the pattern must
        then be literals and character classes with fixed counts)."""
        candidate = self.prefix + str(uuid.UUID(int=(rng or _SYSTEM_RANDOM).getrandbits(128), version=4))
        if self.matches(candidate):
            return candidate
        chooser = rng or _SYSTEM_RANDOM
        return "".join(chooser.choice(choices) for choices in self._positions)

    @cached_property
    def prefix(self) -> str:
        """The literal characters every id starts with (e.g. `eud-`; empty for a free-form id)."""
        try:
            positions = self._positions
        except SpecError:
            return ""
        return "".join(choices for choices in itertools.takewhile(lambda c: len(c) == 1, positions))

    @cached_property
    def _positions(self) -> tuple[str, ...]:
        return _positions(self.name, self.pattern)


@dataclass(frozen=True)
class UserStatuses:
    """The per-user erase status values (`x-lifecycle` of the status enum)."""

    values: tuple[str, ...]
    initial: str
    erased: str
    refused: str

    @property
    def final(self) -> tuple[str, ...]:
        return (self.erased, self.refused)


@dataclass(frozen=True)
class TokenRecipe:
    """How a token is made and sent (the `JwtAuth` scheme and its `x-jwt`)."""

    header: str
    algorithm: str
    app_id_claim: str
    scope: str
    client_id: IdFormat


@dataclass(frozen=True)
class Link:
    """The create answer's field that the status operations take as a path parameter."""

    response_pointer: tuple[str, ...]  # JSON pointer into the create answer, e.g. ("requestId",)
    parameter: str  # the status operations' path parameter, e.g. "reqId"

    def value_in(self, body: Any) -> Any:
        for part in self.response_pointer:
            if not isinstance(body, dict) or part not in body:
                return None
            body = body[part]
        return body


#: Which JSON field holds which datum: (schema, property) per name, verified
#: against the contract at load.
FIELDS: dict[str, tuple[str, str]] = {
    "user_ids": ("EraseRequest", "userIds"),
    "bot_ids": ("EraseRequest", "botIds"),
    "all_bots": ("EraseRequest", "RemoveDataFromAllBots"),
    "accepted_status": ("EraseRequestAccepted", "status"),
    "id": ("EraseRequestStatus", "_id"),
    "created_on": ("EraseRequestStatus", "createdOn"),
    "last_updated_on": ("EraseRequestStatus", "lastUpdatedOn"),
    "echo_all_bots": ("EraseRequestStatus", "RemoveDataFromAllBots"),
    "results": ("EraseRequestStatus", "response"),
    "user_id": ("UserEraseResult", "userId"),
    "user_status": ("UserEraseResult", "status"),
    "reason": ("UserEraseResult", "reason"),
    "errors": ("Error", "errors"),
}
#: The fields of each item of the error body's list.
ERROR_ITEM_FIELDS = ("msg", "code")
#: The key some answers use for the message instead of `msg` (`ErrorDetail`).
ERROR_MESSAGE_ALTERNATIVE = "message"


@dataclass(frozen=True)
class Fields:
    """The JSON field names of the erase API (see `FIELDS`)."""

    user_ids: str
    bot_ids: str
    all_bots: str
    request_id: str
    accepted_status: str
    id: str
    created_on: str
    last_updated_on: str
    echo_all_bots: str
    results: str
    user_id: str
    user_status: str
    reason: str
    errors: str


@dataclass(frozen=True)
class Vocabulary:
    """Everything the toolkit reads from the contract, named for code: the operations and
    their roles, the link from a create to its status, the token recipe, the id formats,
    the status values, the JSON field names, the error body and the limits."""

    spec: Spec = field(repr=False)
    operations: Mapping[str, Operation]
    link: Link
    token: TokenRecipe
    request_id: IdFormat
    user_id: IdFormat
    bot_id: IdFormat
    user_status: UserStatuses
    accepted_status: str
    fields: Fields
    error_schema: str  # the name of the error body's schema
    max_body_bytes: int
    production_hosts: tuple[str, ...]
    rate_limit: RateLimit
    answers: ErrorAnswers  # the platform's error answers (`x-error-answers`)

    @classmethod
    def of(cls, spec: Spec) -> Vocabulary:
        return _build(spec)

    @property
    def auth_header(self) -> str:
        return self.token.header

    @property
    def create(self) -> tuple[Operation, ...]:
        """The operations that create an erase request, the preferred one first."""
        return self._with_role(CREATE)

    @property
    def status(self) -> tuple[Operation, ...]:
        """The operations that read an erase request's status, the preferred one first."""
        return self._with_role(STATUS)

    def operation(self, operation_id: str) -> Operation:
        try:
            return self.operations[operation_id]
        except KeyError:
            known = ", ".join(self.operations)
            raise SpecError(f"{self.spec.path}: no operation {operation_id!r} (known: {known})") from None

    def operations_at(self, path: str) -> dict[str, Operation] | None:
        """The operations (by method) whose path template matches `path`, or None."""
        for regex, by_method in self._routes:
            if regex.fullmatch(path):
                return by_method
        return None

    def operation_for(self, method: str, path: str) -> Operation | None:
        found = self.operations_at(path)
        return found.get(method.upper()) if found else None

    def schema(self, name: str) -> dict[str, Any]:
        return self.spec.schema(name)

    def error_body(self, status: int, message: str, code: int | None = None) -> dict[str, Any]:
        """The contract's error body: one error whose code is `code`, by default the HTTP status."""
        message_field, code_field = ERROR_ITEM_FIELDS
        return {self.fields.errors: [{message_field: message, code_field: status if code is None else code}]}

    def answer(self, refusal: Refusal) -> ErrorAnswer:
        """The platform's answer to `refusal` (`x-error-answers`)."""
        return self.answers[refusal]

    def error_message(self, body: Any) -> str | None:
        """The first error's message of an error body (`msg`, else `message`), if it is one."""
        try:
            first = body[self.fields.errors][0]
            key = ERROR_ITEM_FIELDS[0] if ERROR_ITEM_FIELDS[0] in first else ERROR_MESSAGE_ALTERNATIVE
            return str(first[key])
        except (KeyError, IndexError, TypeError):
            return None

    def _with_role(self, role: Role) -> tuple[Operation, ...]:
        chosen = [op for op in self.operations.values() if op.role == role]
        return tuple(sorted(chosen, key=lambda op: op.deprecated))

    @cached_property
    def _routes(self) -> list[tuple[re.Pattern[str], dict[str, Operation]]]:
        by_path: dict[str, dict[str, Operation]] = {}
        for op in self.operations.values():
            by_path.setdefault(op.path, {})[op.method] = op
        return [
            (re.compile(re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(path))), by_method)
            for path, by_method in by_path.items()
        ]


# -- building the vocabulary ----------------------------------------------------------------------


def _build(spec: Spec) -> Vocabulary:
    where = str(spec.path)
    raw_ops = list(spec.operations())
    link, creators, target = _link(spec, raw_ops)
    status_path = target.path
    operations: dict[str, Operation] = {}
    for op in raw_ops:
        role = CREATE if op.operation_id in creators else STATUS if op.path == status_path else None
        item = spec.document["paths"][op.path]
        parameters = tuple(
            Parameter(p["name"], p["in"], bool(p.get("required", False)), spec.resolve(p.get("schema", {})))
            for p in (spec.resolve(raw) for raw in [*item.get("parameters", []), *op.definition.get("parameters", [])])
        )
        body = spec.resolve(op.definition.get("requestBody")) if "requestBody" in op.definition else None
        body_schema = (body or {}).get("content", {}).get("application/json", {}).get("schema")
        statuses = tuple(int(code) for code in op.definition.get("responses", {}) if str(code).isdigit())
        operations[op.operation_id] = Operation(
            op.operation_id, op.method, op.path, role, op.deprecated, parameters, body_schema, statuses, op.definition
        )
    if link.parameter not in {p.name for p in operations[target.operation_id].parameters if p.location == "path"}:
        raise SpecError(f"{where}: the link's parameter {link.parameter!r} is not a path parameter of"
                        f" {target.operation_id}")
    security = _security_scheme(spec)
    jwt = security.get("x-jwt") or {}
    missing = [key for key in ("algorithm", "appIdClaim", "requiredScope", "clientIdPattern") if key not in jwt]
    if missing:
        raise SpecError(f"{where}: the auth scheme's x-jwt lacks {', '.join(missing)}")
    token = TokenRecipe(security["name"], jwt["algorithm"], jwt["appIdClaim"], jwt["requiredScope"],
                        IdFormat("clientId", jwt["clientIdPattern"]))
    status_schema = spec.schema("UserEraseStatus")
    lifecycle = status_schema.get("x-lifecycle") or {}
    values = tuple(status_schema.get("enum", ()))
    if set(lifecycle.values()) - set(values) or set(lifecycle) != {"initial", "erased", "refused"}:
        raise SpecError(f"{where}: UserEraseStatus needs x-lifecycle naming initial, erased and refused"
                        f" among its enum values {list(values)}")
    accepted = spec.schema("EraseRequestAccepted")["properties"][FIELDS["accepted_status"][1]].get("enum", [])
    if len(accepted) != 1:
        raise SpecError(f"{where}: EraseRequestAccepted.status must document exactly one value")
    first_create = next(op for op in operations.values() if op.role == CREATE)
    body_node = spec.resolve(first_create.definition["requestBody"])
    return Vocabulary(
        spec=spec,
        operations=operations,
        link=link,
        token=token,
        request_id=_id_format(spec, "RequestId"),
        user_id=_id_format(spec, "UserId"),
        bot_id=_id_format(spec, "BotId"),
        user_status=UserStatuses(values, lifecycle["initial"], lifecycle["erased"], lifecycle["refused"]),
        accepted_status=accepted[0],
        fields=_fields(spec, link),
        error_schema=_error_schema(spec, operations.values()),
        max_body_bytes=int(body_node.get("x-max-body-bytes", 0)) or _missing(where, "x-max-body-bytes"),
        production_hosts=tuple(
            host.lower() for server in spec.document.get("servers", []) for host in server.get("x-production-hosts", [])
        ),
        rate_limit=RateLimit.of(spec),
        answers=ErrorAnswers.of(spec, operations.values()),
    )


def _missing(where: str, what: str) -> int:
    raise SpecError(f"{where}: the create request body lacks {what}")


def _link(spec: Spec, raw_ops: list[Any]) -> tuple[Link, set[str], Any]:
    """The link from a create answer to the status operation, the creating
    operations, and the link's target operation."""
    by_id = {op.operation_id: op for op in raw_ops}
    creators: set[str] = set()
    found: tuple[Link, Any] | None = None
    for op in raw_ops:
        for code, response in op.definition.get("responses", {}).items():
            if not str(code).startswith("2"):
                continue
            for link in (spec.resolve(response).get("links") or {}).values():
                target = by_id.get(link.get("operationId", ""))
                if target is None:
                    continue
                for parameter, expression in (link.get("parameters") or {}).items():
                    prefix = "$response.body#/"
                    if isinstance(expression, str) and expression.startswith(prefix):
                        pointer = tuple(part.replace("~1", "/").replace("~0", "~")
                                        for part in expression[len(prefix):].split("/"))
                        creators.add(op.operation_id)
                        found = found or (Link(pointer, parameter), target)
    if found is None:
        raise SpecError(f"{spec.path}: no success response links its id to another operation"
                        " ($response.body#/... in links); the toolkit needs the create -> status link")
    return found[0], creators, found[1]


def _security_scheme(spec: Spec) -> dict[str, Any]:
    schemes = spec.document.get("components", {}).get("securitySchemes", {})
    for requirement in spec.document.get("security", []):
        for name in requirement:
            scheme = schemes.get(name, {})
            if scheme.get("type") == "apiKey" and scheme.get("in") == "header":
                return dict(scheme)
    raise SpecError(f"{spec.path}: no global apiKey-in-header security scheme (the vendor's `auth` header)")


def _id_format(spec: Spec, name: str) -> IdFormat:
    schema = spec.schema(name)
    if "pattern" not in schema:
        raise SpecError(f"{spec.path}: schema {name} has no pattern")
    return IdFormat(name, schema["pattern"], int(schema.get("minLength", 0)), schema.get("maxLength"))


def _fields(spec: Spec, link: Link) -> Fields:
    names = {}
    for key, (schema_name, prop) in FIELDS.items():
        if prop not in spec.schema(schema_name).get("properties", {}):
            raise SpecError(f"{spec.path}: schema {schema_name} has no property {prop!r}, which the toolkit reads")
        names[key] = prop
    items = spec.schema("Error")["properties"][names["errors"]].get("items", {})
    missing = [name for name in ERROR_ITEM_FIELDS if name not in spec.resolve(items).get("properties", {})]
    if missing:
        raise SpecError(f"{spec.path}: the error body's items lack {', '.join(missing)}, which the toolkit reads")
    if len(link.response_pointer) != 1:
        raise SpecError(f"{spec.path}: the create -> status link must name a top-level field of the answer")
    return Fields(request_id=link.response_pointer[0], **names)


def _error_schema(spec: Spec, operations: Any) -> str:
    """The one schema every documented error answer uses."""
    components = spec.document.get("components", {}).get("schemas", {})
    names = set()
    for op in operations:
        for code, response in op.definition.get("responses", {}).items():
            if str(code)[:1] in ("4", "5"):
                schema = spec.resolve(response).get("content", {}).get("application/json", {}).get("schema", {})
                name = schema.get("$ref", "").rpartition("/")[2]
                # A bundled copy may have the reference inlined: find the component it equals.
                name = name or next((n for n, s in components.items() if s == schema), "(inline)")
                names.add(name)
    if len(names) != 1 or "(inline)" in names:
        raise SpecError(f"{spec.path}: every error answer must use one error schema by $ref, found {sorted(names)}")
    return names.pop()


_SYSTEM_RANDOM = random.SystemRandom()
_CLASS = re.compile(r"\[((?:\\.|[^\]\\])+)\]")
_COUNT = re.compile(r"\{(\d+)\}")


def _positions(name: str, pattern: str) -> tuple[str, ...]:
    """The characters allowed at each position of a fixed-length id pattern
    (anchored literals and `[...]` classes with `{n}` counts)."""
    body = pattern.removeprefix("^").removesuffix("$")
    positions: list[str] = []
    index = 0
    while index < len(body):
        match = _CLASS.match(body, index)
        if match:
            choices, index = _expand_class(name, match.group(1)), match.end()
        elif body[index] == "\\" and index + 1 < len(body) and body[index + 1] in ".-\\/":
            choices, index = body[index + 1], index + 2
        elif body[index] in string.ascii_letters + string.digits + "-_:.":
            choices, index = body[index], index + 1
        else:
            raise SpecError(f"schema {name}: cannot generate ids for pattern {pattern!r} (at {body[index:]!r})")
        count = _COUNT.match(body, index)
        repeat = 1
        if count:
            repeat, index = int(count.group(1)), count.end()
        positions.extend([choices] * repeat)
    return tuple(positions)


def _expand_class(name: str, spec: str) -> str:
    chars: list[str] = []
    for start, end in re.findall(r"(\w)(?:-(\w))?", spec):
        chars.extend(chr(c) for c in range(ord(start), ord(end or start) + 1))
    if not chars or spec.startswith("^"):
        raise SpecError(f"schema {name}: cannot generate ids for the class [{spec}]")
    return "".join(chars)
