"""Comparing two deployments' answers to the same call, after normalising
what is expected to differ (ids, timestamps, messages), and naming the
contract decision each difference touches.

`shape(value, schema)` keeps what the contract fixes (keys, types, enum
values, error codes, the values the caller sent back) and abstracts the
rest: a request id becomes its form (`<request id>` when it matches the
contract's format, else a description like `eud- + 24 hex characters`),
a timestamp its format, a free text `<string>`.

`Difference.decision` is the row of `docs/spec-notes.md` the difference
touches (or "documented by the vendor"), and `Difference.fix` where the
fix belongs: the contract, the mock's fixtures or behaviour, or a vendor
bug to report.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any

from contracts.core.platform import Refusal
from contracts.core.vocabulary import CREATE, STATUS, Vocabulary
from contracts.judging.checks import Observation
from contracts.planning.model import PlannedCall

#: The timestamps the contract promises: ISO-8601 UTC with milliseconds and Z.
ISO_MS_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
HEADERS = ("content-type", "retry-after", "allow")

#: The row of docs/spec-notes.md each kind of difference touches.
ROWS = {
    "create method": 2, "status method": 3, "timestamps": 5, "create status": 7, "user statuses": 8,
    "request id format": 9, "user ids": 11, "all-bots echo": 12, "unknown fields": 16, "limits": 17,
    "error status codes": 18, "error body": 19, "tenant isolation": 20, "security scheme": 21,
    "rate limits": 24, "unknown methods": 25, "body validation": 26,
}

VENDOR = "documented by the vendor"
FIX_CONTRACT = "the contract (the decision looks wrong; then the mock follows it)"
FIX_VENDOR = "a vendor bug to report (the vendor's docs say otherwise)"
FIX_MOCK = "the mock's behaviour (the mock does not follow the contract here)"
FIX_MOCK_FIXTURES = ("the mock's fixtures or behaviour (the contract allows both: make the mock answer like the"
                     " deployment)")
FIX_BOTH = "the contract and the mock (neither answer follows the contract)"


class Aspect(StrEnum):
    """What part of two answers differs."""

    STATUS = "status"  # the status codes (both accepted the input, or both refused it)
    ACCEPTS = "accepts"  # one side accepted the input, the other refused it
    HEADER = "header"
    BODY = "body"
    FIELDS = "fields"  # a field one side's successful answer has and the other's lacks
    LIFECYCLE = "lifecycle"  # the per-user statuses in order, or the time to a final status
    LATENCY = "latency"


@dataclass
class Difference:
    """One way the two deployments answered the same call differently, with the
    contract decision it touches and where the fix belongs."""

    rule: str  # e.g. "status/createEraseRequest/auth_rejected": what --ignore matches
    call: str  # what was sent, for people
    aspect: Aspect
    where: str  # e.g. "$.requestId" or "Content-Type"
    real: str
    reference: str
    topic: str
    decision: str  # "row 9, request id format" or "documented by the vendor"
    fix: str
    count: int = 1
    accepted: bool = False
    accepted_by: str = ""  # the --ignore rule that accepted it
    calls: set[int] = field(default_factory=set)  # the plan's indexes of the calls that showed it

    @property
    def cause(self) -> str:
        """The `--ignore` rule of its root cause: its spec-notes row (`row:19`), else the
        field, header or aspect it touches (`field:$.error`, list positions as `[*]`)."""
        row = re.match(r"row (\d+),", self.decision)
        if row:
            return f"row:{row.group(1)}"
        return "field:" + re.sub(r"\[\d+\]", "[*]", self.where or str(self.aspect))


@dataclass
class RootCause:
    """Differences that share one cause (a spec-notes row, or a field the vendor
    documents): one finding, its count of calls and examples, and the one `--ignore`
    rule that accepts them all."""

    rule: str
    differences: list[Difference]

    @property
    def decision(self) -> str:
        return self.differences[0].decision

    @property
    def calls(self) -> int:
        """Calls that showed it (each call once, however many of its fields differ)."""
        indexes = set().union(*(d.calls for d in self.differences))
        return len(indexes) or sum(d.count for d in self.differences)

    @property
    def accepted(self) -> bool:
        return all(d.accepted for d in self.differences)

    @property
    def accepted_by(self) -> str:
        """The --ignore rules that accepted it, as given."""
        rules = dict.fromkeys(d.accepted_by for d in self.differences if d.accepted_by)
        return ", ".join(f"--ignore '{r}'" for r in rules)

    @property
    def fixes(self) -> list[str]:
        return sorted({d.fix.split(" (")[0] for d in self.differences})

    @property
    def aspects(self) -> list[str]:
        return sorted({f"{d.aspect} {d.where}".strip() for d in self.differences})

    def examples(self, count: int = 3) -> list[Difference]:
        return self.differences[:count]


@dataclass
class DriftFindings:
    """Every difference `contracts diff` found, repeats counted, and which of them
    `--ignore` accepts. (Not the mock's drift faults, which provoke them.)"""

    items: dict[tuple[str, str, str, str], Difference] = field(default_factory=dict)

    def add(self, difference: Difference) -> None:
        key = (difference.rule, difference.where, difference.real, difference.reference)
        if key in self.items:
            self.items[key].count += 1
            self.items[key].calls |= difference.calls
        else:
            self.items[key] = difference

    def __iter__(self) -> Iterator[Difference]:
        return iter(self.items.values())

    def accept(self, patterns: tuple[str, ...]) -> None:
        """Mark the differences a rule accepts: a root cause's (`row:19`, `field:$.error`),
        or one difference's (`status/<operation>/<check>`, with `/<where>`); `*` matches anything."""
        for difference in self.items.values():
            names = (difference.cause, difference.rule, f"{difference.rule}/{difference.where}")
            rule = next((p for p in patterns if any(fnmatch.fnmatch(name, p) for name in names)), "")
            difference.accepted, difference.accepted_by = bool(rule), rule

    def root_causes(self) -> list[RootCause]:
        """The differences grouped by cause, the open ones first, the most calls first."""
        grouped: dict[str, list[Difference]] = {}
        for difference in self.items.values():
            grouped.setdefault(difference.cause, []).append(difference)
        causes = [RootCause(rule, items) for rule, items in grouped.items()]
        return sorted(causes, key=lambda c: (c.accepted, -c.calls, c.rule))

    @property
    def open(self) -> list[Difference]:
        return [d for d in self.items.values() if not d.accepted]

    @property
    def accepted(self) -> list[Difference]:
        return [d for d in self.items.values() if d.accepted]


# -- the decisions ----------------------------------------------------------------------------


@cache
def spec_notes(path: str | None = None) -> dict[int, str]:
    """Row number -> topic of docs/spec-notes.md: each row is a decision the vendor's
    docs did not make, so a deployment that differs there says the decision was wrong."""
    source = Path(path) if path else notes_path()
    rows: dict[int, str] = {}
    for line in source.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 4 and cells[0].isdigit():
            rows[int(cells[0])] = cells[1].replace("`", "")
    return rows


def notes_path() -> Path:
    """docs/spec-notes.md: shipped in the wheel beside the contract, or the source checkout's."""
    here = Path(__file__).resolve().parent
    shipped = here.parent / "core" / "spec-notes.md"
    return shipped if shipped.exists() else here.parent.parent / "docs" / "spec-notes.md"


def decision_of(topic: str | None) -> tuple[str, bool]:
    """("row N, topic", True) for a contract decision, or ("documented by the vendor", False)."""
    row = ROWS.get(topic or "")
    notes = spec_notes()
    if row is None or row not in notes:
        return VENDOR + (f" ({topic})" if topic else ""), False
    return f"row {row}, {notes[row]}", True


def fix_for(real_conforms: bool, reference_conforms: bool, choice: bool) -> str:
    if real_conforms and not reference_conforms:
        return FIX_MOCK
    if reference_conforms and not real_conforms:
        return FIX_CONTRACT if choice else FIX_VENDOR
    if not real_conforms and not reference_conforms:
        return FIX_BOTH
    return FIX_MOCK_FIXTURES


# -- normalising ----------------------------------------------------------------------------------


def describe_string(value: str, prefix: str = "") -> str:
    """The form of an id-like string: `eud- + 24 hex characters`, `eud- + a UUID`, ..."""
    rest = value[len(prefix):] if prefix and value.startswith(prefix) else value
    head = f"{prefix} + " if prefix and value.startswith(prefix) else ""
    if re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", rest):
        return f"{head}a UUID"
    if re.fullmatch(r"[0-9a-fA-F]+", rest):
        return f"{head}{len(rest)} hex characters"
    return f"{head}{len(rest)} characters"


class Normaliser:
    """`shape()` of an answer, guided by the contract's documented schema."""

    def __init__(self, vocabulary: Vocabulary):
        self.vocabulary = vocabulary
        self.spec = vocabulary.spec
        self.request_id_schema = self.spec.schema(vocabulary.request_id.name)

    def response_schema(self, operation_id: str, status: int) -> Mapping[str, Any] | None:
        operation = self.vocabulary.operation(operation_id)
        response = operation.definition.get("responses", {}).get(str(status))
        if response is None:
            return None
        schema = self.spec.resolve(response).get("content", {}).get("application/json", {}).get("schema")
        return self.spec.resolve(schema) if schema else None

    def shape(self, value: Any, schema: Mapping[str, Any] | None) -> Any:
        schema = self.spec.resolve(schema) if schema else None
        if isinstance(value, dict):
            properties = (schema or {}).get("properties", {})
            return {key: self.shape(item, properties.get(key)) for key, item in sorted(value.items())}
        if isinstance(value, list):
            items = (schema or {}).get("items")
            return [self.shape(item, items) for item in value]
        if isinstance(value, bool) or value is None:
            return value
        if isinstance(value, int | float):
            return value if schema is not None and schema.get("type") == "integer" else "<number>"
        if not isinstance(value, str):
            return f"<{type(value).__name__}>"
        if schema is None:
            return "<string>"
        if "enum" in schema:
            return value
        if schema is self.request_id_schema:
            fmt = self.vocabulary.request_id
            return "<request id>" if fmt.matches(value) else f"<{describe_string(value, fmt.prefix)}>"
        if schema.get("format") == "date-time":
            return "<date-time>" if ISO_MS_Z.match(value) else f"<date-time like {_timestamp_form(value)}>"
        if schema is self.spec.schema(self.vocabulary.user_id.name):
            return value  # the caller's own input, echoed
        return "<string>"


def _timestamp_form(value: str) -> str:
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return repr(value[:30])
    return re.sub(r"\d", "9", value)


# -- comparing ----------------------------------------------------------------------------------


def topic_of(call: PlannedCall, vocabulary: Vocabulary, aspect: Aspect, where: str, status: int,
             statuses: tuple[int, int] = (0, 0)) -> str | None:
    """Which kind of decision a difference touches."""
    f = vocabulary.fields
    operation = vocabulary.operation(call.operation_id)
    if aspect in (Aspect.STATUS, Aspect.ACCEPTS) and max(statuses) >= 500:
        return "error status codes"  # a server-side failure, whatever the call was about
    if (platform := _platform_topic(vocabulary, aspect, statuses)) is not None:
        return platform
    if aspect in (Aspect.STATUS, Aspect.ACCEPTS) and operation.role == STATUS and (400 in statuses) and \
            statuses[0] != statuses[1] and not {401, 403} & set(statuses):
        return "request id format"  # the two sides disagree on whether the id in the path is well-formed
    if aspect is Aspect.LIFECYCLE:
        return "user statuses"
    if aspect in (Aspect.BODY, Aspect.HEADER) and status >= 400:
        return "error body" if aspect is Aspect.BODY or where.lower() == "content-type" else "error status codes"
    if aspect is Aspect.FIELDS:
        return "fields"
    if aspect is Aspect.BODY:
        if re.search(rf"\.({re.escape(f.request_id)}|{re.escape(f.id)})$", where):
            return "request id format"
        if f".{f.user_status}" in where and f".{f.results}" in where:
            return "user statuses"
        if where.endswith(f".{f.accepted_status}") and operation.role == CREATE:
            return "create status"
        if where.endswith((f".{f.created_on}", f".{f.last_updated_on}")):
            return "timestamps"
        if where.endswith(f".{f.echo_all_bots}"):
            return "all-bots echo"
        if f".{f.user_id}" in where:
            return "user ids"
        return None
    if aspect is Aspect.HEADER and where.lower() == "allow":
        return "create method" if operation.role == CREATE else "status method"
    by_check = {
        "auth_rejected": "security scheme", "auth_scope": "security scheme", "tenant_isolation": "tenant isolation",
        "request_id_rejected": "request id format", "request_id_unknown": "error status codes",
        "body_too_large": "limits", "media_type_rejected": "error status codes",
    }
    if call.check in by_check:
        return by_check[call.check]
    scenario = getattr(getattr(getattr(call.case, "meta", None), "phase", None), "data", None)
    name = str(getattr(getattr(scenario, "scenario", None), "value", ""))
    if "unexpected_properties" in name:
        return "unknown fields"
    if "unspecified_http_method" in name:
        return "create method" if operation.role == CREATE else "status method"
    if "max_items" in name or "max_length" in name:
        return "limits"
    return "error status codes" if status >= 400 else None


def _platform_topic(vocabulary: Vocabulary, aspect: Aspect, statuses: tuple[int, int]) -> str | None:
    """The decisions about the platform's own answers (`x-error-answers`): a rate limit,
    an undocumented method, a body that fails validation; when the two sides differ
    in status and one of them gave that answer. (A difference in the body of such an
    answer is the error body's own decision, one root cause for every error.)"""
    topics = {Refusal.RATE_LIMITED: "rate limits", Refusal.METHOD: "unknown methods",
              Refusal.VALIDATION: "body validation"}
    for refusal, topic in topics.items():
        answer = vocabulary.answer(refusal).status
        if aspect in (Aspect.STATUS, Aspect.ACCEPTS) and statuses[0] != statuses[1] and answer in statuses:
            return topic
    return None


def compare(call: PlannedCall, real: Observation, reference: Observation, vocabulary: Vocabulary,
            normaliser: Normaliser, conforms: tuple[bool, bool]) -> list[Difference]:
    """The differences between two answers to the same call."""
    found: list[Difference] = []
    what = f"{call.method} {call.url_path()}" + (f" ({call.description})" if call.description else "")

    def add(aspect: Aspect, where: str, real_value: Any, reference_value: Any) -> None:
        if aspect is Aspect.BODY and _MISSING in (real_value, reference_value) and max(real.status,
                                                                                      reference.status) < 400:
            aspect = Aspect.FIELDS  # a field one side has and the other lacks: the vendor's sample names them
        topic = topic_of(call, vocabulary, aspect, where, max(real.status, reference.status),
                         (real.status, reference.status))
        decision, choice = decision_of(topic)
        rule = f"{aspect}/{call.operation_id}/{call.check}"
        found.append(Difference(rule, what, aspect, where, _show(real_value), _show(reference_value),
                                topic or "", decision, fix_for(conforms[0], conforms[1], choice)))

    if real.status != reference.status:
        accepted = (200 <= real.status < 300, 200 <= reference.status < 300)
        if accepted[0] != accepted[1]:
            add(Aspect.ACCEPTS, "the input", _verdict(real.status), _verdict(reference.status))
        else:
            add(Aspect.STATUS, "status code", real.status, reference.status)
    for name in HEADERS:
        mine, theirs = _header(real, name), _header(reference, name)
        if name == "retry-after":
            mine, theirs = mine is not None, theirs is not None
        if mine != theirs:
            add(Aspect.HEADER, _title(name), mine, theirs)
    if real.status == reference.status:
        real_body, reference_body = _json(real), _json(reference)
        if (real_body is _NOT_JSON) != (reference_body is _NOT_JSON):
            add(Aspect.BODY, "$", _kind(real, real_body), _kind(reference, reference_body))
        elif real_body is not _NOT_JSON:
            schema = normaliser.response_schema(call.operation_id, real.status)
            for path, mine, theirs in differences(normaliser.shape(real_body, schema),
                                                  normaliser.shape(reference_body, schema)):
                if not (call.ref is not None and _progress(vocabulary, path, mine, theirs)):
                    add(Aspect.BODY, path, mine, theirs)
    return found


def _progress(vocabulary: Vocabulary, path: str, mine: Any, theirs: Any) -> bool:
    """True when two reads of a request this run created differ only as far as the
    erase has progressed on each side: documented per-user statuses (and the reason
    that comes with a final one). When a read comes is not how a deployment behaves:
    the lifecycle comparison (statuses in order, time to final) judges progress."""
    f = vocabulary.fields
    item = rf"^\$\.{re.escape(f.results)}\[\d+\]\."
    if re.match(item + re.escape(f.user_status) + "$", path):
        return mine in vocabulary.user_status.values and theirs in vocabulary.user_status.values
    if re.match(item + re.escape(f.reason) + "$", path):
        return {mine, theirs} <= {None, "<string>"}
    return False


def differences(mine: Any, theirs: Any, path: str = "$") -> Iterator[tuple[str, Any, Any]]:
    """Where two shapes differ: a key one side lacks is one difference at that key
    (not one per leaf below it); lists are compared item by item."""
    if isinstance(mine, dict) and isinstance(theirs, dict):
        for key in sorted(set(mine) | set(theirs)):
            if key not in mine or key not in theirs:
                yield f"{path}.{key}", _summary(mine.get(key, _MISSING)), _summary(theirs.get(key, _MISSING))
            else:
                yield from differences(mine[key], theirs[key], f"{path}.{key}")
    elif isinstance(mine, list) and isinstance(theirs, list) and len(mine) == len(theirs):
        for index, (a, b) in enumerate(zip(mine, theirs, strict=True)):
            yield from differences(a, b, f"{path}[{index}]")
    elif mine != theirs:
        yield path, _summary(mine), _summary(theirs)


def _summary(value: Any) -> Any:
    if isinstance(value, dict):
        return "<object with " + (", ".join(sorted(value)) or "no keys") + ">"
    if isinstance(value, list):
        return f"<list of {len(value)}>"
    return value


class _Missing:
    def __repr__(self) -> str:
        return "(absent)"


_MISSING: Any = _Missing()
_NOT_JSON: Any = object()


def _json(observation: Observation) -> Any:
    try:
        return observation.json()
    except (ValueError, UnicodeDecodeError):
        return _NOT_JSON


def _kind(observation: Observation, body: Any) -> str:
    content_type = observation.headers.get("content-type", "(no content type)")
    return f"a JSON body ({content_type})" if body is not _NOT_JSON else f"a non-JSON body ({content_type})"


def _header(observation: Observation, name: str) -> Any:
    value = observation.headers.get(name)
    if value is None:
        return None
    if name == "content-type":
        return value.split(";")[0].strip().lower()
    if name == "allow":
        return ", ".join(sorted(m.strip().upper() for m in value.split(",")))
    return value


def _title(name: str) -> str:
    return "-".join(part.capitalize() for part in name.split("-"))


def _verdict(status: int) -> str:
    return f"<accepted ({status})>" if 200 <= status < 300 else f"<refused ({status})>"


def _show(value: Any) -> str:
    if value is _MISSING:
        return "(absent)"
    if isinstance(value, str):
        return value if value.startswith("<") else repr(value)
    return repr(value)


