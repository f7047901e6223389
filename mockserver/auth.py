"""Where tokens are verified: the vendor's JWT rules for the `auth` header.

`authenticate()` returns the calling `App` or raises `AuthError` with the
status (401 or 403) and a message for the error body. PyJWT does the JWT
work; the rules here are only the vendor's: which app, which algorithm,
which scope, JTI enforcement.
"""

from __future__ import annotations

from typing import Callable, Mapping

import jwt

from mockserver.fixtures import ADMIN_CONSOLE, ERASE_SCOPE, App


class AuthError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def authenticate(
    token: str | None,
    apps: Mapping[str, App],
    *,
    now: float,
    leeway: float,
    use_jti: Callable[[App, str], bool],
) -> App:
    """Verify a raw JWT from the `auth` header and return the app it speaks for.

    `use_jti(app, jti)` records a JTI and returns False for a replay.
    """
    if not token or not token.strip():
        raise AuthError(401, "Missing token: send the JWT in the 'auth' header")
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise AuthError(401, "Invalid token: the 'auth' header is not a JWT") from None
    app_id = claims.get("appId")
    if not isinstance(app_id, str) or not app_id:
        raise AuthError(401, "Invalid token: the 'appId' claim is missing")
    app = apps.get(app_id)
    if app is None:
        raise AuthError(401, "Invalid token: no app with this 'appId'")
    if header.get("alg") not in app.algorithms:
        raise AuthError(401, f"Invalid token: algorithm {header.get('alg')!r} is not allowed")
    try:
        claims = jwt.decode(
            token,
            app.client_secret,
            algorithms=list(app.algorithms),
            # exp and nbf are checked below against the server's clock, which a
            # test may drive by hand; PyJWT would read the wall clock.
            options={"verify_aud": False, "verify_iat": False, "verify_exp": False, "verify_nbf": False},
        )
    except jwt.InvalidSignatureError:
        raise AuthError(401, "Invalid token: bad signature") from None
    except jwt.PyJWTError:
        raise AuthError(401, "Invalid token") from None
    _check_times(claims, now, leeway)
    if app.enforce_jti:
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti:
            raise AuthError(401, "Invalid token: this app enforces JTI and the 'jti' claim is missing")
        if not use_jti(app, jti):
            raise AuthError(401, "Invalid token: this 'jti' was already used")
    if app.kind != ADMIN_CONSOLE:
        raise AuthError(403, "Forbidden: only apps of the Bot Admin Console may call this API")
    if ERASE_SCOPE not in app.scopes:
        raise AuthError(403, f"Forbidden: the app lacks the '{ERASE_SCOPE}' scope")
    return app


def _check_times(claims: Mapping[str, object], now: float, leeway: float) -> None:
    """exp/nbf against the server's clock (manual in tests), not only the wall clock."""
    for name in ("exp", "nbf"):
        value = claims.get(name)
        if name in claims and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise AuthError(401, f"Invalid token: the '{name}' claim is not a number")
    exp, nbf = claims.get("exp"), claims.get("nbf")
    if exp is not None and now > exp + leeway:  # type: ignore[operator]
        raise AuthError(401, "Invalid token: expired")
    if nbf is not None and now + leeway < nbf:  # type: ignore[operator]
        raise AuthError(401, "Invalid token: not yet valid (nbf)")


def redact(token: str | None) -> str:
    """A token as it may appear in logs: its first characters only."""
    if not token:
        return "<none>"
    return token[:8] + "…(redacted)"
