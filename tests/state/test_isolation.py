"""Tenant isolation: another account's request id answers like an unknown one."""

from __future__ import annotations

import pytest

from mockserver.testing.mock_app import MockApp
from tests.support import ACME_ADMIN, GLOBEX_ADMIN, assert_error, create, status

#: The state's semantics hold on both backends (tests/conftest.py).
pytestmark = pytest.mark.both_backends

UNKNOWN = "eud-00000000-0000-4000-8000-00000000dead"


@pytest.mark.parametrize(("owner", "other"), [(ACME_ADMIN, GLOBEX_ADMIN), (GLOBEX_ADMIN, ACME_ADMIN)])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_other_tenant_gets_the_same_404_as_for_an_unknown_id(
    mock: MockApp, owner: str, other: str, method: str
) -> None:
    request_id = create(mock, {"userIds": ["u-1"], "RemoveDataFromAllBots": True}, owner).json()[
        "requestId"
    ]
    assert status(mock, request_id, owner, method).status_code == 200
    foreign = status(mock, request_id, other, method)
    unknown = status(mock, UNKNOWN, other, method)
    assert_error(foreign, 404, "not found")
    assert foreign.content == unknown.content
    assert dict(foreign.headers.items()).keys() == dict(unknown.headers.items()).keys()
