"""The mock under hostile input (issue 10), in this process: every malformed
request gets a contract answer, control inputs are bounded, the journal is
exact, retention bounds the state file. The HTTP-layer findings (malformed
HTTP, slow clients, `--host ::`) are in `test_mock_hostile_http.py`."""

from __future__ import annotations

import base64
import contextlib
import json
import sqlite3
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mockserver.state.backends import open_store
from mockserver.state.journal import JournalRow, encode
from mockserver.state.journal_query import render
from mockserver.state.sqlite import WAL_SIZE_LIMIT
from mockserver.testing.mock_app import MockApp
from tests.support import (
    ACME_JTI,
    CREATE,
    GLOBEX_ADMIN,
    PRELOADED,
    STATUS,
    assert_error,
    client,
    create,
    sign,
    status,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from starlette.testclient import TestClient

BODY = {"userIds": ["u-hostile"], "RemoveDataFromAllBots": True}


JSON = {"content-type": "application/json"}
LONE_SURROGATE = "\ud800"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unsigned(payload: bytes) -> str:
    return _b64(b'{"alg":"none","typ":"JWT"}') + "." + _b64(payload) + "."


def _send(mock: MockApp, method: str, path: str, raw: bytes, headers: Any = None) -> httpx.Response:
    with client(mock) as http:
        return http.request(method, path, content=raw, headers=headers or {"auth": mock.token(), **JSON})


# -- 1. the journal never loses rows -------------------------------------------------------------------


def test_a_token_claiming_a_lone_surrogate_loses_no_journal_row(mock: MockApp) -> None:
    bad = _unsigned(b'{"appId": "\\ud800"}')
    with client(mock) as http:
        assert_error(http.get(STATUS.format(PRELOADED), headers={"auth": bad}), 401)
    for index in range(15):  # its batch neighbours: creates and reads of both tenants
        app = GLOBEX_ADMIN if index % 2 else None
        assert (create(mock, BODY, app) if index % 3 else status(mock, PRELOADED)).status_code in (200, 404)
    entries = mock.journal()
    assert len(entries) == 16
    assert entries[0]["status"] == 401 and entries[0]["appId"] in (None, "\\ud800")


def test_the_store_escapes_unencodable_text_and_keeps_the_rows_around_a_failing_one(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "state.db"))

    def row(time_ms: int, path: str, status: int, app_id: str | None = None) -> tuple:
        return encode(JournalRow(time_ms, "GET", path, b"", (), None, status, None, app_id, None, None, None))

    rows = [
        row(1, "/ok-before", 200),
        row(2, "/" + LONE_SURROGATE, 404, LONE_SURROGATE),
        row(3, "/too-big-a-status", 2**80),  # sqlite cannot hold it: fails alone
        row(4, "/ok-after", 200),
    ]
    store.record(rows)
    paths = [render(entry)["path"] for entry in store.journal()[0]]
    assert paths == ["/ok-before", "/\\ud800", "/ok-after"]
    assert store.use_jti("app", LONE_SURROGATE) and not store.use_jti("app", LONE_SURROGATE)
    store.close()


# -- 2. chunked bodies -----------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["DELETE", "POST"])
def test_a_chunked_create_is_accepted(mock: MockApp, method: str) -> None:
    def chunks() -> Iterator[bytes]:  # no length known: httpx sends Transfer-Encoding: chunked
        yield b'{"userIds": ["a"],'
        yield b' "RemoveDataFromAllBots": true}'

    with client(mock) as http:
        response = http.request(method, CREATE, content=chunks(), headers={"auth": mock.token(), **JSON})
    assert response.status_code == 200, response.text
    assert mock.stored(response.json()["requestId"])["users"][0]["userId"] == "a"


# -- 3. ambiguous framing ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["content-type", "content-encoding"])
def test_two_framing_headers_are_refused(mock: MockApp, name: str) -> None:
    values = {"content-type": ("application/json", "text/plain"), "content-encoding": ("identity", "gzip")}[name]
    headers = [("auth", mock.token()), ("content-type", "application/json")]
    headers = [h for h in headers if h[0] != name] + [(name, value) for value in values]
    response = _send(mock, "DELETE", CREATE, json.dumps(BODY).encode(), headers)
    assert_error(response, 400, f"2 '{name}' headers")


def test_two_content_types_on_a_control_body_are_refused(mock: MockApp) -> None:
    headers = [("content-type", "application/json"), ("content-type", "application/json")]
    assert_error(_send(mock, "POST", "/__mockserver/clock/advance", b'{"seconds": 1}', headers), 400)


# -- 4. text that is not Unicode scalar values; patterns match the whole string ------------------------


