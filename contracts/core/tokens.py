"""The vendor's token recipe (`TokenRecipe`, from the contract's `JwtAuth`
scheme): a JWT signed with the app's client secret, naming the app in its
app-id claim, with a `sub`, and optionally `jti`, `exp` and `nbf`.

PyJWT does the JWT work; this module only knows the recipe.
"""

from __future__ import annotations

import time
import uuid
import warnings
from typing import Any

import jwt

from contracts.core.vocabulary import TokenRecipe


def mint(
    recipe: TokenRecipe,
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
    claims: dict[str, Any] = {"sub": subject, recipe.app_id_claim: client_id, "iat": issued}
    if expires_in is not None:
        claims["exp"] = issued + int(expires_in)
    if jti:
        claims["jti"] = str(uuid.uuid4())
    return sign(recipe, claims, client_secret)


def sign(recipe: TokenRecipe, claims: dict[str, Any], secret: str, algorithm: str | None = None) -> str:
    """Sign `claims` with `secret` (the recipe's algorithm unless another is asked
    for). Short secrets are the vendor's business: PyJWT's key-length warning is
    not shown to users, whose secrets the vendor issued."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return jwt.encode(claims, secret, algorithm=algorithm or recipe.algorithm)


def claimed_app_id(recipe: TokenRecipe, token: str | None, *, limit: int = 64) -> str | None:
    """The app id a (possibly invalid) token claims, unverified; never the token."""
    if not token:
        return None
    try:
        claimed = jwt.decode(token, options={"verify_signature": False}).get(recipe.app_id_claim)
    except jwt.PyJWTError:
        return None
    return claimed if isinstance(claimed, str) and len(claimed) <= limit else None
