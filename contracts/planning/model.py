"""The plan of a run: every call it will send, computed before anything is sent.

A `Plan` is the list of `PlannedCall`s the suites asked for (in the order
they run), each with what it proves (`check`), whether it may erase data
(its body satisfies the create schema), and, for the erasing ones, their
place in the erase budget. `--dry-run` prints this object, `--plan-out`
writes it, `--plan` sends exactly it: a dry run cannot describe another run
than the one that happens.

Bounds, per suite and operation: a call is sent once, plus at most
`MAX_RETRIES` retries when the deployment answers 429/503 with
`Retry-After` (an erasing retry needs a unit of the erase budget like any
erasing call); a polled call (`repeat`) at most `repeat.max_reads` times.
The erase budget caps every erasing request on the wire, retries included.
Against a remote target the request budget (what fits in a few minutes at
the run's pace, `contracts.execution.pacing`) caps the requests the plan
counts on: every group of calls (one check, operation and variant) keeps its
first call, the pre-flight and the polls theirs, then the groups take turns
until it is spent; the rest are cut, and say so.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from contracts.core.errors import ConfigError
from contracts.core.identities import Speaker
from contracts.planning.strategies import TokenDefect
from contracts.safety.files import write_output

MAX_RETRIES = 3
PLAN_FORMAT = 2  # 2: calls packed (columns, values, rows), the erasing calls at the top

#: Budget classes of erasing calls, in the order the budget is spent.
ANCHOR, SECOND_CREATE, SEVERE_AUTH, OTHER_AUTH, SCOPE, POSITIVE = 1, 2, 3, 4, 5, 6
PRIORITY_NAMES: dict[int, str] = {
    ANCHOR: "the create every stateful check reads",
    SECOND_CREATE: "a second create (uniqueness)",
    SEVERE_AUTH: "a severe token defect with a valid body",
    OTHER_AUTH: "another token defect with a valid body",
    SCOPE: "the unscoped app with a valid body",
    POSITIVE: "more positive create examples",
}
#: A create on the second create operation, read back right after the anchor's.
OTHER_OPERATION = ANCHOR + 0.5


def priority_name(priority: float | None) -> str:
    """Why an erasing call is needed, by its budget class."""
    if priority == OTHER_OPERATION:
        return "a create on the other create operation, read back through the link"
    return PRIORITY_NAMES.get(int(priority or 0), "an erasing call")


class Cause(StrEnum):
    """Why a check (or one call of it) could not be judged: the closed set of an
    INCOMPLETE cell's reasons (the text beside it names the flag or the call)."""

    ERASE_BUDGET = "cut by the erase budget"
    REQUEST_BUDGET = "cut by the request budget"
    RATE_LIMITED = "rate limited"
    NEEDS_INPUT = "needs an identity or a flag"
    NOTHING_TO_JUDGE = "nothing to judge"
    DEADLINE = "not final by the deadline"


@dataclass(frozen=True)
class Auth:
    """How a call is authenticated; tokens are minted when it is sent.

    identity: who the call speaks as; `Speaker.LITERAL` sends the header value
    in `value`, as generated (not a token).
    """

    identity: Speaker = Speaker.APP
    defect: TokenDefect | None = None
    value: str | None = None

    def describe(self, header: str) -> dict[str, str]:
        if self.identity is Speaker.LITERAL:
            return {header: self.value or ""} if self.value is not None else {}
        who = {Speaker.APP: "app under test", Speaker.OTHER_TENANT: "other tenant's app",
               Speaker.UNSCOPED: "app without the scope"}
        token = f"<fresh token: {who[self.identity]}"
        return {header: token + (f", defect {self.defect.describe()}>" if self.defect else ">")}


@dataclass(frozen=True)
class Ref:
    """A value read from an earlier call's answer (e.g. the request id a create returned)."""

    call: int
    pointer: tuple[str, ...]

    def placeholder(self) -> str:
        return "{" + f"call {self.call}: /" + "/".join(self.pointer) + "}"


@dataclass(frozen=True)
class Expect:
    """What the answer must be, for the call's `check`."""

    statuses: tuple[int, ...]
    error_body: bool = True
    same_body_as: int | None = None  # the answer must equal this earlier call's (tenant isolation)
    why: str = ""
    #: Answers that prove nothing either way (a body check that came before the token check).
    inconclusive: tuple[int, ...] = ()
    #: The error body's message the answer must carry, where the status alone does not tell
    #: two refusals apart (the platform answers 401 to a bad token and to a missing scope).
    message: str | None = None


@dataclass(frozen=True)
class Repeat:
    """A polled call: read again with back-off until `until` holds or the deadline passes."""

    until: str
    max_reads: int
    deadline: float