def test_a_signed_jti_holding_a_lone_surrogate_is_401(mock: MockApp) -> None:
    token = sign(mock, ACME_JTI, jti=LONE_SURROGATE)
    with client(mock) as http:
        assert_error(http.get(STATUS.format(PRELOADED), headers={"auth": token}), 401, "not valid Unicode")


@pytest.mark.parametrize("claim", ["sub", "appId", "iss"])
def test_any_claim_holding_a_lone_surrogate_is_401(mock: MockApp, claim: str) -> None:
    token = sign(mock, **{claim: "x" + LONE_SURROGATE})
    with client(mock) as http:
        assert_error(http.get(STATUS.format(PRELOADED), headers={"auth": token}), 401)


@pytest.mark.parametrize("raw", [
    b'{"userIds": ["\\ud800"]}',
    b'{"userIds": ["a\\udfff b"]}',
    b'{"userIds": ["a"], "\\ud800": 1}',
    # Python's `$` matches before a final newline; ECMA-262's does not
    b'{"userIds": ["a\\n"]}',
    b'{"userIds": ["\\n"]}',
])
@pytest.mark.parametrize("method", ["DELETE", "POST"])
def test_user_ids_that_are_not_scalar_text_or_end_in_a_newline_are_refused(mock: MockApp, method: str,
                                                                           raw: bytes) -> None:
    """400 for text that is not Unicode (not JSON as the mock reads it), 412 for a schema violation."""
    response = _send(mock, method, CREATE, raw)
    assert_error(response, 412 if b"\\n" in raw else 400)


def test_fixtures_user_ids_are_matched_as_whole_strings(mock: MockApp) -> None:
    document = json.loads(json.dumps(mock.fixtures.document))
    document["accounts"][0]["users"].append({"id": "a\n", "role": "end_user"})
    response = _send(mock, "PUT", "/__mockserver/fixtures", json.dumps(document).encode(), JSON)
    assert_error(response, 400, "does not match")


def test_a_query_parameter_pattern_matches_the_whole_string() -> None:
    from jsonschema import ValidationError

    from mockserver.app.validation import ecma_validator

    checker = ecma_validator({"type": "string", "pattern": "^[a-z]+$"})
    checker.validate("abc")
    with pytest.raises(ValidationError):
        checker.validate("abc\n")
    ecma_validator({"type": "string", "pattern": "b"}).validate("abc")  # unanchored patterns still search


# -- 5. the docs app answers with the contract's error body ---------------------------------------------


@pytest.mark.parametrize(("method", "path", "expected"), [
    ("GET", "/ui/x.js", 404),
    ("GET", "/ui/nothing/here.css", 404),
    ("POST", "/openapi.json", 405),
    ("DELETE", "/ui/", 405),
])
def test_docs_errors_use_the_error_body(mock: MockApp, method: str, path: str, expected: int) -> None:
    with client(mock) as http:
        assert_error(http.request(method, path), expected)


# -- 8. mapped IPv4 loopback is loopback ---------------------------------------------------------------


@pytest.mark.parametrize(("address", "expected"), [
    ("::ffff:127.0.0.1", 200), ("::1", 200), ("::ffff:10.1.2.3", 403), ("10.1.2.3", 403),
])
def test_control_api_sees_mapped_loopback_as_loopback(mock: MockApp, address: str, expected: int) -> None:
    with TestClient(mock.asgi, base_url="http://mock.test", client=(address, 50000)) as http:
        assert http.get("/__mockserver/health").status_code == expected


# -- 9. every control input is bounded -----------------------------------------------------------------


@pytest.mark.parametrize("raw", [b'{"kind": "drop", "fraction": NaN}', b'{"kind": "drop", "fraction": Infinity}',
                                 b'{"kind": "drop", "fraction": -Infinity}', b'{"kind": "drop", "fraction": 1e400}'])
def test_non_finite_numbers_are_refused_and_faults_stay_listable(mock: MockApp, raw: bytes) -> None:
    assert_error(_send(mock, "POST", "/__mockserver/faults", raw, JSON), 400)
    with client(mock) as http:
        assert http.get("/__mockserver/faults").json() == {"faults": []}


@pytest.mark.parametrize("raw", [b'{"seconds": NaN}', b'{"seconds": 1e999}'])
def test_non_finite_clock_steps_are_refused(mock: MockApp, raw: bytes) -> None:
    assert_error(_send(mock, "POST", "/__mockserver/clock/advance", raw, JSON), 400)


def test_deeply_nested_fixtures_are_400(mock: MockApp) -> None:
    for depth in (100, 5_000):
        raw = b'{"accounts": ' + b"[" * depth + b"]" * depth + b"}"
        assert_error(_send(mock, "PUT", "/__mockserver/fixtures", raw, JSON), 400, "nested")


