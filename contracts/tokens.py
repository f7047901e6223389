"""The vendor's token recipe: HS256, signed with the app's client secret,
`appId` naming the app, `sub`, and an optional `jti`."""

from __future__ import annotations

import time
import uuid

import jwt


def make_token(
    client_id: str,
    client_secret: str,
    *,
    expires_in: float | None = 3600,
    jti: bool = True,
    now: float | None = None,
    subject: str = "kore-erase-contract",
) -> str:
    """A JWT for the app `client_id`. A negative `expires_in` makes an expired token."""
    issued = int(time.time() if now is None else now)
    claims: dict[str, object] = {"sub": subject, "appId": client_id, "iat": issued}
    if expires_in is not None:
        claims["exp"] = issued + int(expires_in)
    if jti:
        claims["jti"] = str(uuid.uuid4())
    return jwt.encode(claims, client_secret, algorithm="HS256")


def redact(text: str, secrets: list[str]) -> str:
    """`text` with every secret (and every token) replaced by a marker."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, "<redacted>")
    return text
