"""The vendor's auth rules, one test per rule, each against every operation of
a live mock; tokens are made with PyJWT."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import jwt
import pytest

from contracts.core.platform import Refusal
from mockserver.testing.mock_app import MockApp
from tests.support import (
    ACME_BOT_APP,
    ACME_JTI,
    ACME_UNSCOPED,
    CREATE,
    PRELOADED,
    STATUS,
    assert_error,
    client,
    sign,
    status,
)

BODY = {"userIds": ["u-auth-test"], "RemoveDataFromAllBots": True}

OPERATIONS = {
    "createEraseRequest": ("DELETE", CREATE, BODY),
    "createEraseRequestViaPost": ("POST", CREATE, BODY),
    "getEraseRequestStatus": ("GET", STATUS.format(PRELOADED), None),
    "getEraseRequestStatusViaPost": ("POST", STATUS.format(PRELOADED), None),
}


@pytest.fixture(params=sorted(OPERATIONS))
def call(request: pytest.FixtureRequest, mock: MockApp) -> Callable[..., httpx.Response]:
    method, path, body = OPERATIONS[request.param]

    def send(headers: dict[str, str]) -> httpx.Response:
        with client(mock) as http:
            return http.request(method, path, json=body, headers=headers)

    return send


def _b64(part: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()


def test_valid_token_is_accepted(call, mock: MockApp) -> None:
    assert call({"auth": sign(mock)}).status_code == 200


def test_missing_header(call) -> None:
    assert_error(call({}), 401, "Missing token")


def test_empty_header(call) -> None:
    assert_error(call({"auth": ""}), 401, "Missing token")


def test_token_in_authorization_bearer_instead_of_auth(call, mock: MockApp) -> None:
    assert_error(call({"Authorization": f"Bearer {sign(mock)}"}), 401, "Missing token")


def test_not_a_jwt(call) -> None:
    assert_error(call({"auth": "not-a-jwt"}), 401, "not a JWT", refusal=Refusal.TOKEN)


def test_alg_none(call, mock: MockApp) -> None:
    claims = jwt.decode(sign(mock), options={"verify_signature": False})
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
    assert_error(call({"auth": unsigned}), 401, "algorithm 'none' is not allowed")


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_other_hmac_algorithm(call, mock: MockApp) -> None:
    assert_error(call({"auth": sign(mock, algorithm="HS512")}), 401, "'HS512' is not allowed")


def test_rs256_label_algorithm_confusion(call, mock: MockApp) -> None:
    """A token that claims RS256 but is HMAC-signed with the secret is refused."""
    app = mock.app()
    claims = {"sub": "x", "appId": app.client_id}
    signing_input = f"{_b64({'alg': 'RS256', 'typ': 'JWT'})}.{_b64(claims)}"
    digest = hmac.new(app.client_secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    token = signing_input + "." + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert_error(call({"auth": token}), 401, "'RS256' is not allowed")


def test_bad_signature(call, mock: MockApp) -> None:
    assert_error(call({"auth": sign(mock, secret="x" * 32)}), 401, "bad signature")


def test_bit_flipped_signature(call, mock: MockApp) -> None:
    head, body, signature = sign(mock).split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    assert_error(call({"auth": f"{head}.{body}.{flipped}"}), 401)


def test_missing_app_id(call, mock: MockApp) -> None:
    assert_error(call({"auth": sign(mock, appId=None)}), 401, "'appId' claim is missing")


def test_app_id_claim_must_be_spelled_exactly(call, mock: MockApp) -> None:
    token = sign(mock, appId=None, appid=mock.app().client_id)
    assert_error(call({"auth": token}), 401, "'appId' claim is missing")


def test_unknown_app_id(call, mock: MockApp) -> None:
    token = sign(mock, appId=f"cs-{uuid.uuid4()}")
    assert_error(call({"auth": token}), 401, "no app with this 'appId'")


def test_expired_token(call, mock: MockApp) -> None:
    now = mock.clock()["nowMs"] // 1000
    assert_error(call({"auth": sign(mock, exp=now - 60)}), 401, "expired")


def test_expiry_within_leeway_is_accepted(call, mock: MockApp) -> None:
    now = mock.clock()["nowMs"] // 1000
    assert call({"auth": sign(mock, exp=now - 2)}).status_code == 200


def test_token_not_yet_valid(call, mock: MockApp) -> None:
    now = mock.clock()["nowMs"] // 1000
    assert_error(call({"auth": sign(mock, nbf=now + 600)}), 401, "not yet valid")


def test_advancing_the_manual_clock_expires_no_token_by_default(call, mock: MockApp) -> None:
    token = sign(mock)  # exp = now + 600, by the wall clock
    mock.advance(3600)
    assert call({"auth": token}).status_code == 200


def test_expiry_follows_the_server_clock_when_asked() -> None:
    with MockApp(token_clock="server") as mock:
        token = sign(mock)  # exp = the mock's clock + 600
        assert status(mock, PRELOADED, token=token).status_code == 200
        mock.advance(3600)
        assert_error(status(mock, PRELOADED, token=token), 401, "expired")


@pytest.mark.both_backends
def test_missing_jti_for_an_app_that_enforces_jti(call, mock: MockApp) -> None:
    assert_error(call({"auth": sign(mock, ACME_JTI, jti=None)}), 401, "enforces JTI")


@pytest.mark.both_backends
def test_replayed_jti_for_an_app_that_enforces_jti(call, mock: MockApp) -> None:
    token = sign(mock, ACME_JTI)
    assert call({"auth": token}).status_code == 200
    assert_error(call({"auth": token}), 401, "already used")


@pytest.mark.both_backends
def test_jti_is_optional_and_reusable_for_other_apps(call, mock: MockApp) -> None:
    token = sign(mock, jti=None)
    assert call({"auth": token}).status_code == 200
    assert call({"auth": token}).status_code == 200


def test_app_without_the_scope_gets_the_platform_s_scope_error(call, mock: MockApp) -> None:
    """401 (not 403) with code 4002 and "Permission denied. Scope is incorrect!", as the platform answers."""
    response = call({"auth": sign(mock, ACME_UNSCOPED)})
    assert_error(response, 401, "'Delete Users Data' scope", refusal=Refusal.SCOPE)
    assert response.json() == {"errors": [{"msg": "Permission denied. Scope is incorrect!", "code": 4002}]}


def test_bot_level_app_gets_the_scope_error(call, mock: MockApp) -> None:
    assert_error(call({"auth": sign(mock, ACME_BOT_APP)}), 401, "Bot Admin Console", refusal=Refusal.SCOPE)


def test_a_refused_token_gets_the_platform_s_answer(call) -> None:
    assert call({}).json() == {"errors": [{"msg": "Invalid SDK credentials", "code": 4002}]}
    assert call({"auth": "not-a-jwt"}).json() == {"errors": [{"msg": "Invalid JWT token", "code": 4002}]}


def test_auth_is_checked_before_the_body(mock: MockApp) -> None:
    """An unauthenticated malformed request learns nothing about its body: 401, not 400."""
    with client(mock) as http:
        response = http.request("DELETE", CREATE, content=b"{not json", headers={
            "content-type": "application/json"})
    assert_error(response, 401)


@pytest.mark.parametrize("exp", [10**400, float("nan"), float("inf"), "soon", True])
def test_absurd_exp_is_401_not_500(call, mock: MockApp, exp) -> None:
    app = mock.app()
    payload = json.dumps({"sub": "x", "appId": app.client_id, "exp": exp}, allow_nan=True)
    body = base64.urlsafe_b64encode(payload.encode()).rstrip(b"=").decode()
    signing_input = f"{_b64({'alg': 'HS256', 'typ': 'JWT'})}.{body}"
    digest = hmac.new(app.client_secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    token = signing_input + "." + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert_error(call({"auth": token}), 401, "'exp' claim is not a finite number")


def test_numeric_sub_is_accepted(call, mock: MockApp) -> None:
    assert call({"auth": sign(mock, sub=12345)}).status_code == 200