def test_a_huge_fixtures_document_is_413(mock: MockApp) -> None:
    raw = json.dumps({"accounts": [{"id": "x" * (9 * 1024 * 1024), "apps": []}]}).encode()
    assert_error(_send(mock, "PUT", "/__mockserver/fixtures", raw, JSON), 413)


@pytest.mark.parametrize(("path", "body"), [
    ("/faults", {"kind": "status", "message": "m" * 100_000}),
    ("/faults", {"kind": "status", "retryAfter": 10**12}),
    ("/faults", {"kind": "status", "path": "/" * 10_000}),
    ("/faults", {"kind": "status", "method": "M" * 1_000}),
])
def test_control_strings_and_numbers_are_bounded(mock: MockApp, path: str, body: dict[str, Any]) -> None:
    assert_error(_send(mock, "POST", "/__mockserver" + path, json.dumps(body).encode(), JSON), 400)


def test_fixtures_lists_and_strings_are_bounded(mock: MockApp) -> None:
    document = json.loads(json.dumps(mock.fixtures.document))
    document["accounts"][0]["users"] = [{"id": f"u-{i}"} for i in range(100_001)]
    assert_error(_send(mock, "PUT", "/__mockserver/fixtures", json.dumps(document).encode(), JSON), 400)
    document = json.loads(json.dumps(mock.fixtures.document))
    document["accounts"][0]["name"] = "n" * 100_000
    assert_error(_send(mock, "PUT", "/__mockserver/fixtures", json.dumps(document).encode(), JSON), 400)


def test_every_control_input_schema_is_bounded() -> None:
    """Every string, number and list a control call takes has a bound in control.yaml."""
    from mockserver.common.openapi_documents import load_documents

    control = load_documents().control
    unbounded = []

    def visit(node: Any, where: str) -> None:
        node = control.resolve(node)
        kind = node.get("type")
        if node.get("readOnly"):
            return
        if kind == "string" and not ({"maxLength", "enum", "pattern"} & node.keys()):
            unbounded.append(where)
        if kind in ("integer", "number") and not {"minimum", "maximum"} <= node.keys():
            unbounded.append(where)
        if kind == "array":
            if "maxItems" not in node:
                unbounded.append(where)
            visit(node.get("items", {}), where + "[]")
        for name, child in node.get("properties", {}).items():
            visit(child, f"{where}.{name}")

    for operation in control.operations():
        for parameter in map(control.resolve, operation.definition.get("parameters", [])):
            visit(parameter["schema"], f"{operation.operation_id}({parameter['name']})")
        body = operation.definition.get("requestBody")
        if body:
            visit(control.resolve(body)["content"]["application/json"]["schema"], operation.operation_id)
    assert not unbounded


def test_the_manual_clock_stops_before_year_9999_and_never_answers_500(mock: MockApp) -> None:
    refused = None
    with client(mock) as http:
        for _ in range(1_000):  # each step within its 10-year limit
            response = http.post("/__mockserver/clock/advance", json={"seconds": 315_360_000})
            assert response.status_code < 500, response.text
            if response.status_code != 200:
                refused = response
                break
    assert refused is not None, "the clock passed year 9999"
    assert_error(refused, 409, "9999")
    assert mock.clock()["now"] < "9999"
    request_id = create(mock, BODY).json()["requestId"]
    for _ in range(2):
        answer = status(mock, request_id)
        assert answer.status_code == 200, answer.text


@pytest.mark.parametrize(("settings", "message"), [
    ({"progress_delay": float("nan")}, "between 0 and 315360000 seconds"),
    ({"progress_delay": 1e12}, "between 0 and 315360000 seconds"),
    ({"leeway": -1.0}, "between 0 and 315360000 seconds"),
    ({"retain_finished_seconds": -1.0}, "between 0 and 315360000 seconds"),
    ({"retain_finished_requests": -1}, "cannot be negative"),
    ({"retain_journal_rows": -1}, "cannot be negative"),
    ({"header_timeout": 0.0}, "more than 0"),
    ({"body_timeout": float("inf")}, "more than 0"),
])
def test_settings_out_of_bounds_are_refused(settings: dict[str, float], message: str) -> None:
    from mockserver.errors import SettingsError

    with pytest.raises(SettingsError, match=message):
        MockApp(**settings)


# -- 10. retention -------------------------------------------------------------------------------------


def _db_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


def test_the_journal_keeps_its_newest_rows_only(tmp_path: Path) -> None:
    with MockApp(state=tmp_path / "state.db", retain_journal_rows=20) as mock:
        for _ in range(50):
            status(mock, PRELOADED)
        entries = mock.journal()
        assert len(entries) == 20
        assert entries[-1]["id"] - entries[0]["id"] == 19  # contiguous: the oldest went first


