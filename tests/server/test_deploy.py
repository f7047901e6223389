"""docs/deploy.md's files, checked as far as a machine without a container
runtime or a cluster can: they parse, the compose file satisfies the Compose
Specification's schema, and the settings, probes and references they use
exist (what is not checked is listed in docs/deploy.md)."""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from mockserver.settings import SETTINGS
from tests.conftest import ROOT

DEPLOY = ROOT / "docs" / "deploy"
SETTING_VARIABLES = {setting.env_var for setting in SETTINGS}


def _documents(path: Path) -> list[Any]:
    return [document for document in yaml.safe_load_all(path.read_text()) if document is not None]


def _manifests() -> dict[str, dict[str, Any]]:
    found = {}
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        for document in _documents(path):
            found[document["kind"]] = document
    return found


@pytest.mark.parametrize("path", sorted(DEPLOY.rglob("*.yaml")), ids=lambda p: str(p.relative_to(DEPLOY)))
def test_every_yaml_file_parses(path: Path) -> None:
    assert _documents(path)


def test_the_compose_file_satisfies_the_compose_specification() -> None:
    schema_file = resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    schema = json.loads(schema_file.read_text())
    validator = jsonschema.validators.validator_for(schema)(schema)
    compose = _documents(DEPLOY / "compose.yaml")[0]
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(compose)]
    assert errors == []
    planted = json.loads(json.dumps(compose))
    planted["services"]["mock"]["replica"] = 3  # a misspelled key: the schema must see it
    assert not validator.is_valid(planted)
    services = compose["services"]
    assert set(services) == {"postgres", "mock", "lb"} and services["mock"]["deploy"]["replicas"] > 1
    assert services["mock"]["environment"]["MOCKSERVER_STATE"].startswith("postgresql://")
    assert "/__mockserver/ready" in " ".join(services["mock"]["healthcheck"]["test"])
    assert (DEPLOY / services["mock"]["build"]["dockerfile"].removeprefix("docs/deploy/")).exists()
    assert "server mock:8080;" in (DEPLOY / "nginx.conf").read_text()


def test_the_kubernetes_manifests_fit_together() -> None:
    manifests = _manifests()
    assert set(manifests) == {"Secret", "Deployment", "Service"}
    deployment, service, secret = manifests["Deployment"], manifests["Service"], manifests["Secret"]
    pod = deployment["spec"]["template"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    [container] = pod["spec"]["containers"]
    assert service["spec"]["ports"][0]["targetPort"] in {port["name"] for port in container["ports"]}
    probes = {name: " ".join(container[name]["exec"]["command"]) for name in ("readinessProbe", "livenessProbe")}
    assert "/__mockserver/ready" in probes["readinessProbe"] and "/__mockserver/health" in probes["livenessProbe"]
    from_secret = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"] if "valueFrom" in e}
    assert set(from_secret) == {"MOCKSERVER_STATE", "MOCKSERVER_ADMIN_TOKEN"}
    for reference in from_secret.values():
        assert reference["name"] == secret["metadata"]["name"] and reference["key"] in secret["stringData"]


def test_every_variable_the_deployments_set_is_a_setting() -> None:
    text = (DEPLOY / "compose.yaml").read_text() + "".join(p.read_text() for p in (DEPLOY / "k8s").glob("*.yaml"))
    used = set(re.findall(r"\bMOCKSERVER_[A-Z_]+", text))
    assert used and used <= SETTING_VARIABLES, used - SETTING_VARIABLES
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["mockserver", "run", "--host", "0.0.0.0", "--port", "8080"]' in dockerfile


def test_the_deploy_doc_links_every_file() -> None:
    doc = (ROOT / "docs" / "deploy.md").read_text()
    for name in ("deploy/compose.yaml", "deploy/Dockerfile", "deploy/nginx.conf", "deploy/k8s"):
        assert f"]({name})" in doc
