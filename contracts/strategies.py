"""Hypothesis strategies for the runner's own suites: broken tokens and
malformed request ids. Data generation is Hypothesis's; these only describe
what a broken input looks like."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import jwt
from hypothesis import strategies as st

#: A valid token's parts, for mutations that keep the rest intact.
TokenFactory = Callable[[dict[str, Any]], str]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(claims: dict[str, Any]) -> str:
    head = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{head}.{_b64(json.dumps(claims).encode())}."


TOKEN_DEFECTS = (
    "no header", "empty header", "garbage", "bearer in authorization", "alg none",
    "other secret", "hs512", "rs256 label", "expired", "not yet valid", "missing appId",
    "unknown appId", "truncated signature", "flipped signature",
)
ID_DEFECTS = (
    "wrong prefix", "no prefix", "uppercase", "too short", "too long", "non-hex",
    "path separator", "dot segment", "url-encoded bytes", "unicode", "whitespace", "very long",
)


@st.composite
def broken_credentials(draw: st.DrawFn, kind: str, client_id: str, secret: str, now: float) -> dict[str, str]:
    """Headers whose credentials have the defect `kind` (one of `TOKEN_DEFECTS`);
    Hypothesis draws the details. Each must be answered with 401."""
    return _broken_credentials(draw, kind, client_id, secret, now)[1]


def _broken_credentials(
    draw: st.DrawFn, kind: str, client_id: str, secret: str, now: float
) -> tuple[str, dict[str, str]]:
    base = {"sub": "contracts", "appId": client_id, "iat": int(now), "exp": int(now) + 600,
            "jti": str(uuid.uuid4())}
    sign = lambda claims, key=secret, alg="HS256": jwt.encode(claims, key, algorithm=alg)  # noqa: E731
    if kind == "no header":
        return kind, {}
    if kind == "empty header":
        return kind, {"auth": ""}
    if kind == "garbage":
        junk = draw(st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=60))
        return kind, {"auth": junk}
    if kind == "bearer in authorization":
        return kind, {"Authorization": "Bearer " + sign(base)}
    if kind == "alg none":
        return kind, {"auth": _unsigned(base)}
    if kind == "other secret":
        other = draw(st.binary(min_size=16, max_size=48)).hex()
        return kind, {"auth": sign(base, other if other != secret else other + "x")}
    if kind == "hs512":
        return kind, {"auth": sign(base, secret * 2, "HS512")}
    if kind == "rs256 label":
        head = _b64(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
        token = sign(base).split(".")
        return kind, {"auth": f"{head}.{token[1]}.{token[2]}"}
    if kind == "expired":
        ago = draw(st.integers(min_value=3600, max_value=10 * 365 * 86400))
        return kind, {"auth": sign(dict(base, exp=int(now) - ago))}
    if kind == "not yet valid":
        ahead = draw(st.integers(min_value=3600, max_value=365 * 86400))
        return kind, {"auth": sign(dict(base, nbf=int(now) + ahead))}
    if kind == "missing appId":
        return kind, {"auth": sign({k: v for k, v in base.items() if k != "appId"})}
    if kind == "unknown appId":
        return kind, {"auth": sign(dict(base, appId=f"cs-{draw(st.uuids())}"))}
    head, body, signature = sign(base).split(".")
    if kind == "truncated signature":
        cut = draw(st.integers(min_value=1, max_value=len(signature) - 1))
        return kind, {"auth": f"{head}.{body}.{signature[:cut]}"}
    raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
    position, bit = draw(st.integers(0, len(raw) - 1)), draw(st.integers(0, 7))
    raw[position] ^= 1 << bit
    return kind, {"auth": f"{head}.{body}.{_b64(bytes(raw))}"}


HEX = "0123456789abcdef"


@st.composite
def malformed_request_ids(draw: st.DrawFn, kind: str) -> tuple[str, str]:
    """(kind, raw path segment) of a request id with the defect `kind` (one of
    `ID_DEFECTS`), which the contract rejects."""
    good = f"eud-{draw(st.uuids())}"
    if kind == "wrong prefix":
        letters = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=5)
        prefix = draw(letters.filter(lambda p: p != "eud"))
        return kind, f"{prefix}-{good[4:]}"
    if kind == "no prefix":
        return kind, good[4:]
    if kind == "uppercase":
        return kind, good.upper()
    if kind == "too short":
        return kind, good[: draw(st.integers(4, len(good) - 1))]
    if kind == "too long":
        return kind, good + draw(st.text(alphabet=HEX, min_size=1, max_size=8))
    if kind == "non-hex":
        position = draw(st.sampled_from([i for i, c in enumerate(good) if i >= 4 and c != "-"]))
        return kind, good[:position] + draw(st.sampled_from("ghxyzGHXYZ")) + good[position + 1:]
    if kind == "path separator":
        position = draw(st.integers(5, len(good) - 2))
        return kind, good[:position] + draw(st.sampled_from(["%2F", "%5C", "%2f"])) + good[position:]
    if kind == "dot segment":
        return kind, draw(st.sampled_from(["..", "%2E%2E", ".%2E"])) + "%2F" + good
    if kind == "url-encoded bytes":
        return kind, good[:-2] + "%" + draw(st.sampled_from(["00", "0A", "FF", "C3%28", "E2%80%AE"]))
    if kind == "unicode":
        char = draw(st.characters(min_codepoint=0xA0, max_codepoint=0x2FFF))
        return kind, quote(good[:-1] + char, safe="-")
    if kind == "whitespace":
        return kind, draw(st.sampled_from(["%20", "%09", "+"])) + good
    return kind, good + draw(st.text(alphabet=HEX, min_size=200, max_size=4000))