@dataclass
class PlannedCall:
    """One call of the plan: what it sends and as whom, what it proves, whether it may
    erase, what its answer must be, and (when cut) why it will not be sent."""

    index: int
    suite: str
    check: str
    operation_id: str
    method: str
    path: str  # raw, as sent; `{ref}` where `ref` fills in a value
    query: tuple[tuple[str, str], ...] = ()
    headers: dict[str, str] = field(default_factory=dict)  # without the auth header
    body: bytes | None = None
    auth: Auth = Auth()
    erasing: bool = False
    priority: float | None = None
    positive: bool = False  # a valid token and schema-valid data: a deployment must accept it
    altered: bool = False  # the safety rules changed its generated body: judged only by what it still proves
    expect: Expect | None = None
    ref: Ref | None = None
    repeat: Repeat | None = None
    description: str = ""
    group: str | None = None  # calls that prove the same thing; one conclusive answer completes it
    cut: str | None = None
    case: Any = field(default=None, repr=False, compare=False)  # the schemathesis Case, for its checks

    @property
    def group_key(self) -> str:
        return self.group or f"{self.suite}/{self.check}/{self.operation_id}"

    def url_path(self, resolved: str | None = None) -> str:
        if self.ref is None:
            return self.path
        return self.path.replace("{ref}", resolved if resolved is not None else self.ref.placeholder())

    def max_sends(self) -> int:
        return (self.repeat.max_reads if self.repeat else 1) * (1 + MAX_RETRIES)

    def as_json(self, auth_header: str) -> dict[str, Any]:
        data: dict[str, Any] = {
            "index": self.index,
            "suite": self.suite,
            "check": self.check,
            "operation": self.operation_id,
            "method": self.method,
            "path": self.url_path(),
            "query": [list(pair) for pair in self.query],
            "headers": {**self.auth.describe(auth_header), **self.headers},
            "body": _body_json(self.body, self.headers),
            "mayErase": self.erasing,
        }
        if self.description:
            data["description"] = self.description
        if self.expect:
            data["expect"] = list(self.expect.statuses)
        if self.repeat:
            data["repeat"] = {"until": self.repeat.until, "maxReads": self.repeat.max_reads,
                              "deadlineSeconds": self.repeat.deadline}
        if self.cut:
            data["cut"] = self.cut
        return data


@dataclass(frozen=True)
class Cut:
    """A check (or part of one) the run will not do fully, and the true reason."""

    suite: str
    check: str
    operation_id: str
    reason: str
    cause: Cause = Cause.NEEDS_INPUT


