"""The contract, `openapi.yaml`: where it is, loading, validation and bundling.

Everything else in the toolkit reads the contract through this module (and
`contracts.core.vocabulary`, which names what it says) at run time instead
of repeating it.

Raises `SpecError` for a missing, unreadable or invalid document.

Start-up: YAML is parsed with libyaml where PyYAML has it; the parsed
document and a successful validation are cached on disk by the hash of the
document (`contracts.core.cache`), so a start with the cache neither parses
nor validates again; openapi-spec-validator (and what it pulls in) is
imported only when a document is actually validated.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from contracts.core import cache
from contracts.core.errors import SpecError

SPEC_ENV_VAR = "KORE_ERASE_SPEC"
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
#: Cache kinds: a parsed document; a document openapi-spec-validator accepted.
PARSED, VALID_OPENAPI = "parsed", "valid-openapi"


def parse_yaml(text: str) -> Any:
    """YAML (or JSON) text as Python data, as `yaml.safe_load` reads it: with libyaml
    where available, and with the pure-Python parser for the exact error message
    of a document it refuses. Raises `yaml.YAMLError`."""
    loader = getattr(yaml, "CSafeLoader", None)
    if loader is not None:
        try:
            return yaml.load(text, Loader=loader)  # noqa: S506 - the safe loader, in C
        except yaml.YAMLError:
            pass  # the same refusal, worded as always (below)
    return yaml.safe_load(text)


def parse_yaml_cached(text: str) -> Any:
    """`parse_yaml(text)`, from the cache when this text was parsed before. Only a
    document that JSON holds exactly (no dates, no integer keys) is cached."""
    key = cache.key_of(text)
    cached = cache.read_json(PARSED, key)
    if cached is not None:
        return cached
    document = parse_yaml(text)
    try:
        encoded = json.dumps(document, ensure_ascii=False)
        exact = json.loads(encoded) == document
    except (TypeError, ValueError):
        exact = False
    if exact and isinstance(document, dict):
        cache.remember(PARSED, key, encoded)
    return document


def default_spec_path() -> Path:
    """The contract in use: `$KORE_ERASE_SPEC`, else the copy shipped in the
    wheel, else `openapi.yaml` at the root of a source checkout."""
    override = os.environ.get(SPEC_ENV_VAR)
    if override:
        return Path(override)
    here = Path(__file__).resolve().parent
    shipped = here / "openapi.yaml"
    return shipped if shipped.exists() else here.parent.parent / "openapi.yaml"


@dataclass(frozen=True)
class OperationDefinition:
    """One operation as the document defines it: its id, method, path and raw
    definition (`contracts.core.vocabulary.Operation` is the resolved one)."""

    operation_id: str
    method: str
    path: str
    definition: dict[str, Any] = field(repr=False, compare=False)

    @property
    def deprecated(self) -> bool:
        return bool(self.definition.get("deprecated", False))


@dataclass(frozen=True)
class Spec:
    """A loaded contract document and the facts other modules read from it."""

    path: Path
    document: dict[str, Any] = field(repr=False)

    @property
    def version(self) -> str:
        return str(self.document.get("openapi", ""))

    @cached_property
    def digest(self) -> str:
        """SHA-256 of the document's JSON, keys sorted (a YAML date as its text): the key of
        work that depends on nothing but the contract."""
        return hashlib.sha256(json.dumps(self.document, sort_keys=True, default=str).encode()).hexdigest()

    def operations(self) -> Iterator[OperationDefinition]:
        for path, item in self.document.get("paths", {}).items():
            for method in HTTP_METHODS:
                if method in item:
                    yield OperationDefinition(item[method]["operationId"], method.upper(), path, item[method])

    def operation(self, operation_id: str) -> OperationDefinition:
        for op in self.operations():
            if op.operation_id == operation_id:
                return op
        raise SpecError(f"{self.path}: no operation with operationId {operation_id!r}")

    def resolve(self, node: Any) -> Any:
        """Follow local `$ref`s (`#/...`) until a node that is not a reference."""
        while isinstance(node, dict) and "$ref" in node:
            ref = node["$ref"]
            if not ref.startswith("#/"):
                raise SpecError(f"{self.path}: only local $refs are supported, got {ref!r}")
            node = self.document
            for part in ref[2:].split("/"):
                node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def schema(self, name: str) -> dict[str, Any]:
        try:
            return self.document["components"]["schemas"][name]
        except KeyError:
            raise SpecError(f"{self.path}: no schema named {name!r} in components/schemas") from None

    def to_json(self) -> str:
        return json.dumps(self.document, indent=2, ensure_ascii=False) + "\n"

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.document, sort_keys=False, allow_unicode=True, width=100)


def load_spec(path: str | os.PathLike[str] | None = None, *, check: bool = True) -> Spec:
    """Read the contract and (by default) validate it with openapi-spec-validator."""
    spec_path = Path(path) if path is not None else default_spec_path()
    try:
        text = spec_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        origin = f" (named by {SPEC_ENV_VAR})" if path is None and os.environ.get(SPEC_ENV_VAR) else ""
        raise SpecError(f"{spec_path}: no such file{origin}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"{spec_path}: cannot read: {exc}") from None
    try:
        document = parse_yaml_cached(text)
    except yaml.YAMLError as exc:
        raise SpecError(f"{spec_path}{_yaml_location(exc)}: not valid YAML or JSON: {_yaml_problem(exc)}") from None
    if not isinstance(document, dict):
        raise SpecError(f"{spec_path}: not an OpenAPI document (top level is not a mapping)")
    spec = Spec(spec_path, document)
    if check:
        validate_spec(spec)
    return spec


def validate_spec(spec: Spec) -> None:
    """Validate against the OpenAPI meta-schema; the error names the failing location.
    A document that passed before (the same canonical JSON) is not checked again."""
    if not spec.version.startswith("3.0."):
        # Connexion 3 validates against the 3.0 meta-schema only (docs/spec-notes.md).
        raise SpecError(f"{spec.path}: openapi {spec.version!r} is not 3.0.x; Connexion needs 3.0")
    try:
        key: str | None = cache.key_of(cache.canonical(spec.document))
    except (TypeError, ValueError):
        key = None  # not JSON (a date, say): checked every time
    if key is not None and cache.seen(VALID_OPENAPI, key):
        return
    from openapi_spec_validator import validate
    from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

    try:
        validate(spec.document)
    except OpenAPIValidationError as exc:
        raise SpecError(f"{spec.path}: invalid OpenAPI at {_schema_problem(spec.document, exc)}") from None
    for ref in iter_refs(spec.document):
        if not ref.startswith("#/"):
            raise SpecError(f"{spec.path}: external $ref {ref!r}; the contract must be one file")
    if key is not None:
        cache.remember(VALID_OPENAPI, key)


def bundle(spec: Spec, out_dir: str | os.PathLike[str]) -> list[Path]:
    """Write the validated contract as self-contained `openapi.json` and `openapi.yaml`."""
    target = Path(out_dir)
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in (("openapi.json", spec.to_json()), ("openapi.yaml", spec.to_yaml())):
        out = target / name
        out.write_text(text, encoding="utf-8")
        written.append(out)
    return written


def iter_refs(node: Any) -> Iterator[str]:
    """Every `$ref` value in a document."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from iter_refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from iter_refs(item)


