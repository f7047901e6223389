"""A state location: a `postgresql://` URL or a SQLite path, and how to print
one without its password."""

from __future__ import annotations

from enum import StrEnum
from urllib.parse import urlsplit, urlunsplit

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


class Backend(StrEnum):
    """The state backends; each member is the name the health check shows."""

    SQLITE = "sqlite"
    POSTGRESQL = "postgresql"


def redact(location: str) -> str:
    """A state location fit to print: a URL's password replaced by `***`."""
    if not location.startswith(POSTGRES_SCHEMES):
        return location
    parts = urlsplit(location)
    if not parts.password:
        return location
    user = f"{parts.username}:***@" if parts.username else ":***@"
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=user + host))
