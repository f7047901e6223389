"""The contract's regular expressions read as ECMA-262 reads them.

`pattern`: OpenAPI and JSON Schema patterns are ECMA-262 regular
expressions, and jsonschema runs them with Python's `re.search`, where `$`
also matches before a final newline and `\\d`, `\\w` match non-ASCII digits
and letters. So `"a\\n"` passed the contract's UserId pattern
`^[^\\u0000-\\u001f\\u007f]+$` here (issue 10). `ecma()` translates a pattern
to Python with ECMA-262's meaning of `$`, `\\d` and `\\w`; a pattern anchored
at both ends (all of the contract's are) then matches whole strings only, as
`IdFormat.matches` (a fullmatch) does. Every validator the mock builds, for
parameters, bodies and fixtures, uses it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from jsonschema import ValidationError
from jsonschema.protocols import Validator
from jsonschema.validators import extend

#: ECMA-262's character classes, outside and inside a bracket expression.
_CLASSES = {"d": ("[0-9]", "0-9"), "w": ("[A-Za-z0-9_]", "A-Za-z0-9_"), "D": ("[^0-9]", None),
            "W": ("[^A-Za-z0-9_]", None)}


@lru_cache(maxsize=256)
def ecma(pattern: str) -> re.Pattern[str]:
    """`pattern` compiled for Python with ECMA-262's `$` (the end of the input
    only) and ASCII `\\d`, `\\w`, `\\D`, `\\W`."""
    out: list[str] = []
    in_class, index = False, 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            escaped = pattern[index + 1]
            outside, inside = _CLASSES.get(escaped, (None, None))
            replacement = inside if in_class else outside
            out.append(replacement or pattern[index:index + 2])
            index += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
            if pattern.startswith("]", index + 1) or pattern.startswith("^]", index + 1):  # a literal ] first
                close = pattern.index("]", index + 1) + 1
                out.append(pattern[index:close])
                index = close
                continue
        elif char == "$":
            char = r"\Z"
        out.append(char)
        index += 1
    return re.compile("".join(out))


def _pattern(validator: Validator, pattern: str, instance: Any, schema: dict[str, Any]) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and not ecma(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def with_ecma_patterns(validator_class: Any) -> Any:
    """A jsonschema validator class like `validator_class`, its `pattern` read as ECMA-262."""
    return extend(validator_class, {"pattern": _pattern})
