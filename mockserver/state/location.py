"""A state location: a `postgresql://` URL or a SQLite path, and how to print
one without its password.

A PostgreSQL URL can carry a password in its user part (`user:pw@host`) or
as a parameter (`?password=pw`, also `sslpassword`); both are hidden, and so
is everything that could be one when the URL does not parse."""

from __future__ import annotations

import re
from enum import StrEnum
from urllib.parse import unquote, urlsplit, urlunsplit

POSTGRES_SCHEMES = ("postgresql://", "postgres://")
HIDDEN = "***"
#: Query parameters of a libpq URL that hold a secret.
SECRET_PARAMETERS = frozenset({"password", "sslpassword"})
_USERINFO = re.compile(r"(?<=://)([^@/?#]*?):[^/?#]*@")
_SECRET_PARAMETER = re.compile(r"(?i)(\b(?:ssl)?password=)[^&#\s]*")


class Backend(StrEnum):
    """The state backends; each member is the name the health check shows."""

    SQLITE = "sqlite"
    POSTGRESQL = "postgresql"


def redact(location: str) -> str:
    """A state location fit to print: its passwords replaced by `***`."""
    if not location.startswith(POSTGRES_SCHEMES):
        return location
    try:
        parts = urlsplit(location)
        if parts.password:
            netloc = f"{parts.username or ''}:{HIDDEN}@{parts.netloc.rsplit('@', 1)[1]}"
            location = urlunsplit(parts._replace(netloc=netloc))
    except ValueError:  # not a URL urllib can read: hide whatever looks like a password
        location = _USERINFO.sub(rf"\g<1>:{HIDDEN}@", location)
    return _SECRET_PARAMETER.sub(rf"\g<1>{HIDDEN}", location)


def secrets_of(location: str) -> list[str]:
    """The passwords a state location holds, as written and decoded (to scrub from messages
    that quote the location, such as a driver's error)."""
    if not location.startswith(POSTGRES_SCHEMES):
        return []
    found = [m.group(0)[len(m.group(1)) + 1:-1] for m in _USERINFO.finditer(location)]
    found += [m.group(0)[len(m.group(1)):] for m in _SECRET_PARAMETER.finditer(location)]
    return sorted({value for raw in found if raw for value in (raw, unquote(raw))}, key=len, reverse=True)


def scrub(text: str, location: str) -> str:
    """`text` with every password of `location` in it replaced by `***`."""
    for secret in secrets_of(location):
        text = text.replace(secret, HIDDEN)
    return text
