"""How an erase request progresses: who may be erased, and what the status
call shows at a given time.

Progress is derived from time rather than written by a background job: each
user has a final status and the moment it is reached (`due_ms`). Before that
moment the user is in the contract's initial status; from it on, in the final
status, forever. So
a manual clock (or a real one) is all that moves a request forward, every
worker computes the same answer, and nothing is lost in a restart.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from contracts.core.vocabulary import Vocabulary
from mockserver.state.records import StoredRequest, UserPlan, iso
from mockserver.vendor.fixtures import Account, PreloadedRequest
from mockserver.vendor.outcomes import OutcomeRule, scripted


class EraseProgress:
    """The erase API's behaviour over time, in the contract's vocabulary."""

    def __init__(self, vocabulary: Vocabulary):
        self.vocabulary = vocabulary
        self.fields = vocabulary.fields
        self.statuses = vocabulary.user_status

    def new_request_id(self) -> str:
        return self.vocabulary.request_id.generate()

    def acknowledgement(self, request_id: str) -> dict[str, Any]:
        """The create call's answer."""
        return {self.fields.request_id: request_id, self.fields.accepted_status: self.vocabulary.accepted_status}

    def final_status(self, account: Account, user_id: str) -> tuple[str, str | None]:
        """The documented business rule: account owners, bot owners and co-developers
        are not erased. Users the account does not know end erased (nothing held)."""
        reason = account.refusal(user_id)
        return (self.statuses.refused, reason) if reason else (self.statuses.erased, None)

    def plan_request(self, account: Account, body: dict[str, Any], now_ms: int, delay_ms: int,
                     rules: tuple[OutcomeRule, ...] = ()) -> StoredRequest:
        """The stored form of a new, validated create body: each user's outcome and its
        time scripted by the last of `rules` that matches, else the business rule after `delay_ms`."""
        remove_all = bool(body.get(self.fields.all_bots, False))
        # Bots of other accounts (or none) are ignored: never reveal that they exist.
        bots = account.bot_ids if remove_all else tuple(
            b for b in body.get(self.fields.bot_ids, []) if b in account.bot_ids
        )
        users = []
        for user_id in body[self.fields.user_ids]:
            rule = scripted(rules, account.id, bots, user_id) if rules else None
            if rule is None:
                status, reason = self.final_status(account, user_id)
                users.append(UserPlan(user_id, status, now_ms + delay_ms, reason))
            else:
                due = now_ms + (delay_ms if rule.completes_in_ms is None else rule.completes_in_ms)
                users.append(UserPlan(user_id, rule.outcome, due, rule.reason))
        return StoredRequest(self.new_request_id(), account.id, now_ms, remove_all, bots, tuple(users))

    def preloaded(self, request: PreloadedRequest, account: Account, now_ms: int) -> StoredRequest:
        """A fixtures request, placed relative to `now_ms` (the state it is in at load)."""
        created = now_ms - int(request.created_seconds_ago * 1000)
        users = []
        for user in request.users:
            if user.status == self.statuses.initial:
                status, reason = self.final_status(account, user.user_id)
                due = now_ms + max(1, int(user.completes_in * 1000))
            else:
                status, due = user.status, created
                refused = status == self.statuses.refused
                reason = user.reason or (self.final_status(account, user.user_id)[1] if refused else None)
            users.append(UserPlan(user.user_id, status, due, reason))
        bots = account.bot_ids if request.remove_from_all_bots else request.bot_ids
        return StoredRequest(
            request.request_id, account.id, created, request.remove_from_all_bots, bots, tuple(users)
        )

    def render_status(self, request: StoredRequest, now_ms: int) -> dict[str, Any]:
        """The status call's body at `now_ms`."""
        f = self.fields
        last_updated = request.created_ms
        results = []
        for user in request.users:
            if now_ms >= user.due_ms:
                last_updated = max(last_updated, user.due_ms)
                result = {f.user_id: user.user_id, f.user_status: user.final_status}
                if user.reason:
                    result[f.reason] = user.reason
            else:
                result = {f.user_id: user.user_id, f.user_status: self.statuses.initial}
            results.append(result)
        return {
            f.id: request.request_id,
            f.created_on: iso(request.created_ms),
            f.last_updated_on: iso(last_updated),
            f.echo_all_bots: request.remove_from_all_bots,
            f.results: results,
        }


def stable_window(request: StoredRequest, now_ms: int) -> tuple[int, float]:
    """[from, until): the span of time around `now_ms` in which `render_status`
    gives the same answer (no user reaches a final status inside it)."""
    start, end = request.created_ms, float("inf")
    for user in request.users:
        if user.due_ms <= now_ms:
            start = max(start, user.due_ms)
        else:
            end = min(end, user.due_ms)
    return start, end


#: The latest moment `iso()` can show (the year 9999 ends there).
LATEST_MS = int(datetime(9999, 12, 31, 23, 59, 59, 999_000, tzinfo=UTC).timestamp() * 1000)