@dataclass
class Plan:
    """Every call a run will send, in order, with the erase budget, the checks cut and
    the generated cases left out: what a dry run prints and a plan file holds."""

    base_url: str
    seed: int
    budget: int | None  # erasing calls allowed on the wire, retries included; None: unlimited
    remote: bool
    settings: dict[str, Any]  # what the plan was computed from, for --plan to recompute it
    calls: list[PlannedCall] = field(default_factory=list)
    cuts: list[Cut] = field(default_factory=list)
    #: Generated cases left out of the plan, and why: "suite: check on operation: reason" -> how many.
    left_out: Counter[str] = field(default_factory=Counter)
    #: Requests the plan may count on (a polled call counts its most reads); None: unlimited.
    request_budget: int | None = None

    def add(self, call: PlannedCall) -> PlannedCall:
        call.index = len(self.calls)
        self.calls.append(call)
        return call

    def allocate_budget(self) -> None:
        """Spend the erase budget on the erasing calls, by priority then order;
        the rest are cut (their reason says what they would have proven)."""
        if self.budget is None:
            return
        erasing = sorted((c for c in self.calls if c.erasing and not c.cut), key=lambda c: (c.priority or 99, c.index))
        for position, call in enumerate(erasing):
            if position >= self.budget:
                call.cut = (f"erase budget: --max-erase-requests {self.budget} was spent on higher priorities"
                            f" (this call: {priority_name(call.priority)})")

    def allocate_requests(self) -> None:
        """Spend the request budget: the pre-flight, the polls and the erasing calls
        first, then the first call of every group, then the groups' second calls,
        and so on (a call that reads another's answer brings that call along);
        the rest are cut."""
        if self.request_budget is None:
            return
        kept: set[int] = set()
        spent = 0
        for call in sorted((c for c in self.calls if not c.cut), key=self._request_rank()):
            needed = self._with_sources(call, kept)
            price = sum(_requests(c) for c in needed)
            if needed and not any(c.cut for c in needed) and spent + price <= self.request_budget:
                kept.update(c.index for c in needed)
                spent += price
        for call in self.calls:
            if not call.cut and call.index not in kept:
                call.cut = (f"{Cause.REQUEST_BUDGET.value}: the plan's {self.request_budget} requests went to"
                            " the first calls of every check first")

    def _request_rank(self) -> Any:
        position: Counter[str] = Counter()
        ranks: dict[int, tuple[int, int]] = {}
        for call in self.sendable():
            first = call.suite == "preflight" or call.repeat is not None or call.erasing
            ranks[call.index] = (0 if first else 1, position[call.group_key])
            position[call.group_key] += 1
        return lambda c: (*ranks[c.index], c.index)

    def _with_sources(self, call: PlannedCall, kept: set[int]) -> list[PlannedCall]:
        """The call and the not yet kept calls whose answers it reads."""
        needed: list[PlannedCall] = []
        current: PlannedCall | None = call
        while current is not None and current.index not in kept and current not in needed:
            needed.insert(0, current)
            current = self.calls[current.ref.call] if current.ref is not None else None
        return needed

    def planned_requests(self) -> int:
        """The requests the sendable calls count on (retries aside)."""
        return sum(_requests(c) for c in self.sendable())

    def sendable(self) -> Iterator[PlannedCall]:
        return (c for c in self.calls if not c.cut)

    def erasing(self, auth_header: str) -> dict[str, list[dict[str, Any]]]:
        """Every call that may erase, in the order it is sent, for an approver: those the
        budget keeps (each with its method, path, body, identity and why it is needed)
        and those it cuts."""
        def why(call: PlannedCall) -> str:
            return f"{call.suite}: {call.check} on {call.operation_id}: {priority_name(call.priority)}"

        def entry(call: PlannedCall) -> dict[str, Any]:
            return {"index": call.index, "method": call.method, "path": call.url_path(),
                    "body": _body_json(call.body, call.headers),
                    "identity": next(iter(call.auth.describe(auth_header).values()), "(no credential)"),
                    "why": why(call) + (f" ({call.description})" if call.description else "")}
        cut: dict[str, list[int]] = {}
        for call in self.calls:
            if call.erasing and call.cut:
                cut.setdefault(why(call), []).append(call.index)
        return {"kept": [entry(c) for c in self.calls if c.erasing and not c.cut],
                "cut": [{"why": reason, "count": len(indexes), "calls": indexes} for reason, indexes in cut.items()]}

    def summary(self) -> list[dict[str, Any]]:
        """Per suite and operation: planned calls, the most requests it may send, the
        erasing calls the budget keeps (they add up to the total), and the calls cut."""
        rows: dict[tuple[str, str], dict[str, Any]] = {}
        for call in self.calls:
            row = rows.setdefault((call.suite, call.operation_id), {
                "suite": call.suite, "operation": call.operation_id, "method": call.method,
                "calls": 0, "maxRequests": 0, "erasingCalls": 0, "cut": 0, "checks": Counter(),
            })
            row["checks"][call.check] += 1
            if call.cut:
                row["cut"] += 1
                continue
            row["calls"] += 1
            row["maxRequests"] += call.max_sends()
            row["erasingCalls"] += 1 if call.erasing else 0
        for row in rows.values():
            row["checks"] = dict(row["checks"])
        return list(rows.values())

    def totals(self) -> dict[str, Any]:
        sendable = list(self.sendable())
        max_erasing = sum(c.max_sends() for c in sendable if c.erasing)
        return {
            "calls": len(sendable),
            "maxRequests": sum(c.max_sends() for c in sendable),
            "erasingCalls": sum(1 for c in sendable if c.erasing),
            "maxErasing": max_erasing if self.budget is None else min(max_erasing, self.budget),
            "cut": sum(1 for c in self.calls if c.cut),
            "plannedRequests": self.planned_requests(),
            "requestBudget": self.request_budget,
        }

    # -- the plan file ---------------------------------------------------------------------------

    def as_json(self, auth_header: str, *, calls: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "format": PLAN_FORMAT,
            "target": self.base_url,
            "remote": self.remote,
            "seed": self.seed,
            "eraseBudget": self.budget,
            "erasing": self.erasing(auth_header),
            "settings": self.settings,
            "totals": self.totals(),
            "summary": self.summary(),
            "cuts": [{"suite": c.suite, "check": c.check, "operation": c.operation_id, "reason": c.reason}
                     for c in self.cuts],
            "leftOut": dict(self.left_out),
        }
        if calls:
            data["calls"] = [call.as_json(auth_header) for call in self.calls]
        return data

    def write(self, path: Path, auth_header: str, *, force: bool = False) -> str:
        """The plan file (not through a symlink unless `force`): the erasing calls at the top,
        every call packed (each distinct value once), and a digest over all of it, which
        approving the plan means passing back as `--expect-digest`."""
        data = self.as_json(auth_header)
        data["calls"] = _pack(data["calls"])
        data["digest"] = digest(data)
        write_output(path, _dump(data), force=force, flag="--plan-out")
        return str(data["digest"])


