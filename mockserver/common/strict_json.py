"""Strict JSON: the only JSON text the mock accepts, in request bodies and in
token claims.

Python's `json` module is lenient where the standard (RFC 8259) and the
contract's JSON Schema validation are not: it reads `NaN` and `Infinity`,
turns `1e400` into infinity, and decodes an escaped lone surrogate
(`"\\ud800"`) into a `str` that no UTF-8 encoder, SQLite included, can write
back. Each of those would reach the mock's state and answer 500.
`loads()` refuses them, and JSON nested deeper than any document the mock
serves, with `JsonTextError`; `unscalar()` finds such text in data that was
decoded elsewhere (PyJWT decodes token claims itself).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from mockserver.errors import InvalidJson

#: Deeper than any body the contract or the control API accepts (a fixtures
#: document is 5 levels deep): deeper JSON is refused before any validator
#: recurses into it.
MAX_DEPTH = 32
_SURROGATE = re.compile("[\ud800-\udfff]")


JsonTextError = InvalidJson  # the name this module's callers use


def _no_constant(name: str) -> Any:
    raise JsonTextError(f"not valid JSON: {name} is not a number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise JsonTextError(f"not valid JSON: the number {text[:40]} is out of range")
    return value


def loads(text: str) -> Any:
    """Parse `text` as strict JSON. Raises `JsonTextError`."""
    try:
        value = json.loads(text, parse_constant=_no_constant, parse_float=_finite)
    except RecursionError:
        raise JsonTextError("nested too deeply") from None
    except JsonTextError:
        raise
    except ValueError as exc:
        raise JsonTextError(f"not valid JSON: {exc}") from None
    # Cheap tests first: only an escape can make a lone surrogate (UTF-8 cannot
    # encode one), and JSON cannot be deeper than its count of brackets.
    check_depth = text.count("[") + text.count("{") > MAX_DEPTH
    if check_depth or "\\u" in text:
        problem = unscalar(value, max_depth=MAX_DEPTH if check_depth else None)
        if problem:
            raise JsonTextError(problem)
    return value


def unscalar(value: Any, *, max_depth: int | None = MAX_DEPTH) -> str | None:
    """Why decoded JSON `value` is not acceptable, if it is not (a phrase that
    follows "is"): a string
    or key that is not Unicode scalar values (a lone surrogate), or nesting
    deeper than `max_depth`."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, str):
            if _SURROGATE.search(node):
                return "not valid Unicode: it holds a lone surrogate"
            continue
        if not isinstance(node, dict | list):
            continue
        if max_depth is not None and depth >= max_depth:
            return "nested too deeply"
        if isinstance(node, dict):
            stack.extend((key, depth) for key in node)
            stack.extend((child, depth + 1) for child in node.values())
        else:
            stack.extend((child, depth + 1) for child in node)
    return None
