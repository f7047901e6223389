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
from enum import StrEnum
from typing import Any
from urllib.parse import quote

from hypothesis import strategies as st

from contracts.core import tokens
from contracts.core.vocabulary import IdFormat, TokenRecipe


class TokenDefectKind(StrEnum):
    """The ways the runner breaks a token."""

    NO_HEADER = "no header"
    EMPTY_HEADER = "empty header"
    GARBAGE = "garbage"
    BEARER_IN_AUTHORIZATION = "bearer in authorization"
    ALG_NONE = "alg none"
    OTHER_SECRET = "other secret"
    HS512 = "hs512"
    RS256_LABEL = "rs256 label"
    EXPIRED = "expired"
    NOT_YET_VALID = "not yet valid"
    MISSING_APP_ID = "missing app id"
    UNKNOWN_APP_ID = "unknown app id"
    TRUNCATED_SIGNATURE = "truncated signature"
    FLIPPED_SIGNATURE = "flipped signature"


class IdDefect(StrEnum):
    """The ways the runner malforms a request id."""

    WRONG_PREFIX = "wrong prefix"
    NO_PREFIX = "no prefix"
    UPPERCASE = "uppercase"
    TOO_SHORT = "too short"
    TOO_LONG = "too long"
    NON_HEX = "non-hex"
    PATH_SEPARATOR = "path separator"
    DOT_SEGMENT = "dot segment"
    URL_ENCODED_BYTES = "url-encoded bytes"
    UNICODE = "unicode"
    WHITESPACE = "whitespace"
    VERY_LONG = "very long"


TOKEN_DEFECTS = tuple(TokenDefectKind)
#: The defects a deployment is most likely to let through, most severe first:
#: these are the ones worth an erasing call on a create operation.
SEVERE_DEFECTS = (TokenDefectKind.NO_HEADER, TokenDefectKind.ALG_NONE, TokenDefectKind.OTHER_SECRET,
                  TokenDefectKind.EXPIRED)
ID_DEFECTS = tuple(IdDefect)


