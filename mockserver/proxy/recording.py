"""`--record FILE`: every exchange the proxy saw, appended as it completes, one
JSON document a line (the format `contracts verify` reads beside HAR 1.2).

A line holds the exchange as redacted for the journal (credential header
values replaced by `<redacted>`, so that a reader still sees they were
sent; token fragments and JWT-shaped text masked everywhere), its timings,
the contract's digest (the SHA-256 `contracts.core.spec.Spec.digest` of the
contract that judged it) and the violations found. Bodies are text when
they are UTF-8, else base64 (`bodyBase64`).
"""

from __future__ import annotations

import base64
import json
import threading
from pathlib import Path
from typing import IO, Any

from contracts.core.conformance import RECORDING_FORMAT as FORMAT
from mockserver.errors import StartupError


def body_fields(body: bytes | None) -> dict[str, Any]:
    """A body for a recording line: `body` as text, or `bodyBase64`."""
    if not body:
        return {"body": None}
    try:
        return {"body": body.decode("utf-8")}
    except UnicodeDecodeError:
        return {"bodyBase64": base64.b64encode(body).decode("ascii")}


class Recorder:
    """The open recording file: lines appended and flushed one exchange at a time."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file: IO[str] | None = self.path.open("a", encoding="utf-8")
        except OSError as exc:
            raise StartupError(f"--record {path}: cannot write: {exc.strerror or exc}") from None

    def append(self, line: dict[str, Any]) -> None:
        text = json.dumps({"format": FORMAT, **line}, ensure_ascii=False) + "\n"
        with self._lock:
            if self._file is not None:
                self._file.write(text)
                self._file.flush()

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None