def test_finished_requests_are_forgotten_after_their_age_limit(tmp_path: Path) -> None:
    with MockApp(state=tmp_path / "state.db", retain_finished_seconds=60) as mock:
        done = create(mock, BODY).json()["requestId"]
        mock.advance(30)
        recent = create(mock, BODY).json()["requestId"]
        mock.advance(40)  # `done` finished 68 s ago, `recent` 38 s ago
        mock.service.housekeep()
        assert status(mock, done).status_code == 404
        assert status(mock, recent).status_code == 200
        assert status(mock, PRELOADED).status_code == 200  # not finished: kept


def test_finished_requests_beyond_the_count_limit_are_forgotten_oldest_first(tmp_path: Path) -> None:
    with MockApp(state=tmp_path / "state.db", retain_finished_requests=3) as mock:
        ids = []
        for _ in range(5):
            ids.append(create(mock, BODY).json()["requestId"])
            mock.advance(1)
        mock.advance(10)
        mock.service.housekeep()
        assert [status(mock, i).status_code for i in ids] == [404, 404, 200, 200, 200]


def test_the_state_file_stops_growing_under_retention(tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    user = "u-" + "x" * 300
    with MockApp(state=state, retain_journal_rows=100, retain_finished_seconds=1) as mock:
        sizes, wal_sizes = [], []
        for _ in range(8):  # each round stores more than 100 KB of requests and journal
            for _ in range(300):
                create(mock, {"userIds": [user], "RemoveDataFromAllBots": True})
            mock.advance(5)
            mock.service.housekeep()
            with contextlib.closing(sqlite3.connect(state)) as reader:  # what the WAL holds, into the file
                reader.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            sizes.append(state.stat().st_size)
            wal = state.with_name(state.name + "-wal")
            wal_sizes.append(wal.stat().st_size if wal.exists() else 0)
        assert sizes[-1] - sizes[2] < 100_000, sizes  # five rounds later: not one round's worth more
        # The WAL comes and goes with checkpoints (their timing is the writer threads'), and stays
        # within its limit plus what one checkpoint interval (1,000 pages) may add.
        assert max(wal_sizes) <= WAL_SIZE_LIMIT + 1000 * 4096 + 1_000_000, wal_sizes
        rows = sqlite3.connect(state).execute("SELECT count(*) FROM requests").fetchone()[0]
        assert rows == 1  # the preloaded request


def test_a_reset_gives_the_space_back(tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    with MockApp(state=state) as mock:
        for _ in range(500):
            create(mock, {"userIds": ["u-" + "x" * 300], "RemoveDataFromAllBots": True})
        grown = _db_bytes(state)
        mock.reset()
        assert _db_bytes(state) < grown / 2


# -- 11. canonical JWS encodings -----------------------------------------------------------------------


def _variants(token: str) -> dict[str, str]:
    header, payload, signature = token.split(".")

    def padded(part: str) -> str:
        return part + "=" * (-len(part) % 4)

    def standard(part: str) -> str:
        return part.replace("-", "+").replace("_", "/")

    return {
        "padded signature": f"{header}.{payload}.{padded(signature)}",
        "padded header": f"{header}=.{payload}.{signature}",
        "padded payload": f"{header}.{payload}==.{signature}",
        "standard-base64 signature": f"{header}.{payload}.{standard(signature)}",
        "non-zero trailing bits": f"{header}.{payload}.{signature[:-1]}{_sibling(signature[-1])}",
        "whitespace": f"{header}.{payload}.{signature}\t",
    }


def _sibling(char: str) -> str:
    """Another base64url character that decodes to the same bytes in last position of a 43-character part."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    index = alphabet.index(char)
    return alphabet[index ^ 1]


def _token_with_nonurlsafe_signature(mock: MockApp) -> str:
    for _ in range(200):
        token = sign(mock)
        if {"-", "_"} & set(token.split(".")[2]) and len(token.split(".")[2]) % 4:
            return token
    raise AssertionError("no token with - or _ in its signature")


@pytest.mark.parametrize("variant", ["padded signature", "padded header", "padded payload",
                                     "standard-base64 signature", "non-zero trailing bits", "whitespace"])
def test_non_canonical_token_encodings_are_401(mock: MockApp, variant: str) -> None:
    token = _token_with_nonurlsafe_signature(mock)
    with client(mock) as http:
        assert http.get(STATUS.format(PRELOADED), headers={"auth": token}).status_code == 200
        response = http.get(STATUS.format(PRELOADED), headers={"auth": _variants(token)[variant]})
    assert_error(response, 401, "compact JWS")