def _one_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


#: The longest message a one-line schema error prints; a value longer than that is cut.
MESSAGE_LIMIT = 160


def _yaml_location(exc: yaml.YAMLError) -> str:
    """`:LINE:COLUMN` (1-based) where the parser stopped, or nothing when it does not say."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    return f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""


def _yaml_problem(exc: yaml.YAMLError) -> str:
    problem = getattr(exc, "problem", None)
    context = getattr(exc, "context", None)
    if problem:
        return f"{problem} ({context})" if context else str(problem)
    return _one_line(exc)


def _schema_problem(document: dict[str, Any], exc: Exception) -> str:
    """`PATH: MESSAGE (rule: KEYWORD)` for the most specific error under the OpenAPI 3.0
    meta-schema (jsonschema's `best_match`, followed into `oneOf`/`anyOf` branches),
    in one short line: the failing value is never dumped whole."""
    from jsonschema import Draft4Validator
    from jsonschema.exceptions import best_match
    from openapi_spec_validator.schemas import schema_v30

    error = best_match(Draft4Validator(schema_v30).iter_errors(document))
    while error is not None and error.context:
        error = best_match(error.context)
    if error is None:  # the validator's own checks beyond the meta-schema
        where = "/".join(str(p) for p in getattr(exc, "path", ())) or "(root)"
        return f"{where}: {_shortened(_one_line(exc))}"
    where = "/".join(str(p) for p in error.absolute_path) or "(root)"
    return f"{where}: {_shortened(error.message)} (rule: {error.validator})"


def _shortened(message: str) -> str:
    message = " ".join(message.split())
    return message if len(message) <= MESSAGE_LIMIT else message[:MESSAGE_LIMIT - 1] + "…"
