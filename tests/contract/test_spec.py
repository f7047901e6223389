"""The contract itself: valid for every consumer we name, and its examples true."""

from __future__ import annotations

import copy
import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import connexion
import pytest
import yaml
from connexion.resolver import Resolver
from openapi_schema_validator import OAS30Validator, oas30_format_checker
from openapi_spec_validator import validate

from contracts.core.platform import RateLimit, Refusal
from contracts.core.spec import Spec, SpecError, load_spec
from contracts.core.vocabulary import Vocabulary
from tests.conftest import ROOT

REDOCLY = ROOT / "tests" / "tools" / "node_modules" / ".bin" / "redocly"
REDOCLY_CONFIG = ROOT / "tests" / "tools" / "redocly.yaml"


def test_openapi_version_is_3_0_3(spec: Spec) -> None:
    assert spec.version == "3.0.3"


def test_openapi_spec_validator_accepts_it(spec: Spec) -> None:
    validate(spec.document)


def test_connexion_add_api_accepts_it(spec: Spec) -> None:
    app = connexion.AsyncApp(__name__)
    app.add_api(spec.path, resolver=Resolver(lambda operation_id: lambda **_: None))


def _run_redocly(path: Path) -> subprocess.CompletedProcess[str]:
    assert REDOCLY.exists(), "Redocly CLI missing: run `npm ci --prefix tests/tools`"
    return subprocess.run(
        [str(REDOCLY), "lint", "--config", str(REDOCLY_CONFIG), str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_redocly_lint_reports_no_problem(spec: Spec) -> None:
    result = _run_redocly(spec.path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Your API description is valid" in result.stdout + result.stderr


def test_redocly_lint_fails_on_a_broken_copy(spec: Spec, tmp_path: Path) -> None:
    """The second linter is a real check: a defect in the contract makes it fail."""
    broken = json.loads(json.dumps(spec.document))
    get = broken["paths"]["/api/public/bot/eraseUsersData/status/{reqId}"]["get"]
    get["operationId"] = "createEraseRequest"  # a duplicate operationId
    target = tmp_path / "broken.yaml"
    target.write_text(yaml.safe_dump(broken))
    result = _run_redocly(target)
    assert result.returncode != 0
    assert "operation-operationId-unique" in result.stdout + result.stderr


def test_load_spec_rejects_openapi_3_1(spec: Spec, tmp_path: Path) -> None:
    newer = dict(spec.document, openapi="3.1.0")
    target = tmp_path / "openapi.yaml"
    target.write_text(yaml.safe_dump(newer))
    with pytest.raises(SpecError, match="not 3.0.x; Connexion needs 3.0"):
        load_spec(target)


def test_every_operation_is_secured_by_the_auth_header(spec: Spec) -> None:
    scheme = spec.document["components"]["securitySchemes"]["JwtAuth"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", "auth")
    for words in ("HS256", "Client Secret", "appId", "Delete Users Data", "jti"):
        assert words in scheme["description"]
    assert spec.document["security"] == [{"JwtAuth": []}]
    for op in spec.operations():
        assert op.definition.get("security", spec.document["security"]) == [{"JwtAuth": []}]


EXPECTED_ERRORS = {
    "createEraseRequest": {"400", "401", "412", "413", "415", "429", "500", "503"},
    "getEraseRequestStatus": {"400", "401", "404", "429", "500", "503"},
}


@pytest.mark.parametrize("operation_id", sorted(EXPECTED_ERRORS))
def test_each_operation_documents_its_errors_with_the_shared_body(
    spec: Spec, operation_id: str
) -> None:
    for alias in (operation_id, operation_id + "ViaPost"):
        responses = spec.operation(alias).definition["responses"]
        assert EXPECTED_ERRORS[operation_id] <= set(responses)
        for code in EXPECTED_ERRORS[operation_id]:
            body = spec.resolve(responses[code])["content"]["application/json"]["schema"]
            assert body == {"$ref": "#/components/schemas/Error"}
    for code in ("429", "503"):
        assert "Retry-After" in spec.resolve(responses[code])["headers"]


def test_post_aliases_are_deprecated_twins(spec: Spec) -> None:
    for operation_id in EXPECTED_ERRORS:
        real, alias = spec.operation(operation_id), spec.operation(operation_id + "ViaPost")
        assert alias.method == "POST" and alias.path == real.path and alias.deprecated
        assert alias.definition["responses"] == real.definition["responses"]
        assert alias.definition.get("requestBody") == real.definition.get("requestBody")
    assert spec.operation("createEraseRequest").method == "DELETE"
    assert spec.operation("getEraseRequestStatus").method == "GET"


def test_create_response_links_request_id_to_status_reqid(spec: Spec) -> None:
    created = spec.resolve(spec.operation("createEraseRequest").definition["responses"]["200"])
    link = created["links"]["GetEraseRequestStatus"]
    assert link["operationId"] == "getEraseRequestStatus"
    assert link["parameters"] == {"reqId": "$response.body#/requestId"}


def test_user_status_enum_has_in_progress_and_failure(spec: Spec) -> None:
    assert spec.schema("UserEraseStatus")["enum"] == ["IN_PROGRESS", "SUCCESS", "FAILURE"]


def test_exact_field_casing_from_the_docs(spec: Spec) -> None:
    assert "RemoveDataFromAllBots" in spec.schema("EraseRequest")["properties"]
    assert spec.schema("EraseRequest")["properties"]["RemoveDataFromAllBots"]["default"] is False
    assert spec.schema("EraseRequest")["properties"]["userIds"]["minItems"] == 1
    status = spec.schema("EraseRequestStatus")
    assert set(status["required"]) == {
        "_id", "createdOn", "lastUpdatedOn", "RemoveDataFromAllBots", "response"
    }
    assert status["properties"]["createdOn"]["format"] == "date-time"


# --- examples ------------------------------------------------------------------------------


def _examples(spec: Spec) -> Iterator[tuple[str, Any, Any]]:
    """Every (location, schema, example) pair in the document."""

    def schemas(node: Any, where: str) -> Iterator[tuple[str, Any, Any]]:
        if isinstance(node, dict):
            if "example" in node and ("type" in node or "properties" in node):
                yield where, node, node["example"]
            for key, value in node.items():
                yield from schemas(value, f"{where}/{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                yield from schemas(value, f"{where}/{i}")

    components = spec.document["components"]
    yield from schemas(components["schemas"], "#/components/schemas")
    holders = [(f"#/components/parameters/{k}", v) for k, v in components["parameters"].items()]
    holders += [(f"#/components/headers/{k}", v) for k, v in components["headers"].items()]
    for group in ("requestBodies", "responses"):
        for name, item in components[group].items():
            for media, content in item.get("content", {}).items():
                holders.append((f"#/components/{group}/{name}/content/{media}", content))
    for where, holder in holders:
        if "example" in holder:
            yield where, holder["schema"], holder["example"]
        for name, example in holder.get("examples", {}).items():
            yield f"{where}/examples/{name}", holder["schema"], example["value"]


def test_every_request_and_response_body_has_an_example(spec: Spec) -> None:
    components = spec.document["components"]
    for group in ("requestBodies", "responses"):
        for name, item in components[group].items():
            for content in item.get("content", {}).values():
                assert "example" in content or "examples" in content, f"{group}/{name}"


def test_every_example_validates_against_its_schema(spec: Spec) -> None:
    found = list(_examples(spec))
    assert len(found) >= 20, "the walk over examples found too few to be right"
    for where, schema, example in found:
        json.dumps(example)  # a valid JSON value, not ISODate(...)
        root = dict(schema, components=spec.document["components"])
        validator = OAS30Validator(root, format_checker=oas30_format_checker)
        errors = [e.message for e in validator.iter_errors(example)]
        assert not errors, f"{where}: {errors}"


def test_an_invalid_example_would_be_caught(spec: Spec) -> None:
    """The example check can fail: an ISODate-style timestamp is rejected."""
    root = dict(spec.schema("EraseRequestStatus"), components=spec.document["components"])
    bad = dict(spec.schema("EraseRequestStatus")["example"], createdOn='ISODate("2019-09-26")')
    validator = OAS30Validator(root, format_checker=oas30_format_checker)
    assert list(validator.iter_errors(bad))


def _response_examples(spec: Spec, response: dict[str, Any]) -> list[Any]:
    content = spec.resolve(response)["content"]["application/json"]
    return [content["example"]] if "example" in content else [e["value"] for e in content["examples"].values()]


def test_each_platform_answer_is_an_example_of_the_response_documented_for_its_status(spec: Spec) -> None:
    """x-error-answers (what the mock answers and the runner expects) and the responses the
    contract documents say the same: each answer is an example of its status's response, on
    every operation that can give it (the 405 in x-method-not-allowed, on no operation)."""
    vocabulary = Vocabulary.of(spec)
    for refusal, answer in vocabulary.answers.items():
        body = {"errors": [{"msg": answer.message, "code": answer.code}]}
        if refusal is Refusal.METHOD:
            assert body in _response_examples(spec, spec.document["x-method-not-allowed"])
            assert all(not op.documents(answer.status) for op in vocabulary.operations.values())
            continue
        operations = [op for op in vocabulary.operations.values() if op.has_body or refusal is not Refusal.VALIDATION]
        for operation in operations:
            assert body in _response_examples(spec, operation.definition["responses"][str(answer.status)]), (
                refusal, operation.operation_id)


def test_no_operation_documents_403_the_platform_answers_401(spec: Spec) -> None:
    assert all("403" not in op.definition["responses"] for op in spec.operations())


def test_the_rate_limit_is_the_vendor_s(spec: Spec) -> None:
    assert Vocabulary.of(spec).rate_limit == RateLimit("account", 60, 1800)


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d.pop("x-rate-limit"), "no top-level x-rate-limit"),
    (lambda d: d["x-rate-limit"].update(perMinute=0), "x-rate-limit.perMinute must be a positive integer, not 0"),
    (lambda d: d["x-rate-limit"].update(scope="app"), "x-rate-limit.scope must be 'account'"),
    (lambda d: d.pop("x-error-answers"), "no top-level x-error-answers"),
    (lambda d: d["x-error-answers"].pop("scope"), "x-error-answers.scope needs an integer status and code"),
    (lambda d: d["x-error-answers"]["validation"].update(status=422),
     "does not document 422, the status of x-error-answers.validation"),
    (lambda d: d.pop("x-method-not-allowed"), "no top-level x-method-not-allowed"),
])
def test_a_contract_without_the_platform_s_extensions_is_refused_by_name(spec: Spec, change: Any,
                                                                        message: str) -> None:
    document = copy.deepcopy(spec.document)
    change(document)
    with pytest.raises(SpecError, match=re.escape(message)):
        Vocabulary.of(Spec(spec.path, document))
