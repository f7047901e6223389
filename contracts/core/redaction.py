"""Secrets stay secret, and no output carries text that could act on its reader:
every text a run writes (terminal, JUnit, reports, the audit log) passes through a
`Redactor` first.

It knows every secret of the run and every token the run minted, and
replaces any fragment of 16 characters or more of any of them, wherever it
was cut (a deployment that echoes the `auth` header, truncated, still
leaks a token's header and payload), whatever characters the secret holds
(spaces, punctuation), plus every secret too short for that where it stands
as a word, plus anything shaped like a JWT. It also knows each secret as the
report formats escape it (HTML/XML entities, JSON string escapes, Markdown's
backslash escapes), so a secret is found in a text escaped before it was redacted.
The mark, `[redacted]`, is plain text in every format (no tag a parser would
swallow).

Then `clean` replaces what no output may hold (`UNSAFE`): C0 controls but tab
and newlines, DEL, C1 controls (U+009B is a terminal's CSI), bidirectional
overrides and isolates (U+202A-U+202E, U+2066-U+2069: text that reads other than
it is), and what XML 1.0 forbids (U+FFFE, U+FFFF, lone surrogates), each by U+FFFD,
so the place stays visible.
"""

from __future__ import annotations

import html
import json
import re
import threading

FRAGMENT = 16
MARK = "[redacted]"
#: Shown in place of a character no output may hold.
REPLACEMENT = "\ufffd"
#: Runs of the characters tokens are made of.
_TOKEN_CHARS = r"A-Za-z0-9_\-.=+/"
_RUN = re.compile(f"[{_TOKEN_CHARS}]{{{FRAGMENT},}}")
_JWT_LIKE = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
#: Characters no output may hold (see the module's docstring).
UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
                    "\ud800-\udfff\ufffe\uffff]")


#: The characters that act in Markdown inline text (emphasis, code, links, HTML, entities,
#: tables, strikethrough): `contracts.reporting.common.md_text` backslash-escapes them.
MD_SPECIAL = re.compile(r"([\\`*_\[\]<>&|~])")


def clean(text: str) -> str:
    """`text` with every character no output may hold replaced by U+FFFD."""
    return UNSAFE.sub(REPLACEMENT, text)


def escaped_forms(secret: str) -> set[str]:
    """`secret` as each report format may have escaped it before redaction: as it is or
    inside a JSON string (a response body), then as HTML/XML text or Markdown text."""
    forms: set[str] = set()
    for base in {secret, json.dumps(secret, ensure_ascii=False)[1:-1], json.dumps(secret)[1:-1]}:
        quoted = html.escape(base, quote=True)
        forms |= {base, quoted, quoted.replace("&#x27;", "&apos;"), html.escape(base, quote=False),
                  MD_SPECIAL.sub(r"\\\1", base), base.replace("|", "\\|")}
    return {form for form in forms if form}


class Redactor:
    """Owns every secret of a run (in every escaped form a report writes it) and every
    16-character window of every token it minted, and removes them, and anything shaped
    like a JWT, from any text a tool writes."""

    def __init__(self, secrets: list[str] | None = None):
        self._secrets = sorted({form for s in secrets or [] if s for form in escaped_forms(s)}, key=len, reverse=True)
        self._grams: set[str] = set()
        #: 16-character windows holding a character tokens are not made of (found anywhere, not in runs).
        self._wide: re.Pattern[str] | None = None
        self._wide_grams: set[str] = set()
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
        wide = {gram for gram in grams if _RUN.fullmatch(gram) is None}
        with self._lock:
            self._grams |= grams - wide
            if wide - self._wide_grams:
                self._wide_grams |= wide
                alternatives = sorted(re.escape(gram) for gram in self._wide_grams)
                self._wide = re.compile("(?=(" + "|".join(alternatives) + "))")

    def __call__(self, text: str) -> str:
        """`text` with secrets, token fragments and JWT-shaped strings replaced, and
        every character no output may hold replaced (`clean`)."""
        if self._wide is not None:
            text = _mask_matches(text, self._wide)
        if self._grams:
            text = _RUN.sub(lambda match: _mask_fragments(match.group(0), self._grams), text)
        if self._short is not None:
            text = self._short.sub(MARK, text)
        return clean(_JWT_LIKE.sub(MARK, text))


def _mask_matches(text: str, windows: re.Pattern[str]) -> str:
    """`text` with every stretch covered by a (possibly overlapping) match of `windows` masked."""
    covered = [False] * len(text)
    found = False
    for match in windows.finditer(text):
        found = True
        for i in range(match.start(), match.start() + len(match.group(1))):
            covered[i] = True
    return _masked(text, covered) if found else text


def _mask_fragments(run: str, known: set[str]) -> str:
    """`run` with every stretch of 16+ characters that occurs in a known token or secret masked."""
    covered = [False] * len(run)
    for start in range(len(run) - FRAGMENT + 1):
        if run[start:start + FRAGMENT] in known:
            for i in range(start, start + FRAGMENT):
                covered[i] = True
    return _masked(run, covered) if any(covered) else run


def _masked(text: str, covered: list[bool]) -> str:
    """`text` with each covered stretch replaced by one `MARK`."""
    out, i = [], 0
    while i < len(text):
        if covered[i]:
            while i < len(text) and covered[i]:
                i += 1
            out.append(MARK)
        else:
            out.append(text[i])
            i += 1
    return "".join(out)
