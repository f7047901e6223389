"""JSON for tools: a run's verdict and every cell's state, a dry run's plan (the
plan file's content and what will not run fully), and a diff's verdict and
differences."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from contracts.diff.lockstep import DiffReport
from contracts.judging.verdict import Report, judge
from contracts.reporting.common import differences


def render(result: Report | DiffReport) -> str:
    """A diff as JSON, or a dry run's plan (of a run, or of a diff's real side)."""
    if isinstance(result, DiffReport):
        if result.dry_run:
            return dry_run(judge(result.real, dry_run=True))
        return _diff(result)
    return dry_run(result) if result.dry_run else _run(result)


def _run(report: Report) -> str:
    """The verdict and every cell (a cell no selected suite planned is absent)."""
    data: dict[str, Any] = {
        "target": report.outcome.target.base_url,
        "verdict": report.verdict,
        "exitCode": report.exit_code,
        "seed": report.seed,
        "counts": report.counts,
        "cells": [{"suite": r.suite, "check": r.check, "operation": r.operation, "state": r.state,
                   "cause": r.cause, "reason": r.reason, "sent": r.sent, "planned": r.planned,
                   "violations": len(r.findings)} for r in report.rows],
        "violations": [vars(f) for f in report.findings],
        "notObserved": [{"what": what, "why": why} for what, why in report.unobserved],
    }
    return _dumps(report, data)


def dry_run(report: Report) -> str:
    data = report.outcome.plan.as_json(report.outcome.vocabulary.auth_header)
    data["willNotRun"] = [{"suite": m.suite, "check": m.check, "operation": m.operation, "reason": m.reason}
                          for m in report.incomplete]
    return _dumps(report, data)


def _diff(report: DiffReport) -> str:
    data: dict[str, Any] = {
        "real": report.config.real.base_url,
        "reference": report.config.reference.base_url,
        "verdict": report.verdict,
        "seed": report.real.plan.seed,
        "compared": report.compared,
        "rootCauses": [{"rule": c.rule, "decision": c.decision, "calls": c.calls, "accepted": c.accepted,
                        "fix": c.fixes, "differences": len(c.differences)} for c in report.drift.root_causes()],
        "differences": [dict(vars(d), calls=sorted(d.calls)) for d in differences(report)],
        "notCompared": [vars(m) for m in report.incomplete],
    }
    return _dumps(report, data)


def _dumps(result: Report | DiffReport, data: dict[str, Any]) -> str:
    """The JSON text, every string redacted before it is escaped (redacting the escaped text
    could cut an escape sequence in two and leave a document no parser reads)."""
    return json.dumps(_redacted(data, result.redact), indent=2, ensure_ascii=False) + "\n"


def _redacted(value: Any, redact: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact(str(key)): _redacted(item, redact) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_redacted(item, redact) for item in value]
    return value
