"""A progress display on a terminal while a run sends its calls (rich, which
schemathesis brings); nothing when the output is not a TTY."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def progress_bar(*, enabled: bool) -> Iterator[Callable[[Any], None] | None]:
    """Yields a callback to call once per sent call (None when disabled)."""
    if not enabled:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("[bold]{task.description:<12}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("contracts", total=None)

        def advance(call: Any) -> None:
            progress.update(task, advance=1, description=call.suite)

        yield advance
