"""Tokens for fixture apps, made with the vendor's recipe (`contracts.tokens`)."""

from __future__ import annotations

from contracts.tokens import make_token as _make_token
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
    return _make_token(
        app.client_id, app.client_secret, expires_in=expires_in, jti=jti, now=now, subject=subject
    )
