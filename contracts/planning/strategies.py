"""Hypothesis strategies for the runner's own suites: broken tokens and
malformed request ids. Data generation is Hypothesis's; these only describe
what a broken input looks like.

A token defect is drawn when the run is planned (its details are part of the
plan, and never a secret) and applied to a freshly minted token when the call
is sent, so that every token is new.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from hypothesis import strategies as st

from contracts.core import tokens
from contracts.core.vocabulary import IdFormat, TokenRecipe

TOKEN_DEFECTS = (
    "no header", "empty header", "garbage", "bearer in authorization", "alg none",
    "other secret", "hs512", "rs256 label", "expired", "not yet valid", "missing app id",
    "unknown app id", "truncated signature", "flipped signature",
)
#: The defects a deployment is most likely to let through, most severe first:
#: these are the ones worth an erasing call on a create operation.
SEVERE_DEFECTS = ("no header", "alg none", "other secret", "expired")
ID_DEFECTS = (
    "wrong prefix", "no prefix", "uppercase", "too short", "too long", "non-hex",
    "path separator", "dot segment", "url-encoded bytes", "unicode", "whitespace", "very long",
)


@dataclass(frozen=True)
class TokenDefect:
    kind: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        details = ", ".join(f"{k} {v}" for k, v in sorted(self.params.items()) if k != "value")
        return self.kind + (f" ({details})" if details else "")


@st.composite
def token_defects(draw: st.DrawFn, kind: str, client_id_format: IdFormat) -> TokenDefect:
    """A defect of `kind` with Hypothesis-drawn details."""
    if kind == "garbage":
        alphabet = st.characters(min_codepoint=33, max_codepoint=126)
        return TokenDefect(kind, {"value": draw(st.text(alphabet=alphabet, min_size=1, max_size=60))})
    if kind == "other secret":
        return TokenDefect(kind, {"secret": draw(st.binary(min_size=16, max_size=48)).hex()})
    if kind == "expired":
        return TokenDefect(kind, {"seconds ago": draw(st.integers(min_value=3600, max_value=10 * 365 * 86400))})
    if kind == "not yet valid":
        return TokenDefect(kind, {"seconds ahead": draw(st.integers(min_value=3600, max_value=365 * 86400))})
    if kind == "unknown app id":
        return TokenDefect(kind, {"app id": f"{client_id_format.prefix}{draw(st.uuids())}"})
    if kind == "truncated signature":
        return TokenDefect(kind, {"cut": draw(st.integers(min_value=1, max_value=42))})
    if kind == "flipped signature":
        return TokenDefect(kind, {"byte": draw(st.integers(0, 31)), "bit": draw(st.integers(0, 7))})
    return TokenDefect(kind)


def broken_headers(defect: TokenDefect, recipe: TokenRecipe, client_id: str, secret: str,
                   now: float) -> dict[str, str]:
    """The headers of a call whose credentials have `defect`, built on a token
    minted now (a fresh `jti`). Each must be answered with 401."""
    kind, params = defect.kind, defect.params
    fresh = tokens.mint(recipe, client_id, secret, now=now, expires_in=600, subject="contracts")
    claims = _claims(fresh)
    header = recipe.header
    if kind == "no header":
        return {}
    if kind == "empty header":
        return {header: ""}
    if kind == "garbage":
        return {header: str(params["value"])}
    if kind == "bearer in authorization":
        return {"Authorization": "Bearer " + fresh}
    if kind == "alg none":
        return {header: f"{_b64(json.dumps({'alg': 'none', 'typ': 'JWT'}).encode())}.{fresh.split('.')[1]}."}
    if kind == "other secret":
        other = str(params["secret"])
        return {header: tokens.sign(recipe, claims, other if other != secret else other + "x")}
    if kind == "hs512":
        return {header: tokens.sign(recipe, claims, secret * 2, "HS512")}
    if kind == "rs256 label":
        head = _b64(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
        _, body, signature = fresh.split(".")
        return {header: f"{head}.{body}.{signature}"}
    if kind == "expired":
        return {header: tokens.sign(recipe, dict(claims, exp=int(now) - int(params["seconds ago"])), secret)}
    if kind == "not yet valid":
        return {header: tokens.sign(recipe, dict(claims, nbf=int(now) + int(params["seconds ahead"])), secret)}
    if kind == "missing app id":
        return {header: tokens.sign(recipe, {k: v for k, v in claims.items() if k != recipe.app_id_claim}, secret)}
    if kind == "unknown app id":
        return {header: tokens.sign(recipe, dict(claims, **{recipe.app_id_claim: params["app id"]}), secret)}
    head, body, signature = fresh.split(".")
    if kind == "truncated signature":
        return {header: f"{head}.{body}.{signature[: max(1, min(int(params['cut']), len(signature) - 1))]}"}
    if kind == "flipped signature":
        raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
        raw[int(params["byte"]) % len(raw)] ^= 1 << int(params["bit"])
        return {header: f"{head}.{body}.{_b64(bytes(raw))}"}
    raise ValueError(f"unknown token defect {kind!r}")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(token: str) -> dict[str, Any]:
    body = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))))


HEX = "0123456789abcdef"


@st.composite
def malformed_request_ids(draw: st.DrawFn, kind: str, request_id: IdFormat) -> str:
    """A raw path segment holding a request id with the defect `kind` (one of
    `ID_DEFECTS`), which the contract rejects."""
    good = request_id.generate(draw(st.randoms(use_true_random=False)))
    prefix_length = len(request_id.prefix)
    if kind == "wrong prefix":
        letters = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=5)
        prefix = draw(letters.map(lambda p: p + request_id.prefix[-1:]).filter(lambda p: p != request_id.prefix))
        return prefix + good[prefix_length:]
    if kind == "no prefix":
        return good[prefix_length:]
    if kind == "uppercase":
        return good.upper()
    if kind == "too short":
        return good[: draw(st.integers(prefix_length, len(good) - 1))]
    if kind == "too long":
        return good + draw(st.text(alphabet=HEX, min_size=1, max_size=8))
    if kind == "non-hex":
        position = draw(st.sampled_from([i for i, c in enumerate(good) if i >= prefix_length and c != "-"]))
        return good[:position] + draw(st.sampled_from("ghxyzGHXYZ")) + good[position + 1:]
    if kind == "path separator":
        position = draw(st.integers(prefix_length + 1, len(good) - 2))
        return good[:position] + draw(st.sampled_from(["%2F", "%5C", "%2f"])) + good[position:]
    if kind == "dot segment":
        return draw(st.sampled_from(["..", "%2E%2E", ".%2E"])) + "%2F" + good
    if kind == "url-encoded bytes":
        return good[:-2] + "%" + draw(st.sampled_from(["00", "0A", "FF", "C3%28", "E2%80%AE"]))
    if kind == "unicode":
        char = draw(st.characters(min_codepoint=0xA0, max_codepoint=0x2FFF))
        return quote(good[:-1] + char, safe="-")
    if kind == "whitespace":
        return draw(st.sampled_from(["%20", "%09", "+"])) + good
    if kind == "very long":
        return good + draw(st.text(alphabet=HEX, min_size=200, max_size=4000))
    raise ValueError(f"unknown id defect {kind!r}")
