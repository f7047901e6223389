"""Connexion's request validation, without its per-request waste, and with the
contract's regular expressions read as ECMA-262 reads them.

Connexion's `ParameterValidator` deep-copies each parameter and builds a
new jsonschema validator for it on every request, a large share of a
request's cost. This subclass builds
each parameter's validator once and validates as Connexion does (same Draft 4
validator, same format checker, same error text). It is plugged in through
Connexion's own `validator_map` option, with a JSON body validator.

`pattern` is read as ECMA-262 reads it (`contracts.core.ecma_patterns`).

A JSON body that is missing or fails its schema raises `InvalidBody`, which
the app answers with the platform's validation answer (`412`, the contract's
`x-error-answers`); other problems keep Connexion's `400`.
"""

from __future__ import annotations

from typing import Any

from connexion.datastructures import MediaTypeDict
from connexion.exceptions import BadRequestProblem
from connexion.json_schema import Draft4RequestValidator
from connexion.utils import is_null, is_nullable
from connexion.validators import VALIDATOR_MAP as CONNEXION_VALIDATORS
from connexion.validators import JSONRequestBodyValidator
from connexion.validators.parameter import ParameterValidator, draft4_format_checker
from jsonschema import Draft4Validator, ValidationError
from starlette.datastructures import Headers
from starlette.types import Receive, Scope

from contracts.core.ecma_patterns import with_ecma_patterns
from mockserver.errors import MockserverError

EcmaDraft4Validator = with_ecma_patterns(Draft4Validator)
EcmaDraft4RequestValidator = with_ecma_patterns(Draft4RequestValidator)


def ecma_validator(schema: dict[str, Any]) -> Any:
    """A Draft 4 validator for `schema`, with Connexion's format checker and ECMA-262 patterns."""
    return EcmaDraft4Validator(schema, format_checker=draft4_format_checker)


class CachedParameterValidator(ParameterValidator):
    """Connexion's parameter validator that owns one compiled Draft 4 validator per
    parameter definition, built on first use instead of on every request."""

    # Connexion makes a new ParameterValidator per request, so the cache is the
    # class's: parameter definition (kept alive here, so its id stays unique)
    # and its compiled validator, keyed by the definition's id.
    _validators: dict[int, tuple[dict[str, Any], Any]] = {}

    def validate_parameter(
        self, parameter_type: str, value: Any, param: dict[str, Any], param_name: str | None = None
    ) -> str | None:
        if value is None or (is_nullable(param) and is_null(value)):
            return ParameterValidator.validate_parameter(parameter_type, value, param, param_name)
        cached = self._validators.get(id(param))
        if cached is None:
            cached = (param, ecma_validator(param.get("schema", param)))
            self._validators[id(param)] = cached
        validator = cached[1]
        try:
            validator.validate(value)
        except ValidationError as exception:
            return str(exception)
        return None


class InvalidBody(BadRequestProblem, MockserverError):
    """A request body that is missing or does not satisfy its schema; `detail` says how."""

    def __init__(self, detail: str) -> None:
        BadRequestProblem.__init__(self, detail=detail)


class EcmaJSONRequestBodyValidator(JSONRequestBodyValidator):
    """Connexion's JSON body validator, with ECMA-262 patterns; a missing or
    schema-invalid body raises `InvalidBody`."""

    @property
    def _validator(self) -> Any:
        return EcmaDraft4RequestValidator(self._schema, format_checker=Draft4Validator.FORMAT_CHECKER)

    async def wrap_receive(self, receive: Receive, *, scope: Scope) -> tuple[Receive, Scope]:
        if self._required and not int(Headers(scope=scope).get("content-length", 0) or 0) \
                and self._schema.get("default") is None:
            raise InvalidBody("RequestBody is required")
        return await super().wrap_receive(receive, scope=scope)

    def _validate(self, body: Any) -> dict[str, Any] | None:
        try:
            return super()._validate(body)
        except BadRequestProblem as exc:
            raise InvalidBody(str(exc.detail)) from None


VALIDATOR_MAP = {
    "parameter": CachedParameterValidator,
    "body": MediaTypeDict({**CONNEXION_VALIDATORS["body"], "*/*json": EcmaJSONRequestBodyValidator}),
}
