"""The exceptions of the `mockserver` package.

    MockserverError          the root
    ├── SettingsError        a setting has a wrong type or value (exit 2)
    ├── FixturesError        a fixtures file or document is unreadable or invalid;
    │                        `problems` lists every error with its location (exit 2)
    ├── StartupError         the server cannot start: a port in use, settings that
    │                        cannot work together, an unusable state file (exit 2)
    ├── ControlError         `MockServer`/`MockApp`: the control API refused a call;
    │                        carries the server's status and message
    ├── StateUnavailable     the shared state (a PostgreSQL database) cannot be
    │                        reached: the server answers 503 with Retry-After
    └── Refused              a request the mock answers with a 4xx and the error body
        │                    (never raised out of the server): `status` and `message`
        ├── AuthError        the token or its app's scope: one of the platform's
        │                    answers (`refusal`), with the `detail` of why
        ├── InvalidJson      a body that is not strict JSON (also a ValueError): 400
        └── BodyTooLarge     a body over its limit: 413

A contract that cannot be served raises `contracts.core.errors.SpecError`, the
shared core's exception. The CLI maps all of them to one-line errors.
"""

from __future__ import annotations

from contracts.core.platform import Refusal


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


class StateUnavailable(MockserverError):
    """The state backend cannot be reached now; the request may be retried."""


class Refused(MockserverError):
    """A request the mock answers with `status` and the error body saying `message`."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


class AuthError(Refused):
    """A refused token, or an app without the scope: `refusal` names the platform's
    answer (`contracts.core.platform.Refusal`, its status and message come from the
    contract); `detail` says what exactly was wrong, for the mock's users."""

    def __init__(self, refusal: Refusal, detail: str):
        super().__init__(0, detail)
        self.refusal, self.detail = refusal, detail


class InvalidJson(Refused, ValueError):
    """JSON text the mock refuses; the message says why, as a phrase that follows
    "is" (`f"Request body is {exc}"`)."""

    def __init__(self, message: str):
        super().__init__(400, message)


class BodyTooLarge(Refused):
    """A body over its limit."""

    def __init__(self, limit: int):
        super().__init__(413, f"Request body exceeds {limit} bytes")
