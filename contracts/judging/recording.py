"""Recordings `contracts verify` reads: the JSON lines of `mockserver proxy
--record`, and HAR 1.2 (what browsers' developer tools and many HTTP tools
export: `log.entries[]` with `request` and `response`).

Each exchange comes back as a `contracts.core.conformance.Exchange` with a
label saying where it is in the file (`line 7`, `entry 3`), so that a
violation names the exchange it came from. A file that is neither, or holds
no exchange, raises `RecordingError` (exit 2).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from contracts.core.conformance import RECORDING_FORMAT, Exchange
from contracts.core.errors import ContractsError


class RecordingError(ContractsError):
    """A recording that cannot be read: not the proxy's format nor HAR 1.2, or empty."""


@dataclass(frozen=True)
class Recorded:
    """One exchange of a recording, and where it is in the file."""

    label: str
    exchange: Exchange
    time: str | None = None
    duration_ms: float | None = None
    contract_digest: str | None = None  # the contract the proxy judged it with


def read_recording(path: str | Path) -> tuple[str, list[Recorded]]:
    """The format's name and the exchanges of the file at `path`. Raises `RecordingError`."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RecordingError(f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    stripped = text.lstrip()
    try:
        if stripped.startswith("{") and '"log"' in stripped[:4096]:
            found = "HAR", _har(json.loads(text), path)
        else:
            found = "proxy recording", _lines(text, path)
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error) as exc:
        raise RecordingError(f"{path}: not a recording of mockserver proxy nor HAR 1.2 ({_one_line(exc)})") from None
    if not found[1]:
        raise RecordingError(f"{path}: holds no exchange (did the traffic go through the proxy?)")
    return found


def _lines(text: str, path: str | Path) -> list[Recorded]:
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except ValueError:
            raise RecordingError(f"{path}: line {number} is not JSON") from None
        if not isinstance(data, dict) or data.get("format") != RECORDING_FORMAT:
            raise RecordingError(f"{path}: line {number} is not a {RECORDING_FORMAT} line")
        request, response = data["request"], data.get("response") or {}
        out.append(Recorded(
            f"line {number}",
            Exchange(request["method"], request["path"], request.get("query") or "", _pairs(request["headers"]),
                     _body(request), response.get("status"), _pairs(response.get("headers") or []),
                     _body(response)),
            data.get("time"), data.get("durationMs"), data.get("contractDigest"),
        ))
    return out


def _pairs(headers: list[Any]) -> tuple[tuple[str, str], ...]:
    return tuple((str(name), str(value)) for name, value in headers)


def _body(part: dict[str, Any]) -> bytes:
    if part.get("bodyBase64"):
        return base64.b64decode(part["bodyBase64"], validate=True)
    return (part.get("body") or "").encode("utf-8")


def _har(document: Any, path: str | Path) -> list[Recorded]:
    log = document["log"]
    if not isinstance(log, dict) or not isinstance(log.get("entries"), list):
        raise RecordingError(f"{path}: a HAR file needs log.entries")
    return [_har_entry(index, entry) for index, entry in enumerate(log["entries"], 1)]


def _har_entry(index: int, entry: dict[str, Any]) -> Recorded:
    request, response = entry["request"], entry.get("response") or {}
    url = urlsplit(request["url"])
    post = request.get("postData") or {}
    content = response.get("content") or {}
    answer = content.get("text") or ""
    body = base64.b64decode(answer) if content.get("encoding") == "base64" else answer.encode("utf-8")
    status = int(response.get("status") or 0) or None  # 0: the browser got no answer
    return Recorded(
        f"entry {index}",
        Exchange(request["method"].upper(), url.path or "/", url.query, _har_headers(request.get("headers")),
                 (post.get("text") or "").encode("utf-8"), status, _har_headers(response.get("headers")), body),
        entry.get("startedDateTime"), entry.get("time"),
    )


def _har_headers(headers: Any) -> tuple[tuple[str, str], ...]:
    """HAR's `[{name, value}]`, without HTTP/2 pseudo-headers (`:authority`, ...)."""
    return tuple((str(h["name"]), str(h["value"])) for h in headers or () if not str(h["name"]).startswith(":"))


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__
