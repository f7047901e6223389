"""The documented request-id format: `eud-` + a canonical lowercase UUID."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.core.spec import Spec
from contracts.core.vocabulary import Vocabulary


def test_status_path_parameter_uses_the_request_id_schema(spec: Spec) -> None:
    param = spec.resolve(spec.document["components"]["parameters"]["ReqId"])
    assert param["in"] == "path" and param["required"] is True
    assert param["schema"] == {"$ref": "#/components/schemas/RequestId"}


def test_request_id_length_bounds_match_the_pattern(spec: Spec) -> None:
    schema = spec.schema("RequestId")
    assert schema["minLength"] == schema["maxLength"] == len("eud-" + str(uuid.uuid4()))


@given(st.uuids())
def test_accepts_eud_plus_any_uuid(spec: Spec, value: uuid.UUID) -> None:
    assert Vocabulary.of(spec).request_id.matches(f"eud-{value}")


VALID = "eud-6f1c2e0a-3b7d-4c5e-9a8b-1d2e3f4a5b6c"

MALFORMED = {
    "missing prefix": VALID[4:],
    "wrong prefix": "eux-" + VALID[4:],
    "uppercase prefix": "EUD-" + VALID[4:],
    "uppercase hex": "eud-" + VALID[4:].upper(),
    "no dash after prefix": "eud" + VALID[4:],
    "the docs' short placeholder": "eud-123",
    "the docs' x placeholder": "eud-xxx-xxx-xxx-xxx-xxxxxxx",
    "too short": VALID[:-1],
    "too long": VALID + "0",
    "much too long": VALID + "0" * 4096,
    "non-hex digit": VALID[:-1] + "g",
    "uuid without dashes": "eud-" + VALID[4:].replace("-", ""),
    "braced uuid": "eud-{" + VALID[4:] + "}",
    "group boundaries moved": "eud-6f1c2e0a3-b7d-4c5e-9a8b-1d2e3f4a5b6c",
    "path separator": "eud-6f1c2e0a/3b7d-4c5e-9a8b-1d2e3f4a5b6c",
    "dot segment": "../" + VALID,
    "backslash": VALID[:-1] + "\\",
    "leading space": " " + VALID,
    "trailing newline": VALID + "\n",
    "inner tab": VALID[:8] + "\t" + VALID[9:],
    "url-encoded dash": VALID.replace("-", "%2D", 1),
    "url-encoded slash": "eud-6f1c2e0a%2F3b7d-4c5e-9a8b-1d2e3f4a5b6c",
    "unicode digit": VALID[:-1] + "\u0663",
    "fullwidth letter": VALID[:-1] + "\uff41",
    "empty": "",
}


@pytest.mark.parametrize("value", MALFORMED.values(), ids=MALFORMED.keys())
def test_rejects_malformed_request_ids(spec: Spec, value: str) -> None:
    assert not Vocabulary.of(spec).request_id.matches(value)


def test_trailing_newline_is_rejected_even_by_search(spec: Spec) -> None:
    """`$` in Python matches before a final newline; the server must use fullmatch."""
    assert not Vocabulary.of(spec).request_id.matches(VALID + "\n")
