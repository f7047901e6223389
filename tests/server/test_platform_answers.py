"""Issue 21's "done when", against real `mockserver run` processes with their
defaults (a manual clock, to move the rate limit's windows): the platform's
answers to a missing token, an unscoped app and an invalid body, and its rate
limit, one count per account whichever worker answers. Every answer is
documented by the contract for its operation and fits its schema."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from contracts.core.platform import Refusal
from contracts.core.vocabulary import Operation
from mockserver import MockServer
from tests.support import ACME_UNSCOPED, GLOBEX_ADMIN, assert_matches, connection, over_both_workers, vocabulary

pytestmark = pytest.mark.xdist_group("platform-answers")
UNKNOWN = "eud-00000000-0000-4000-8000-000000000000"
VOCABULARY = vocabulary()
LIMIT = VOCABULARY.rate_limit


@pytest.fixture(scope="module")
def server_session() -> Iterator[MockServer]:
    with MockServer() as server:
        yield server


@pytest.fixture
def server(server_session: MockServer) -> MockServer:
    server_session.reset()
    return server_session


def send(server: MockServer, operation: Operation, token: str | None, body: object = None) -> httpx.Response:
    """One call on a connection of its own, judged against the contract: its status is
    documented for the operation and an error body fits the error schema."""
    headers = {VOCABULARY.auth_header: token} if token is not None else {}
    if operation.has_body and body is None:
        body = {"userIds": ["u-platform"], "RemoveDataFromAllBots": True}
    with connection(server.base_url) as http:
        response = http.request(operation.method, operation.url_path(reqId=UNKNOWN), json=body, headers=headers)
    assert operation.documents(response.status_code), (operation.operation_id, response.status_code)
    if response.status_code >= 400:
        assert_matches(VOCABULARY.error_schema, response.json())
    return response


def assert_answer(response: httpx.Response, refusal: Refusal) -> None:
    answer = VOCABULARY.answer(refusal)
    assert response.status_code == answer.status, response.text
    assert response.json() == {"errors": [{"msg": answer.message, "code": answer.code}]}


@pytest.mark.parametrize("operation_id", sorted(VOCABULARY.operations))
def test_no_token_and_an_unscoped_app_get_401_with_code_4002(server: MockServer, operation_id: str) -> None:
    operation = VOCABULARY.operation(operation_id)
    assert_answer(send(server, operation, None), Refusal.CREDENTIALS)
    assert_answer(send(server, operation, server.token(ACME_UNSCOPED)), Refusal.SCOPE)
    assert VOCABULARY.answer(Refusal.SCOPE).message == "Permission denied. Scope is incorrect!"


def test_an_empty_user_list_gets_412_with_code_412(server: MockServer) -> None:
    for operation in VOCABULARY.create:
        assert_answer(send(server, operation, server.token(), {"userIds": []}), Refusal.VALIDATION)


def test_the_rate_limit_of_a_default_mockserver_run(server: MockServer) -> None:
    """The 61st call within a minute (creates and status reads together) is 429, another
    account is unaffected, a minute later calls are accepted again; the 1801st within an hour is 429."""
    operations = list(VOCABULARY.operations.values())
    token = server.token(GLOBEX_ADMIN)
    minutes = LIMIT.per_hour // LIMIT.per_minute
    for minute in range(minutes):
        statuses = [send(server, operations[i % len(operations)], token).status_code for i in range(LIMIT.per_minute)]
        assert set(statuses) <= {200, 404}, statuses
        over = send(server, operations[minute % len(operations)], token)
        assert_answer(over, Refusal.RATE_LIMITED)
        # The last minute fills the hour too: then the hour's oldest call decides when to retry.
        assert over.headers["Retry-After"] == str(60 if minute < minutes - 1 else 3600 - 60 * minute)
        if minute == 0:
            assert send(server, operations[0], server.token()).status_code == 200  # acme: another account
        server.advance(60)
    for operation in operations:
        hour = send(server, operation, token)
        assert_answer(hour, Refusal.RATE_LIMITED)
    assert server.rate_limit("globex")["window"] == "hour"


@pytest.fixture(scope="module")
def two_workers() -> Iterator[MockServer]:
    with MockServer(workers=2) as server:
        yield server


def test_two_workers_keep_one_count_per_account(two_workers: MockServer) -> None:
    server = two_workers
    server.reset()
    status = VOCABULARY.status[0]
    token = server.token(GLOBEX_ADMIN)
    answered = over_both_workers(server, lambda: [send(server, status, token).status_code], rounds=LIMIT.per_minute,
                                 app_id=server.app(GLOBEX_ADMIN).client_id)
    while len(answered) < LIMIT.per_minute:
        answered.append(send(server, status, token).status_code)
    assert set(answered) == {404}, answered
    for _ in range(4):  # whichever worker answers
        assert_answer(send(server, status, token), Refusal.RATE_LIMITED)
    assert server.rate_limit("globex")["usedLastMinute"] == LIMIT.per_minute
    server.advance(60)
    assert send(server, status, token).status_code == 404
