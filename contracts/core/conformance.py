"""One HTTP exchange judged against the contract, on its own: what `mockserver
proxy` checks on live traffic and `contracts verify` on a recording.

    judge = Conformance(vocabulary)
    verdict = judge.exchange(Exchange("GET", path, "", headers, b"", 200, answer_headers, body))
    verdict.operation_id, [v.as_json() for v in verdict.violations]

The request is judged against its operation (the method and path the
contract documents, its path and query parameters, the security scheme's
header, the body's media type, size and schema) and the answer against the
responses the contract documents for it (the status, the media type, the
documented headers, the body's schema). Schemas are validated with
openapi-schema-validator (the OpenAPI 3.0 dialect the runner's checks use),
patterns read as ECMA-262 reads them (`contracts.core.ecma_patterns`, as the
mock does). Each `Violation` names where it is (a JSON path into the body,
or `status`, `header.<name>`, `path.<name>`, `query.<name>`) and the rule of
the contract it breaks, as a JSON pointer into the contract
(`#/components/schemas/UserEraseStatus/enum`).

The rules are a closed set (`Rule`): an enum value the contract does not
know, an id in another format and an error body of another shape are told
apart from other schema violations, since each means a different kind of
drift.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from typing import Any
from urllib.parse import parse_qsl, unquote

from jsonschema.exceptions import ValidationError
from openapi_schema_validator import OAS30Validator, oas30_format_checker

from contracts.core.ecma_patterns import with_ecma_patterns
from contracts.core.vocabulary import Operation, Vocabulary

EcmaOAS30Validator = with_ecma_patterns(OAS30Validator)
JSON_MEDIA_TYPE = "application/json"
#: The `format` of each line of a `mockserver proxy --record` file (what `contracts verify` reads).
RECORDING_FORMAT = "mockserver-proxy-recording/1"
SCHEMAS_POINTER = "#/components/schemas/"


class Side(StrEnum):
    """Which half of an exchange broke the contract."""

    REQUEST = "request"
    RESPONSE = "response"


class Rule(StrEnum):
    """The kinds of contract rule an exchange can break."""

    OPERATION = "undocumented-operation"  # no operation of the contract has this method and path
    PARAMETER = "parameter"  # a path or query parameter the contract does not define or accept
    SECURITY = "security"  # the security scheme's header is missing
    MEDIA_TYPE = "content-type"  # a body of a media type the contract does not document
    BODY_SIZE = "body-size"  # a request body over the documented limit
    JSON = "json"  # a body documented as JSON that is not JSON
    SCHEMA = "schema"  # a body that does not fit its schema (none of the kinds below)
    ENUM = "enum"  # a value the contract's enum does not know
    ID_FORMAT = "id-format"  # an id that is not in its documented format
    STATUS = "undocumented-status"  # a status code the operation does not document
    HEADER = "header"  # a documented response header missing or not fitting its schema
    ERROR_BODY = "error-body"  # an error answer without the contract's error body


@dataclass(frozen=True)
class Violation:
    """One way an exchange breaks the contract: which side, the kind of rule, where (a JSON
    path or a header, path or query parameter), what was found, and the rule broken as a
    JSON pointer into the contract."""

    side: Side
    rule: Rule
    where: str  # a JSON path into the body ($.response[0].status), status, header.<name>, path.<name>, query.<name>
    message: str
    contract: str  # a JSON pointer into the contract: the rule broken

    def as_json(self) -> dict[str, str]:
        return {"side": str(self.side), "rule": str(self.rule), "where": self.where, "message": self.message,
                "contract": self.contract}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Violation:
        return cls(Side(data["side"]), Rule(data["rule"]), data["where"], data["message"], data["contract"])

    def __str__(self) -> str:
        return f"{self.side} {self.where}: {self.message} [{self.rule}: {self.contract}]"


@dataclass(frozen=True)
class Exchange:
    """One request and its answer, as seen on the wire (header names in any case;
    `status` None when no answer came)."""

    method: str
    path: str  # as sent: percent-encoded
    query: str
    request_headers: tuple[tuple[str, str], ...]
    request_body: bytes
    status: int | None
    response_headers: tuple[tuple[str, str], ...] = ()
    response_body: bytes = b""

    def request_header(self, name: str) -> list[str]:
        return [value for key, value in self.request_headers if key.lower() == name.lower()]

    def response_header(self, name: str) -> list[str]:
        return [value for key, value in self.response_headers if key.lower() == name.lower()]


@dataclass(frozen=True)
class Verdict:
    """An exchange's operation (None when the contract has none for it) and its violations."""

    operation_id: str | None
    violations: tuple[Violation, ...] = field(default_factory=tuple)

    def on(self, side: Side) -> list[Violation]:
        return [v for v in self.violations if v.side == side]


