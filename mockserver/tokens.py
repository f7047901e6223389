"""Making tokens the vendor's way (HS256, the app's client secret, `appId`)."""

from __future__ import annotations

import time
import uuid

import jwt

from mockserver.fixtures import App


def make_token(
    app: App,
    *,
    expires_in: float | None = 3600,
    jti: bool = True,
    now: float | None = None,
    subject: str = "mockserver",
) -> str:
    """A JWT for `app`. A negative `expires_in` makes an already expired token."""
    issued = int(time.time() if now is None else now)
    claims: dict[str, object] = {"sub": subject, "appId": app.client_id, "iat": issued}
    if expires_in is not None:
        claims["exp"] = issued + int(expires_in)
    if jti:
        claims["jti"] = str(uuid.uuid4())
    return jwt.encode(claims, app.client_secret, algorithm="HS256")
