"""The files a run writes, and what it refuses to write through.

- `--report`, `--junit-xml` and `--plan-out` are written without following a
  symlink at their path (`O_NOFOLLOW`): a link planted where a report goes would
  otherwise let the run overwrite whatever it points to. `--force` writes through it.
- The audit log (`--audit-log`, or `contracts-audit.jsonl` against a remote target)
  is only ever appended to, never through a symlink (not even with `--force`: it is
  the record of what was erased), and a new one is created readable by its owner
  only (0600: it names the users whose data was erased).

Each is checked before anything is sent (`check_paths`) and again when written.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from contracts.core.errors import ConfigError

AUDIT_LOG_MODE = 0o600
OUTPUT_MODE = 0o644


def check_paths(outputs: dict[str, Path | None], audit_log: Path | None, *, force: bool) -> None:
    """Refuse (`ConfigError`) an output path that is a symlink (unless `force`) and an
    audit log that is one; `outputs` maps an option's flag to its path."""
    if not force:
        for flag, path in outputs.items():
            if path is not None and path.is_symlink():
                raise ConfigError(f"{flag} {path} is a symlink: refusing to write through it (--force does)")
    if audit_log is not None and audit_log.is_symlink():
        raise ConfigError(f"--audit-log {audit_log} is a symlink: refusing to append to the audit log through it")


def write_output(path: Path, text: str, *, force: bool, flag: str) -> None:
    """Write `text` to `path` (replacing it), not through a symlink unless `force`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | (0 if force else os.O_NOFOLLOW)
    with os.fdopen(_open(path, flags, OUTPUT_MODE, f"{flag} {path} is a symlink: refusing to write through it"
                                                    " (--force does)"), "w", encoding="utf-8") as out:
        out.write(text)


def append_audit(path: Path, line: str) -> None:
    """Append `line` to the audit log at `path`: never through a symlink; a new log is 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW
    with os.fdopen(_open(path, flags, AUDIT_LOG_MODE, f"--audit-log {path} is a symlink: refusing to append"
                                                      " to the audit log through it"), "a", encoding="utf-8") as log:
        log.write(line)


def _open(path: Path, flags: int, mode: int, symlink_problem: str) -> int:
    try:
        return os.open(path, flags, mode)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ConfigError(symlink_problem) from None
        raise ConfigError(f"{path}: cannot write: {exc.strerror or exc}") from None
