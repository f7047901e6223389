"""Where tokens are verified: the vendor's JWT rules for the `auth` header.

`Authenticator.authenticate()` returns the calling `App` or raises
`AuthError` naming the platform's answer (`Refusal`: a refused token is
"Invalid SDK credentials", a header value that is not a JWT at all "Invalid
JWT token", an app without the scope or a bot-level app "Permission denied")
and the detail of what was wrong.
PyJWT does the JWT work; the rules here are only the vendor's: which app,
which algorithm, which scope, JTI enforcement.

A token must be a compact JWS in canonical form: three parts in unpadded
base64url that re-encode to themselves. PyJWT also accepts `=` padding and,
in some versions, standard-base64 characters or stray bits in the last
character, so one signature would have several spellings. Its claims and
header must be Unicode text: a lone surrogate (`"\ud800"`) is refused, as
in request bodies (`mockserver.common.strict_json`).

A token whose signature was verified once is remembered (by its exact text,
per worker, until the fixtures change), so a client that reuses a token
costs one HMAC, not one per request. Time claims, scope and JTI are checked
on every request all the same, and tokens of apps that enforce JTI are
never remembered: each of them may be used once only.
"""

from __future__ import annotations

import binascii
import math
import re
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

import jwt
from jwt.utils import base64url_decode, base64url_encode

from contracts.core.platform import Refusal
from contracts.core.vocabulary import TokenRecipe
from mockserver.common import strict_json
from mockserver.errors import AuthError
from mockserver.vendor.fixtures import App, AppKind

VERIFIED_CACHE_SIZE = 4096
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")
_DECODE_OPTIONS: Any = {
    # exp and nbf are checked against the server's clock, which a test may
    # drive by hand; PyJWT would read the wall clock.
    "verify_aud": False,
    "verify_iat": False,
    "verify_exp": False,
    "verify_nbf": False,
    # The docs say `sub` is "any id": a numeric one must not be refused.
    "verify_sub": False,
    "verify_jti": False,  # checked below, for the apps that enforce it
}


class Authenticator:
    """Verifies tokens for one set of apps (one fixtures generation)."""

    def __init__(self, recipe: TokenRecipe, apps: Mapping[str, App], *, leeway: float,
                 use_jti: Callable[[App, str], bool]):
        """`use_jti(app, jti)` records a JTI and returns False for a replay."""
        self.recipe, self.apps, self.leeway, self.use_jti = recipe, apps, leeway, use_jti
        self._verified: OrderedDict[str, tuple[App, dict[str, Any]]] = OrderedDict()

    def authenticate(self, token: str | None, now: float) -> App:
        """The app a raw JWT from the `auth` header speaks for, if it may call the API."""
        if not token or not token.strip():
            raise AuthError(Refusal.CREDENTIALS, f"Missing token: send the JWT in the '{self.recipe.header}' header")
        remembered = self._verified.get(token)
        if remembered is None:
            app, claims = self._verify(token)
            if not app.enforce_jti:
                self._remember(token, app, claims)
        else:
            app, claims = remembered
        _check_times(claims, now, self.leeway)
        if app.enforce_jti:
            jti = claims.get("jti")
            if not isinstance(jti, str) or not jti:
                raise AuthError(Refusal.CREDENTIALS,
                                "Invalid token: this app enforces JTI and the 'jti' claim is missing")
            if not self.use_jti(app, jti):
                raise AuthError(Refusal.CREDENTIALS, "Invalid token: this 'jti' was already used")
        if app.kind is not AppKind.ADMIN_CONSOLE:
            raise AuthError(Refusal.SCOPE, "Forbidden: only apps of the Bot Admin Console may call this API")
        if self.recipe.scope not in app.scopes:
            raise AuthError(Refusal.SCOPE, f"Forbidden: the app lacks the '{self.recipe.scope}' scope")
        return app

    def _verify(self, token: str) -> tuple[App, dict[str, Any]]:
        if not _canonical(token):
            raise AuthError(Refusal.TOKEN, f"Invalid token: the '{self.recipe.header}' header is not a JWT in"
                                           " compact JWS form (three parts of unpadded base64url)")
        try:
            header = jwt.get_unverified_header(token)
            claims = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise AuthError(Refusal.TOKEN, f"Invalid token: the '{self.recipe.header}' header is not a JWT") from None
        problem = strict_json.unscalar(header) or strict_json.unscalar(claims)
        if problem:
            raise AuthError(Refusal.TOKEN, f"Invalid token: a claim is {problem}")
        claim = self.recipe.app_id_claim
        app_id = claims.get(claim)
        if not isinstance(app_id, str) or not app_id:
            raise AuthError(Refusal.CREDENTIALS, f"Invalid token: the '{claim}' claim is missing")
        app = self.apps.get(app_id)
        if app is None:
            raise AuthError(Refusal.CREDENTIALS, f"Invalid token: no app with this '{claim}'")
        if header.get("alg") not in app.algorithms:
            raise AuthError(Refusal.CREDENTIALS, f"Invalid token: algorithm {header.get('alg')!r} is not allowed")
        try:
            claims = jwt.decode(
                token, app.client_secret, algorithms=list(app.algorithms), options=_DECODE_OPTIONS
            )
        except jwt.InvalidSignatureError:
            raise AuthError(Refusal.CREDENTIALS, "Invalid token: bad signature") from None
        except jwt.PyJWTError:
            raise AuthError(Refusal.CREDENTIALS, "Invalid token") from None
        return app, claims

    def _remember(self, token: str, app: App, claims: dict[str, Any]) -> None:
        self._verified[token] = (app, claims)
        if len(self._verified) > VERIFIED_CACHE_SIZE:
            self._verified.popitem(last=False)


def _canonical(token: str) -> bool:
    """True for three parts, each the one unpadded base64url spelling of its bytes."""
    parts = token.split(".")
    if len(parts) != 3:
        return False
    for part in parts:
        if not _BASE64URL.fullmatch(part):
            return False
        try:
            if base64url_encode(base64url_decode(part)).decode() != part:
                return False
        except (binascii.Error, ValueError):
            return False
    return True


def _check_times(claims: Mapping[str, object], now: float, leeway: float) -> None:
    times: dict[str, float] = {}
    for name in ("exp", "nbf"):
        if name not in claims:
            continue
        value = claims[name]
        try:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(value)
            times[name] = float(value)  # OverflowError for absurd integers
            if not math.isfinite(times[name]):
                raise ValueError(value)
        except (ValueError, OverflowError):
            raise AuthError(Refusal.CREDENTIALS, f"Invalid token: the '{name}' claim is not a finite number") from None
    if "exp" in times and now > times["exp"] + leeway:
        raise AuthError(Refusal.CREDENTIALS, "Invalid token: expired")
    if "nbf" in times and now + leeway < times["nbf"]:
        raise AuthError(Refusal.CREDENTIALS, "Invalid token: not yet valid (nbf)")
