"""What the journal and the logs may hold: no credential, wherever a client put it.

The policy, applied to every path, query string and header value the mock
keeps or logs:
- a compact JWS (three base64url parts, the first one a JSON object: a JWT
  however its header is spaced, `eyJ...` or `eyAi...`) becomes `<token>`;
- the value of a query parameter named like a credential (`token`, `auth`,
  `secret`, `password`, ...) becomes `<secret>`, also inside a URL carried
  by a header such as `Referer`;
- any secret the mock knows (the admin token, the fixture apps' client
  secrets) becomes `<secret>`, whatever surrounds it.

The credential headers themselves (the contract's `auth` header,
`Authorization`, `Cookie`, the admin token header) are never kept at all
(`mockserver.state.journal`).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable

TOKEN_SHOWN_AS = "<token>"
SECRET_SHOWN_AS = "<secret>"
#: Query parameter names whose values are credentials.
CREDENTIAL_PARAMETERS = ("token", "access_token", "id_token", "admin_token", "auth", "jwt", "secret",
                         "client_secret", "password", "api_key", "apikey", "key")
_PARAMETER = re.compile(r"(?i)((?:^|[?&;])(?:" + "|".join(CREDENTIAL_PARAMETERS) + r")=)[^&#;\s]*")
#: A compact JWS whose header is a JSON object: its base64url text starts with `e` (from `{`)
#: and one of `w`-`z`, `0`-`9`, `-`, `_` (whatever follows the brace), which lets the regex
#: engine skip ahead to each `e`; possessive runs, no backtracking. The journal scrubs every
#: path, header and body with it, so it is on the mock's hot path.
_COMPACT = re.compile(r"e[w-z0-9_-][A-Za-z0-9_-]{6,}+\.[A-Za-z0-9_-]{4,}+\.[A-Za-z0-9_-]*+")
#: Shortest secret replaced inside other text: shorter ones would hit ordinary words.
MIN_SECRET = 6


def _is_jws(candidate: str) -> bool:
    header = candidate.split(".", 1)[0]
    try:
        decoded = base64.urlsafe_b64decode(header + "=" * (-len(header) % 4))
    except (binascii.Error, ValueError):
        return False
    return decoded.lstrip()[:1] == b"{"


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with every credential the policy names replaced."""
    if not text:
        return text
    for secret in secrets:
        if len(secret) >= MIN_SECRET and secret in text:
            text = text.replace(secret, SECRET_SHOWN_AS)
    if "=" in text:
        text = _PARAMETER.sub(rf"\g<1>{SECRET_SHOWN_AS}", text)
    if "." in text:
        text = _COMPACT.sub(lambda m: TOKEN_SHOWN_AS if _is_jws(m.group()) else m.group(), text)
    return text
