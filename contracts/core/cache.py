"""A small on-disk cache of work that depends only on a document's bytes:
the parsed contract (JSON), and the fact that a document passed a
validation. It lets a start with the cache skip the YAML parser and the
OpenAPI meta-schema checks.

Entries are named by the SHA-256 of what they depend on (the document's
text, or its canonical JSON) and a `kind` that says which work was done, so
a changed document is simply a new entry. Only successful work is kept: a
document that fails validation is checked (and refused) every time.

Where: `$KORE_ERASE_CACHE_DIR` if set (an empty value turns the cache off),
else `$XDG_CACHE_HOME/kore-erase-contract`, else
`~/.cache/kore-erase-contract`. Every error of the file system (a read-only
or missing home, a full disk, a half-written entry) means "not cached": the
work is done as without a cache. Entries are written to a temporary file and
renamed into place, so readers never see half an entry.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

CACHE_ENV_VAR = "KORE_ERASE_CACHE_DIR"
#: Part of every key: bump it when what an entry means changes.
FORMAT = "1"


def hypothesis_home() -> Path:
    """Where Hypothesis keeps what it writes (its constants and examples) during a
    `contracts` command: the cache's `hypothesis/` folder, or a temporary folder
    (removed at exit) when the cache is off; never `.hypothesis/` in the current directory."""
    base = cache_dir()
    if base is not None:
        return base / "hypothesis"
    import atexit
    import shutil

    folder = Path(tempfile.mkdtemp(prefix="kore-erase-hypothesis-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def cache_dir() -> Path | None:
    configured = os.environ.get(CACHE_ENV_VAR)
    if configured is not None:
        return Path(configured) if configured else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "kore-erase-contract"


def key_of(data: bytes | str) -> str:
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    return hashlib.sha256(FORMAT.encode() + b"\0" + raw).hexdigest()


def canonical(document: Any) -> str:
    """The JSON text that keys a parsed document (its keys sorted)."""
    return json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _entry(kind: str, key: str) -> Path | None:
    directory = cache_dir()
    return None if directory is None else directory / f"{kind}-{key}"


def seen(kind: str, key: str) -> bool:
    """Whether work of `kind` on the document keyed `key` succeeded before."""
    entry = _entry(kind, key)
    try:
        return entry is not None and entry.is_file()
    except OSError:
        return False


def remember(kind: str, key: str, content: str = "") -> None:
    """Note that work of `kind` on `key` succeeded (with its result as `content`)."""
    entry = _entry(kind, key)
    if entry is None:
        return
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=entry.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(content)
            os.replace(temporary, entry)
        except BaseException:
            os.unlink(temporary)
            raise
    except (OSError, UnicodeError):
        pass


def read_json(kind: str, key: str) -> Any | None:
    """The JSON result of work of `kind` on `key`, or None (not cached, or unreadable)."""
    entry = _entry(kind, key)
    if entry is None:
        return None
    try:
        return json.loads(entry.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