class Conformance:
    """Judges exchanges against one contract; owns the compiled validators and the
    index from schema nodes to their place in the contract."""

    def __init__(self, vocabulary: Vocabulary):
        self.vocabulary = vocabulary
        self.document = vocabulary.spec.document
        self._validators: dict[str, Any] = {}
        self._id_schemas = {SCHEMAS_POINTER + fmt.name for fmt in
                            (vocabulary.request_id, vocabulary.user_id, vocabulary.bot_id)}

    # -- schemas ------------------------------------------------------------------------------------

    def validator(self, pointer: str) -> Any:
        """The validator of the schema at `pointer` (a local `$ref` into the contract)."""
        found = self._validators.get(pointer)
        if found is None:
            root = {"$ref": pointer, "components": self.document.get("components", {})}
            found = self._validators[pointer] = EcmaOAS30Validator(root, format_checker=oas30_format_checker)
        return found

    def _plain_validator(self, schema: Any) -> Any:
        """The validator of a schema without references (a parameter's, a header's), kept by identity:
        the contract's nodes live as long as the vocabulary."""
        key = f"id:{id(schema)}"
        found = self._validators.get(key)
        if found is None:
            found = self._validators[key] = EcmaOAS30Validator(dict(schema), format_checker=oas30_format_checker)
        return found

    def schema_errors(self, pointer: str, instance: Any) -> list[ValidationError]:
        return sorted(self.validator(pointer).iter_errors(instance), key=lambda e: list(e.absolute_path))

    @cached_property
    def _pointers(self) -> dict[int, str]:
        """Every mapping of the contract, by identity, to its JSON pointer."""
        index: dict[int, str] = {}
        stack: list[tuple[Any, str]] = [(self.document, "#")]
        while stack:
            node, pointer = stack.pop()
            if isinstance(node, dict):
                index.setdefault(id(node), pointer)
                stack += [(v, f"{pointer}/{_escape(str(k))}") for k, v in node.items()]
            elif isinstance(node, list):
                stack += [(v, f"{pointer}/{i}") for i, v in enumerate(node)]
        return index

    def _schema_violations(self, side: Side, pointer: str, instance: Any, *, error_answer: bool = False
                           ) -> Iterator[Violation]:
        for error in self.schema_errors(pointer, instance):
            place = self._pointers.get(id(error.schema), pointer)
            rule = Rule.SCHEMA
            if error_answer:
                rule = Rule.ERROR_BODY
            elif error.validator == "enum":
                rule = Rule.ENUM
            elif any(place == p or place.startswith(p + "/") for p in self._id_schemas):
                rule = Rule.ID_FORMAT
            yield Violation(side, rule, json_path(error.absolute_path), _first_line(error.message),
                            f"{place}/{error.validator}")

    # -- exchanges ------------------------------------------------------------------------------------

    def exchange(self, exchange: Exchange) -> Verdict:
        operation = self.vocabulary.operation_for(exchange.method, exchange.path)
        if operation is None:
            on_path = self.vocabulary.operations_at(exchange.path)
            message = (f"{exchange.method} is not documented on this path (documented: {', '.join(sorted(on_path))})"
                       if on_path else f"no operation of the contract has the path {exchange.path}")
            return Verdict(None, (Violation(Side.REQUEST, Rule.OPERATION, "path", message, "#/paths"),))
        violations = [*self.request(operation, exchange)]
        if exchange.status is not None:
            violations += self.response(operation, exchange)
        return Verdict(operation.operation_id, tuple(violations))

    def request(self, operation: Operation, exchange: Exchange) -> Iterator[Violation]:
        yield from self._path_parameters(operation, exchange.path)
        yield from self._query(operation, exchange.query)
        header = self.vocabulary.auth_header
        if not any(value.strip() for value in exchange.request_header(header)):
            yield Violation(Side.REQUEST, Rule.SECURITY, f"header.{header}", f"no '{header}' header (a JWT)",
                            "#/components/securitySchemes")
        if operation.has_body:
            yield from self._request_body(operation, exchange)

    def _path_parameters(self, operation: Operation, path: str) -> Iterator[Violation]:
        match = _template(operation.path).fullmatch(path)
        if match is None:
            return
        for parameter in operation.parameters:
            if parameter.location != "path" or parameter.name not in match.groupdict():
                continue
            value = unquote(match.group(parameter.name))
            pointer = self._pointers.get(id(parameter.schema), "#")
            for error in self._plain_validator(parameter.schema).iter_errors(value):
                id_rule = any(pointer == p or pointer.startswith(p + "/") for p in self._id_schemas)
                yield Violation(Side.REQUEST, Rule.ID_FORMAT if id_rule else Rule.PARAMETER,
                                f"path.{parameter.name}", _first_line(error.message), f"{pointer}/{error.validator}")

    def _query(self, operation: Operation, query: str) -> Iterator[Violation]:
        known = {p.name: p for p in operation.parameters if p.location == "query"}
        for name, value in parse_qsl(query, keep_blank_values=True):
            parameter = known.get(name)
            if parameter is None:
                yield Violation(Side.REQUEST, Rule.PARAMETER, f"query.{name}",
                                f"the operation defines no query parameter {name!r}",
                                self._operation_pointer(operation) + "/parameters")
                continue
            for error in self._plain_validator(parameter.schema).iter_errors(value):
                yield Violation(Side.REQUEST, Rule.PARAMETER, f"query.{name}", _first_line(error.message),
                                self._operation_pointer(operation) + "/parameters")

    def _request_body(self, operation: Operation, exchange: Exchange) -> Iterator[Violation]:
        body_pointer = self._pointers.get(id(self.vocabulary.spec.resolve(operation.definition["requestBody"])), "#")
        body = exchange.request_body
        if len(body) > self.vocabulary.max_body_bytes:
            yield Violation(Side.REQUEST, Rule.BODY_SIZE, "$",
                            f"{len(body)} bytes, over the limit of {self.vocabulary.max_body_bytes}",
                            body_pointer + "/x-max-body-bytes")
            return
        media = _media_type(exchange.request_header("content-type"))
        if media != JSON_MEDIA_TYPE:
            yield Violation(Side.REQUEST, Rule.MEDIA_TYPE, "header.content-type",
                            f"{media or 'no Content-Type'}, not {JSON_MEDIA_TYPE}", body_pointer + "/content")
            return
        try:
            document = json.loads(body)
        except ValueError:
            yield Violation(Side.REQUEST, Rule.JSON, "$", "the body is not JSON", body_pointer + "/content")
            return
        schema = operation.body_schema or {}
        pointer = schema.get("$ref") or self._pointers.get(id(schema), "#")
        yield from self._schema_violations(Side.REQUEST, pointer, document)

    def response(self, operation: Operation, exchange: Exchange) -> Iterator[Violation]:
        assert exchange.status is not None
        responses = self._operation_pointer(operation) + "/responses"
        if not operation.documents(exchange.status):
            documented = ", ".join(str(s) for s in operation.statuses)
            yield Violation(Side.RESPONSE, Rule.STATUS, "status",
                            f"HTTP {exchange.status} is not documented for {operation.operation_id}"
                            f" (documented: {documented})", responses)
            return
        answer = self.vocabulary.spec.resolve(operation.definition["responses"][str(exchange.status)])
        answer_pointer = self._pointers.get(id(answer), f"{responses}/{exchange.status}")
        yield from self._response_headers(answer, answer_pointer, exchange)
        content = answer.get("content") or {}
        if not content:
            return
        media = _media_type(exchange.response_header("content-type"))
        error_answer = exchange.status >= 400
        if media not in content:
            rule = Rule.ERROR_BODY if error_answer else Rule.MEDIA_TYPE
            yield Violation(Side.RESPONSE, rule, "header.content-type",
                            f"{media or 'no Content-Type'}, not {' or '.join(content)}", answer_pointer + "/content")
            return
        try:
            document = json.loads(exchange.response_body)
        except ValueError:
            rule = Rule.ERROR_BODY if error_answer else Rule.JSON
            yield Violation(Side.RESPONSE, rule, "$", "the body is not JSON", answer_pointer + "/content")
            return
        schema = content[media].get("schema") or {}
        pointer = schema.get("$ref") or self._pointers.get(id(schema), "#")
        yield from self._schema_violations(Side.RESPONSE, pointer, document, error_answer=error_answer)

    def _response_headers(self, answer: dict[str, Any], answer_pointer: str, exchange: Exchange
                          ) -> Iterator[Violation]:
        for name, raw in (answer.get("headers") or {}).items():
            header = self.vocabulary.spec.resolve(raw)
            pointer = self._pointers.get(id(header), f"{answer_pointer}/headers/{_escape(name)}")
            values = exchange.response_header(name)
            if not values:
                if header.get("required"):
                    yield Violation(Side.RESPONSE, Rule.HEADER, f"header.{name.lower()}", f"no {name} header",
                                    pointer + "/required")
                continue
            schema = self.vocabulary.spec.resolve(header.get("schema") or {})
            value: Any = values[0]
            if schema.get("type") in ("integer", "number"):
                try:
                    value = int(value) if schema["type"] == "integer" else float(value)
                except ValueError:
                    pass
            for error in self._plain_validator(schema).iter_errors(value):
                yield Violation(Side.RESPONSE, Rule.HEADER, f"header.{name.lower()}", _first_line(error.message),
                                f"{pointer}/schema/{error.validator}")

    def _operation_pointer(self, operation: Operation) -> str:
        return f"#/paths/{_escape(operation.path)}/{operation.method.lower()}"


def json_path(parts: Any) -> str:
    """A jsonschema error's path as JSONPath: `$.response[0].status`."""
    out = "$"
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", str(part)):
            out += f".{part}"
        else:
            out += f"[{json.dumps(str(part))}]"
    return out


def _media_type(values: list[str]) -> str:
    return values[0].partition(";")[0].strip().lower() if values else ""


def _escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else text
    return line if len(line) <= 300 else line[:297] + "..."


_TEMPLATES: dict[str, re.Pattern[str]] = {}


def _template(path: str) -> re.Pattern[str]:
    """A path template as a regular expression with a named group per parameter."""
    found = _TEMPLATES.get(path)
    if found is None:
        pattern = re.sub(r"\\\{([A-Za-z_][A-Za-z0-9_]*)\\\}", r"(?P<\1>[^/]+)", re.escape(path))
        found = _TEMPLATES[path] = re.compile(pattern)
    return found
