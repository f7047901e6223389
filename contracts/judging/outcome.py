"""What a run did, before it is judged: each planned call's record and the
run's `Outcome`, which the executor fills in and the verdict reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from contracts.planning.model import Cause, PlannedCall

if TYPE_CHECKING:
    from contracts.config import RunConfig
    from contracts.core.redaction import Redactor
    from contracts.core.vocabulary import Vocabulary
    from contracts.execution.transport import Transport
    from contracts.judging.checks import Context
    from contracts.safety.policy import AuditLog, Budget
    from contracts.safety.target import Target


class CallOutcome(StrEnum):
    """What became of a planned call."""

    CONCLUSIVE = "conclusive"  # sent, and its answer judged
    INCONCLUSIVE = "inconclusive"  # sent, but its answer proves nothing (rate-limited, ...)
    CUT = "cut"  # never sent: a budget, a missing identity or an earlier answer cut it
    NOT_SENT = "not sent"  # not reached


@dataclass
class CallRecord:
    """What happened to a planned call."""

    call: PlannedCall
    status: int | None = None  # the last answer's status
    elapsed: float = 0.0
    sends: int = 0
    outcome: CallOutcome = CallOutcome.NOT_SENT
    reason: str = ""
    cause: Cause | None = None  # why it proved nothing (CUT or INCONCLUSIVE)


@dataclass
class Outcome:
    """The raw result of a run, before the verdict (`contracts.judging.verdict`)."""

    config: RunConfig
    vocabulary: Vocabulary
    target: Target
    plan: Any
    context: Context
    records: dict[int, CallRecord]
    transport: Transport
    budget: Budget
    audit: AuditLog
    redactor: Redactor
    duration: float = 0.0
    not_final: list[tuple[PlannedCall, str]] = field(default_factory=list)
