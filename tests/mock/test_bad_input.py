"""Bad input always gets a 4xx with the contract's error body, never a 5xx."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mockserver.testing.mock_app import MockApp
from tests.support import CREATE, STATUS, assert_error, client, spec, vocabulary
from tests.support import PRELOADED as PRELOADED_ID

GOOD = b'{"userIds": ["u-1"], "RemoveDataFromAllBots": true}'

BODIES = {
    "malformed json": (b'{"userIds": [', "application/json", 400),
    "non-utf8 bytes": (b'{"userIds": ["\xff\xfe"]}', "application/json", 400),
    "latin-1 body": ('{"userIds": ["caf\u00e9"]}'.encode("latin-1"), "application/json", 400),
    "json null": (b"null", "application/json", 412),
    "json array": (b"[]", "application/json", 412),
    "empty userIds": (b'{"userIds": []}', "application/json", 412),
    "missing userIds": (b'{"RemoveDataFromAllBots": true}', "application/json", 412),
    "wrong type userIds": (b'{"userIds": "u-1"}', "application/json", 412),
    "wrong type flag": (b'{"userIds": ["u-1"], "RemoveDataFromAllBots": "yes"}', "application/json", 412),
    "mistyped flag casing": (b'{"userIds": ["u-1"], "removeDataFromAllBots": true}', "application/json", 412),
    "bad bot id": (b'{"userIds": ["u-1"], "botIds": ["bot-1"]}', "application/json", 412),
    "empty botIds": (b'{"userIds": ["u-1"], "botIds": []}', "application/json", 412),
    "duplicate users": (b'{"userIds": ["u-1", "u-1"]}', "application/json", 412),
    "empty body": (b"", "application/json", 412),
    "text/plain": (GOOD, "text/plain", 415),
    "form": (b"userIds=u-1", "application/x-www-form-urlencoded", 415),
    "xml": (b"<userIds/>", "application/xml", 415),
}


@pytest.mark.parametrize("method", ["DELETE", "POST"])
@pytest.mark.parametrize("case", sorted(BODIES))
def test_bad_bodies(mock: MockApp, method: str, case: str) -> None:
    body, content_type, expected = BODIES[case]
    with client(mock) as http:
        response = http.request(method, CREATE, content=body, headers={
            "auth": mock.token(), "content-type": content_type})
    assert_error(response, expected)


def test_oversized_body_declared(mock: MockApp) -> None:
    big = b'{"userIds": ["' + b"a" * (1_048_576) + b'"]}'
    with client(mock) as http:
        response = http.request("DELETE", CREATE, content=big, headers={
            "auth": mock.token(), "content-type": "application/json"})
    assert_error(response, 413, "1048576")


def test_oversized_body_streamed_without_length(mock: MockApp) -> None:
    def chunks():
        yield b'{"userIds": ["'
        for _ in range(40):
            yield b"a" * 32_768
        yield b'"]}'

    with client(mock) as http:
        response = http.request("DELETE", CREATE, content=chunks(), headers={
            "auth": mock.token(), "content-type": "application/json"})
    assert_error(response, 413)


def test_just_under_the_limit_is_validated_not_refused(mock: MockApp) -> None:
    users = [f"user-{i:04d}-" + "x" * 300 for i in range(1000)]
    body = json.dumps({"userIds": users, "RemoveDataFromAllBots": True}).encode()
    assert len(body) < 1_048_576
    with client(mock) as http:
        response = http.request("DELETE", CREATE, content=body, headers={
            "auth": mock.token(), "content-type": "application/json"})
    assert response.status_code == 200


REQ_IDS = {
    "too short": "eud-123",
    "uppercase": "EUD-6F1C2E0A-3B7D-4C5E-9A8B-1D2E3F4A5B6C",
    "very long": "eud-" + "a" * 10_000,
    "url-encoded slash": "eud-6f1c2e0a%2F3b7d-4c5e-9a8b-1d2e3f4a5b6c",
    "url-encoded null": "eud-%00",
    "unicode": "eud-\u00e9\u00e9",
    "space": "eud-%20abc",
    "dot segment": "..%2F..%2Fetc%2Fpasswd",
    "trailing newline": "eud-6f1c2e0a-3b7d-4c5e-9a8b-1d2e3f4a5b6c%0A",
}


# An encoded slash decodes to a path of more segments, which no route matches.
SEPARATORS = {"url-encoded slash", "dot segment"}


@pytest.mark.parametrize("case", sorted(REQ_IDS))
def test_strange_request_ids(mock: MockApp, case: str) -> None:
    with client(mock) as http:
        response = http.get(STATUS.format(REQ_IDS[case]), headers={"auth": mock.token()})
    assert_error(response, 404 if case in SEPARATORS else 400)


@pytest.mark.parametrize("path", ["/api/public/bot/eraseUsersData/status/", "/api/public/bot/nothing",
                                  "/api/public/bot/eraseUsersData/status/a/b"])
def test_unknown_paths(mock: MockApp, path: str) -> None:
    with client(mock) as http:
        assert_error(http.get(path, headers={"auth": mock.token()}), 404)


@pytest.mark.parametrize(("method", "path", "allowed"), [
    ("PUT", CREATE, "DELETE, POST"),
    ("GET", CREATE, "DELETE, POST"),
    ("PATCH", STATUS.format("eud-6f1c2e0a-3b7d-4c5e-9a8b-1d2e3f4a5b6c"), "GET, POST"),
])
def test_wrong_method_lists_every_allowed_method(mock, method, path, allowed) -> None:
    with client(mock) as http:
        response = http.request(method, path, headers={"auth": mock.token()})
    assert_error(response, 405)
    assert response.headers["allow"] == allowed


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=300))
def test_arbitrary_bytes_never_cause_a_server_error(mock: MockApp, raw: bytes) -> None:
    with client(mock) as http:
        response = http.request("DELETE", CREATE, content=raw, headers={
            "auth": mock.token(), "content-type": "application/json"})
    assert response.status_code < 500
    if response.status_code != 200:
        assert_error(response, response.status_code)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(req_id=st.text(min_size=1, max_size=80))
def test_arbitrary_request_ids_never_cause_a_server_error(mock: MockApp, req_id: str) -> None:
    with client(mock) as http:
        response = http.get(STATUS.format(quote(req_id, safe="")), headers={"auth": mock.token()})
    assert response.status_code in (400, 404), response.text
    assert_error(response, response.status_code)


def test_contract_and_swagger_ui_are_served(mock: MockApp) -> None:

    with client(mock) as http:
        served = http.get("/openapi.json")
        ui = http.get("/ui/")
    assert served.status_code == 200
    assert served.json()["paths"].keys() == spec().document["paths"].keys()
    assert served.json()["components"]["schemas"].keys() == spec().document["components"]["schemas"].keys()
    assert served.json()["components"]["schemas"]["RequestId"]["pattern"] == vocabulary().request_id.pattern
    assert ui.status_code == 200 and "swagger" in ui.text.lower()


@pytest.mark.parametrize(("headers", "expected"), [
    ({}, "none was sent"),
    ({"content-type": "application/vnd.api+json"}, "not 'application/vnd.api+json'"),
    ({"content-type": "application/json; charset=latin-1"}, "must be UTF-8"),
    ({"content-type": "application/json", "content-encoding": "gzip"}, "'gzip' is not supported"),
])
def test_bodies_other_than_plain_utf8_json_are_415(mock: MockApp, headers, expected) -> None:
    with client(mock) as http:
        response = http.request("DELETE", CREATE, content=GOOD, headers={"auth": mock.token(), **headers})
    assert_error(response, 415, expected)


def test_charset_utf8_is_accepted(mock: MockApp) -> None:
    with client(mock) as http:
        response = http.request("DELETE", CREATE, content=GOOD, headers={
            "auth": mock.token(), "content-type": "application/json; charset=UTF-8"})
    assert response.status_code == 200


def test_deeply_nested_json_is_400_not_500(mock: MockApp) -> None:
    body = b'{"userIds": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    with client(mock) as http:
        response = http.request("DELETE", CREATE, content=body, headers={
            "auth": mock.token(), "content-type": "application/json"})
    assert_error(response, 400, "nested too deeply")


def test_two_auth_headers_are_refused(mock: MockApp) -> None:
    with client(mock) as http:
        response = http.get(STATUS.format(PRELOADED_ID), headers=[("auth", mock.token()), ("auth", "x")])
    assert_error(response, 401, "2 'auth' headers")