@dataclass(frozen=True)
class TokenDefect:
    """A token defect as planned: its kind and the details Hypothesis drew for it."""

    kind: TokenDefectKind
    params: Mapping[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        details = ", ".join(f"{k} {v}" for k, v in sorted(self.params.items()) if k != "value")
        return self.kind + (f" ({details})" if details else "")


@st.composite
def token_defects(draw: st.DrawFn, kind: TokenDefectKind, client_id_format: IdFormat) -> TokenDefect:
    """A defect of `kind` with Hypothesis-drawn details."""
    if kind == TokenDefectKind.GARBAGE:
        alphabet = st.characters(min_codepoint=33, max_codepoint=126)
        return TokenDefect(kind, {"value": draw(st.text(alphabet=alphabet, min_size=1, max_size=60))})
    if kind == TokenDefectKind.OTHER_SECRET:
        return TokenDefect(kind, {"secret": draw(st.binary(min_size=16, max_size=48)).hex()})
    if kind == TokenDefectKind.EXPIRED:
        return TokenDefect(kind, {"seconds ago": draw(st.integers(min_value=3600, max_value=10 * 365 * 86400))})
    if kind == TokenDefectKind.NOT_YET_VALID:
        return TokenDefect(kind, {"seconds ahead": draw(st.integers(min_value=3600, max_value=365 * 86400))})
    if kind == TokenDefectKind.UNKNOWN_APP_ID:
        return TokenDefect(kind, {"app id": f"{client_id_format.prefix}{draw(st.uuids())}"})
    if kind == TokenDefectKind.TRUNCATED_SIGNATURE:
        return TokenDefect(kind, {"cut": draw(st.integers(min_value=1, max_value=42))})
    if kind == TokenDefectKind.FLIPPED_SIGNATURE:
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
    if kind == TokenDefectKind.NO_HEADER:
        return {}
    if kind == TokenDefectKind.EMPTY_HEADER:
        return {header: ""}
    if kind == TokenDefectKind.GARBAGE:
        return {header: str(params["value"])}
    if kind == TokenDefectKind.BEARER_IN_AUTHORIZATION:
        return {"Authorization": "Bearer " + fresh}
    if kind == TokenDefectKind.ALG_NONE:
        return {header: f"{_b64(json.dumps({'alg': 'none', 'typ': 'JWT'}).encode())}.{fresh.split('.')[1]}."}
    if kind == TokenDefectKind.OTHER_SECRET:
        other = str(params["secret"])
        return {header: tokens.sign(recipe, claims, other if other != secret else other + "x")}
    if kind == TokenDefectKind.HS512:
        return {header: tokens.sign(recipe, claims, secret * 2, "HS512")}
    if kind == TokenDefectKind.RS256_LABEL:
        head = _b64(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
        _, body, signature = fresh.split(".")
        return {header: f"{head}.{body}.{signature}"}
    if kind == TokenDefectKind.EXPIRED:
        return {header: tokens.sign(recipe, dict(claims, exp=int(now) - int(params["seconds ago"])), secret)}
    if kind == TokenDefectKind.NOT_YET_VALID:
        return {header: tokens.sign(recipe, dict(claims, nbf=int(now) + int(params["seconds ahead"])), secret)}
    if kind == TokenDefectKind.MISSING_APP_ID:
        return {header: tokens.sign(recipe, {k: v for k, v in claims.items() if k != recipe.app_id_claim}, secret)}
    if kind == TokenDefectKind.UNKNOWN_APP_ID:
        return {header: tokens.sign(recipe, dict(claims, **{recipe.app_id_claim: params["app id"]}), secret)}
    head, body, signature = fresh.split(".")
    if kind == TokenDefectKind.TRUNCATED_SIGNATURE:
        return {header: f"{head}.{body}.{signature[: max(1, min(int(params['cut']), len(signature) - 1))]}"}
    if kind == TokenDefectKind.FLIPPED_SIGNATURE:
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
def malformed_request_ids(draw: st.DrawFn, kind: IdDefect, request_id: IdFormat) -> str:
    """A raw path segment holding a request id with the defect `kind` (one of
    `ID_DEFECTS`), which the contract rejects."""
    good = request_id.generate(draw(st.randoms(use_true_random=False)))
    prefix_length = len(request_id.prefix)
    if kind == IdDefect.WRONG_PREFIX:
        letters = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=5)
        prefix = draw(letters.map(lambda p: p + request_id.prefix[-1:]).filter(lambda p: p != request_id.prefix))
        return prefix + good[prefix_length:]
    if kind == IdDefect.NO_PREFIX:
        return good[prefix_length:]
    if kind == IdDefect.UPPERCASE:
        return good.upper()
    if kind == IdDefect.TOO_SHORT:
        return good[: draw(st.integers(prefix_length, len(good) - 1))]
    if kind == IdDefect.TOO_LONG:
        return good + draw(st.text(alphabet=HEX, min_size=1, max_size=8))
    if kind == IdDefect.NON_HEX:
        position = draw(st.sampled_from([i for i, c in enumerate(good) if i >= prefix_length and c != "-"]))
        return good[:position] + draw(st.sampled_from("ghxyzGHXYZ")) + good[position + 1:]
    if kind == IdDefect.PATH_SEPARATOR:
        position = draw(st.integers(prefix_length + 1, len(good) - 2))
        return good[:position] + draw(st.sampled_from(["%2F", "%5C", "%2f"])) + good[position:]
    if kind == IdDefect.DOT_SEGMENT:
        return draw(st.sampled_from(["..", "%2E%2E", ".%2E"])) + "%2F" + good
    if kind == IdDefect.URL_ENCODED_BYTES:
        return good[:-2] + "%" + draw(st.sampled_from(["00", "0A", "FF", "C3%28", "E2%80%AE"]))
    if kind == IdDefect.UNICODE:
        char = draw(st.characters(min_codepoint=0xA0, max_codepoint=0x2FFF))
        return quote(good[:-1] + char, safe="-")
    if kind == IdDefect.WHITESPACE:
        return draw(st.sampled_from(["%20", "%09", "+"])) + good
    if kind == IdDefect.VERY_LONG:
        return good + draw(st.text(alphabet=HEX, min_size=200, max_size=4000))
    raise ValueError(f"unknown id defect {kind!r}")
