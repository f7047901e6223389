"""Scripted outcomes: rules that say how a user's erase ends, and when.

A rule (control.yaml's `OutcomeRule`, in the fixtures' `outcomes` or posted to
`/__mockserver/outcomes`) matches users by id (`user`) or by a regular
expression the whole id matches (`userPattern`), requests that cover a bot
(`bot`), or an account (`account`); what it names must all hold. It sets the
user's final status (`outcome`: one of the contract's final statuses, with a
`reason` for the refusal one) and the time from the request's creation to it
(`completesInSeconds`; default: the mock's `--progress-delay`). A rule applies
to requests created after it; when several match a user, the one added last
wins, and it overrides the business rule (a scripted owner may be erased).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from contracts.core.vocabulary import UserStatuses


@dataclass(frozen=True)
class OutcomeRule:
    """Owns one scripted outcome: which users it matches (by id or pattern, bot,
    account), the final status and reason it sets, and the time to it."""

    outcome: str
    reason: str | None = None
    completes_in_ms: int | None = None
    user: str | None = None
    user_pattern: re.Pattern[str] | None = None
    bot: str | None = None
    account: str | None = None
    spec: dict[str, Any] = field(default_factory=dict, compare=False)  # as given: what the control API lists

    def matches(self, account_id: str, bot_ids: Iterable[str], user_id: str) -> bool:
        return (
            (self.user is None or self.user == user_id)
            and (self.user_pattern is None or self.user_pattern.fullmatch(user_id) is not None)
            and (self.account is None or self.account == account_id)
            and (self.bot is None or self.bot in bot_ids)
        )


def problems(spec: dict[str, Any], statuses: UserStatuses, accounts: Iterable[str]) -> list[str]:
    """What is wrong with a rule the schema accepted (an outcome that is not final,
    a reason with success, a pattern that does not compile, an unknown account)."""
    found = []
    final = (statuses.erased, statuses.refused)
    if spec.get("outcome") not in final:
        found.append(f"outcome must be a final status ({' or '.join(final)}), not {spec.get('outcome')!r}")
    if spec.get("reason") is not None and spec.get("outcome") != statuses.refused:
        found.append(f"a reason goes with {statuses.refused} only")
    if "user" in spec and "userPattern" in spec:
        found.append("give user or userPattern, not both")
    if isinstance(spec.get("userPattern"), str):
        try:
            re.compile(spec["userPattern"])
        except re.error as exc:
            found.append(f"userPattern is not a regular expression: {exc}")
    known = set(accounts)
    if isinstance(spec.get("account"), str) and spec["account"] not in known:
        found.append(f"unknown account {spec['account']!r} (known: {', '.join(sorted(known))})")
    return found


def rule(spec: dict[str, Any]) -> OutcomeRule:
    """The rule of a spec that has no `problems`."""
    seconds = spec.get("completesInSeconds")
    return OutcomeRule(
        outcome=spec["outcome"],
        reason=spec.get("reason"),
        completes_in_ms=None if seconds is None else int(round(seconds * 1000)),
        user=spec.get("user"),
        user_pattern=re.compile(spec["userPattern"]) if "userPattern" in spec else None,
        bot=spec.get("bot"),
        account=spec.get("account"),
        spec=spec,
    )


def scripted(rules: Iterable[OutcomeRule], account_id: str, bot_ids: Iterable[str], user_id: str
             ) -> OutcomeRule | None:
    """The rule that decides this user's outcome: the last one added that matches."""
    bots = tuple(bot_ids)
    chosen = None
    for candidate in rules:
        if candidate.matches(account_id, bots, user_id):
            chosen = candidate
    return chosen
