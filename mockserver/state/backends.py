"""Which backend a state location names, opened: a `postgresql://` URL
(`mockserver.state.postgres`), a SQLite file or `:memory:`
(`mockserver.state.sqlite`); and the location made fit to print."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mockserver.state.location import POSTGRES_SCHEMES

if TYPE_CHECKING:
    from mockserver.state.store import Store


def open_store(location: str) -> Store:
    """The store at `location`: a `postgresql://` URL, a SQLite file, or `:memory:`.
    Raises `StartupError` when it cannot be opened, with what to do."""
    if location.startswith(POSTGRES_SCHEMES):
        from mockserver.state.postgres import PostgresStore

        return PostgresStore(location)
    from mockserver.state.sqlite import SqliteStore

    return SqliteStore(location)
