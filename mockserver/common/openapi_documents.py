"""The two OpenAPI documents a mock serves: the vendor contract (`openapi.yaml`,
with its vocabulary) and the mock's own control API (`control.yaml`).

The control API's document references the contract's id and status schemas
instead of repeating them: `load_documents` copies them in from the
contract, and adds `ClientId`, the client id format of the contract's token
recipe, so that a fixtures file is checked against the contract it serves.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from contracts.core.errors import SpecError
from contracts.core.spec import Spec, iter_refs, load_spec, parse_yaml_cached, validate_spec
from contracts.core.vocabulary import Vocabulary

CONTROL_SPEC = "control.yaml"
SCHEMA_REF = "#/components/schemas/"


@dataclass(frozen=True)
class Documents:
    """Owns the documents a mock serves: the contract (`spec`), what the code reads
    from it (`vocabulary`), and the control API's document (`control`)."""

    spec: Spec
    vocabulary: Vocabulary
    control: Spec


def load_documents(spec_path: str | os.PathLike[str] | None = None) -> Documents:
    """The contract at `spec_path` (default: the shipped one) and the control API
    document completed with the contract's schemas. Raises `SpecError`."""
    spec = load_spec(spec_path)
    vocabulary = Vocabulary.of(spec)
    return Documents(spec, vocabulary, control_document(vocabulary))


def control_document(vocabulary: Vocabulary) -> Spec:
    path = Path(str(resources.files("mockserver.control") / CONTROL_SPEC))
    document: dict[str, Any] = parse_yaml_cached(path.read_text(encoding="utf-8"))
    schemas = document["components"]["schemas"]
    schemas["ClientId"] = {"type": "string", "pattern": vocabulary.token.client_id.pattern}
    for ref in set(iter_refs(document)):
        name = ref.removeprefix(SCHEMA_REF)
        if ref.startswith(SCHEMA_REF) and name not in schemas:
            schemas[name] = copy.deepcopy(vocabulary.schema(name))
    control = Spec(path, document)
    try:
        validate_spec(control)
    except SpecError as exc:
        raise SpecError(f"{exc} (the control API document, completed from {vocabulary.spec.path})") from None
    return control