def _requests(call: PlannedCall) -> int:
    return call.repeat.max_reads if call.repeat else 1


def digest(data: dict[str, Any]) -> str:
    """The sha256 of a plan file's content (without its own digest)."""
    content = {k: v for k, v in data.items() if k != "digest"}
    return hashlib.sha256(json.dumps(content, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def read_plan_file(path: Path, expected: str | None) -> dict[str, Any]:
    """A plan file as written by `--plan-out`, whose digest is the `expected` one printed
    when it was approved; `ConfigError` if it is unreadable, edited, or another plan.

    The digest covers everything in the file (target, budgets, settings, calls): whoever
    can edit the file can recompute it, but not change the digest the approver passes."""
    if not expected:
        raise ConfigError(f"--plan {path} needs --expect-digest DIGEST: the digest --plan-out printed when the"
                          " plan was approved")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"--plan {path}: cannot read: {exc.strerror or exc}") from None
    except ValueError:
        raise ConfigError(f"--plan {path}: not a plan file (not JSON)") from None
    if not isinstance(data, dict) or data.get("format") != PLAN_FORMAT or "calls" not in data:
        raise ConfigError(f"--plan {path}: not a plan file of this version (write one with --dry-run --plan-out)")
    if data.get("digest") != digest(data):
        raise ConfigError(f"--plan {path}: the plan was edited after it was written (its digest does not match);"
                          " write and approve a new one with --dry-run --plan-out")
    if not hmac.compare_digest(data["digest"], expected.strip().lower()):
        raise ConfigError(f"--plan {path}: its digest is not the approved one (--expect-digest): the plan was changed"
                          " (its target, budget, settings or calls); write and approve a new one")
    return dict(data, calls=_unpack(data["calls"]))


def _pack(calls: list[dict[str, Any]]) -> dict[str, Any]:
    """Calls as rows of indexes into one list of distinct values (-1: the call has no such key):
    repeated headers, bodies and reasons are written once; nothing is lost."""
    columns = list(dict.fromkeys(key for call in calls for key in call))
    values: list[Any] = []
    seen: dict[str, int] = {}
    rows = []
    for call in calls:
        row = []
        for column in columns:
            if column not in call:
                row.append(-1)
                continue
            text = json.dumps(call[column], sort_keys=True, ensure_ascii=False)
            if text not in seen:
                seen[text] = len(values)
                values.append(call[column])
            row.append(seen[text])
        rows.append(row)
    return {"columns": columns, "values": values, "rows": rows}


def _unpack(packed: Any) -> list[dict[str, Any]]:
    if not isinstance(packed, dict):
        raise ConfigError("not a plan file of this version (write one with --dry-run --plan-out)")
    columns, values = packed["columns"], packed["values"]
    return [{column: values[i] for column, i in zip(columns, row, strict=True) if i >= 0} for row in packed["rows"]]


def _dump(data: dict[str, Any]) -> str:
    """The plan file's text: one key per line, the erasing calls indented, a packed call per line."""
    parts = []
    for key, value in data.items():
        if key == "calls":
            text = ('{"columns": ' + json.dumps(value["columns"]) + ',\n "values": [\n  '
                    + ",\n  ".join(json.dumps(v, ensure_ascii=False) for v in value["values"]) + '],\n "rows": [\n  '
                    + ",\n  ".join(json.dumps(r) for r in value["rows"]) + "]}")
        else:
            text = json.dumps(value, indent=1, ensure_ascii=False)
        parts.append(f"{json.dumps(key)}: {text}")
    return "{\n" + ",\n".join(parts) + "\n}\n"


#: Bodies larger than this are written to a plan file as their size and digest.
BODY_SHOWN = 4096


def _body_json(body: bytes | None, headers: dict[str, str]) -> Any:
    if body is None:
        return None
    if len(body) > BODY_SHOWN:
        return {"bytes": len(body), "sha256": hashlib.sha256(body).hexdigest(),
                "start": body[:200].decode("utf-8", "replace")}
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    if "json" in content_type:
        try:
            return {"json": json.loads(body)}
        except ValueError:
            pass
    try:
        return {"text": body.decode("utf-8")}
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(body).decode()}
