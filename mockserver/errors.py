"""The exceptions of the `mockserver` package.

    MockserverError          the root
    ├── SettingsError        a setting has a wrong type or value (exit 2)
    ├── FixturesError        a fixtures file or document is unreadable or invalid;
    │                        `problems` lists every error with its location (exit 2)
    ├── StartupError         the server cannot start: a port in use, settings that
    │                        cannot work together, an unusable state file (exit 2)
    ├── ControlError         `MockServer`/`MockApp`: the control API refused a call;
    │                        carries the server's status and message
    └── AuthError            a request's token is refused (answered 401 or 403,
                             never raised out of the server)

A contract that cannot be served raises `contracts.core.errors.SpecError`, the
shared core's exception. The CLI maps all of them to one-line errors.
"""

from __future__ import annotations


class MockserverError(Exception):
    """Root of the package's exceptions."""


class SettingsError(MockserverError, ValueError):
    """A setting has a value of the wrong type or outside its choices."""


class FixturesError(MockserverError):
    """A fixtures file is unreadable or invalid; `problems` holds one line per error."""

    def __init__(self, source: str, problems: list[str]):
        self.source, self.problems = source, problems
        super().__init__(f"{source}: " + "; ".join(problems))


class StartupError(MockserverError):
    """The server cannot start: a bad setting, port or state file."""


class ControlError(MockserverError):
    """The control API answered a `MockServer` call with an error."""

    def __init__(self, method: str, path: str, status: int, message: str):
        self.method, self.path, self.status, self.message = method, path, status, message
        super().__init__(f"{method} {path}: HTTP {status}: {message}")


class AuthError(MockserverError):
    """A refused token: the status (401 or 403) and the message of the error body."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message
