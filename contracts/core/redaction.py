"""Secrets stay secret: every text a run writes (terminal, JUnit, reports, the
audit log) passes through a `Redactor` first.

It knows every secret of the run and every token the run minted, and
replaces any fragment of 16 characters or more of any of them, wherever it
was cut (a deployment that echoes the `auth` header, truncated, still
leaks a token's header and payload), plus every secret too short for that
where it stands as a word, plus anything shaped like a JWT.
"""

from __future__ import annotations

import re
import threading

FRAGMENT = 16
MARK = "<redacted>"
#: Runs of the characters tokens and secrets are made of.
_TOKEN_CHARS = r"A-Za-z0-9_\-.=+/"
_RUN = re.compile(f"[{_TOKEN_CHARS}]{{{FRAGMENT},}}")
_JWT_LIKE = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class Redactor:
    def __init__(self, secrets: list[str] | None = None):
        self._secrets = sorted({s for s in secrets or [] if s}, key=len, reverse=True)
        self._grams: set[str] = set()
        self._lock = threading.Lock()
        for secret in self._secrets:
            self.remember(secret)
        # Secrets too short to have a 16-character fragment are replaced where they
        # stand as a whole word, so that a one-letter secret does not mangle every text.
        short = [re.escape(s) for s in self._secrets if len(s) < FRAGMENT]
        self._short = re.compile(f"(?<![{_TOKEN_CHARS}])(?:{'|'.join(short)})(?![{_TOKEN_CHARS}])") \
            if short else None

    def remember(self, token: str) -> None:
        """A token the run minted (or any value that must not be shown): each of
        its 16-character windows is kept, so that any cut of it is recognised."""
        grams = {token[i:i + FRAGMENT] for i in range(len(token) - FRAGMENT + 1)}
        with self._lock:
            self._grams |= grams

    def __call__(self, text: str) -> str:
        """`text` with secrets, token fragments and JWT-shaped strings replaced, and
        control characters (from response bodies) dropped so XML stays well-formed."""
        if self._grams:
            text = _RUN.sub(lambda match: _mask_fragments(match.group(0), self._grams), text)
        if self._short is not None:
            text = self._short.sub(MARK, text)
        return _CONTROL.sub("", _JWT_LIKE.sub(MARK, text))


def _mask_fragments(run: str, known: set[str]) -> str:
    """`run` with every stretch of 16+ characters that occurs in a known token or secret masked."""
    covered = [False] * len(run)
    for start in range(len(run) - FRAGMENT + 1):
        if run[start:start + FRAGMENT] in known:
            for i in range(start, start + FRAGMENT):
                covered[i] = True
    if not any(covered):
        return run
    out, i = [], 0
    while i < len(run):
        if covered[i]:
            while i < len(run) and covered[i]:
                i += 1
            out.append(MARK)
        else:
            out.append(run[i])
            i += 1
    return "".join(out)
