"""The control API's handlers (`control.yaml`, mounted at `/__mockserver`), one
per operationId of that document (the mock's own API, not the vendor's).
Each gets the ASGI scope, the path and query parameters, and the body."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from starlette.responses import JSONResponse, Response
from starlette.types import Scope

from mockserver.common import strict_json
from mockserver.common.error_body import error_response, unavailable
from mockserver.errors import FixturesError, Refused, StateUnavailable
from mockserver.settings import Clock
from mockserver.state.journal_query import JournalFilter, nearest_operation, render
from mockserver.state.records import StoredRequest, iso
from mockserver.state.store import StateStatus
from mockserver.vendor import faults, outcomes
from mockserver.vendor.fixtures import parse_fixtures
from mockserver.vendor.runtime import Runtime

Params = dict[str, Any]
#: The journal's query parameters (control.yaml) and the `JournalFilter` fields they set.
JOURNAL_FILTERS = {"operationId": "operation_id", "method": "method", "path": "path", "status": "status",
                   "appId": "app_id"}


class ControlHandlers:
    """Owns the control API's handlers, one method per operationId of `control.yaml`,
    over the worker's `Runtime`."""

    def __init__(self, runtime: Runtime):
        self.runtime = runtime

    def _health(self) -> dict[str, Any]:
        state = self.runtime.store.describe()
        requests = None
        if state["status"] == StateStatus.OK:
            try:
                requests = self.runtime.store.count_requests()
            except StateUnavailable as exc:
                state.update(status=StateStatus.UNAVAILABLE, error=str(exc))
        return {"status": "ok", "requests": requests, "clock": self.runtime.settings.clock, "state": state}

    async def health(self, scope: Scope, params: Params, body: Any) -> Response:
        """Liveness: 200 while the process answers, with the state's backend and status."""
        return JSONResponse(self._health())

    async def ready(self, scope: Scope, params: Params, body: Any) -> Response:
        """Readiness: 200 when the state can be reached, else 503 (take this instance out of rotation)."""
        state = self.runtime.store.describe()
        if state["status"] != StateStatus.OK:
            status, message, headers = unavailable(state["error"])
            return error_response(status, f"Not ready. {message}", headers)
        return JSONResponse({"ready": True, "state": state})

    async def reset(self, scope: Scope, params: Params, body: Any) -> Response:
        self.runtime.reset()
        return JSONResponse(self._health())

    async def loadFixtures(self, scope: Scope, params: Params, body: Any) -> Response:  # noqa: N802
        try:
            fixtures = parse_fixtures(body, self.runtime.documents, "request body")
        except FixturesError as exc:
            return error_response(400, "Invalid fixtures: " + "; ".join(exc.problems))
        self.runtime.reset(fixtures)
        return JSONResponse(self._health())

    def _clock(self) -> dict[str, Any]:
        now = self.runtime.now_ms()
        return {"mode": self.runtime.settings.clock, "now": iso(now), "nowMs": now,
                "tokenClock": self.runtime.settings.token_clock}

    async def getClock(self, scope: Scope, params: Params, body: Any) -> Response:  # noqa: N802
        return JSONResponse(self._clock())

    async def advanceClock(self, scope: Scope, params: Params, body: Any) -> Response:  # noqa: N802
        if self.runtime.settings.clock != Clock.MANUAL:
            return error_response(409, "The clock is real; start the server with --clock manual")
        step, latest = int(round(body["seconds"] * 1000)), self.runtime.latest_clock_ms
        if self.runtime.now_ms() + step > latest:
            return error_response(409, f"The manual clock cannot pass {iso(latest)}: the times it leads to"
                                       " (due times, up to ten years later) must fall before the year 9999 ends")
        self.runtime.store.advance_manual_clock(step)
        self.runtime.refresh()
        return JSONResponse(self._clock())

    async def listFaults(self, scope: Scope, params: Params, body: Any) -> Response:  # noqa: N802
        faults = [dict(spec, id=fid, remaining=left, active=left != 0)
                  for fid, spec, left in self.runtime.store.faults()]
        return JSONResponse({"faults": faults})

    async def injectFault(self, scope: Scope, params: Params, body: Any) -> Response:  # noqa: N802
        spec = {k: v for k, v in body.items() if k not in ("id", "remaining", "count", "active")}
        operation_id = spec.get("operationId")
        known = set(self.runtime.vocabulary.operations)
        if operation_id is not None and operation_id not in known:
            return error_response(400, f"Unknown operationId {operation_id!r}; known: {sorted(known)}")
        if problem := faults.problem(spec):
            return error_response(400, problem)
        fault_id = self.runtime.store.add_fault(spec, body.get("count"))
        return JSONResponse(dict(spec, id=fault_id, remaining=body.get("count"), active=True), 201)

    async def clearFaults(self, scope: Scope, params: Params, body: Any) -> Response:  # noqa: N802
        self.runtime.store.clear_faults()
        return Response(status_code=204)

    async def listOutcomes(self, scope: Scope, params: Params, body: Any) -> Response:  # noqa: N802
        return JSONResponse({"outcomes": [r.spec for r in self.runtime.outcome_rules]})

    async def addOutcome(self, scope: Scope, params: Params, body: Any) -> Response:  # noqa: N802
        spec = {k: v for k, v in body.items() if k != "id"}
        found = outcomes.problems(spec, self.runtime.vocabulary.user_status, self.runtime.fixtures.accounts)
        if found:
            return error_response(400, "Invalid outcome rule: " + "; ".join(found))
        rule_id = self.runtime.store.add_outcome(spec)
        self.runtime.refresh()
        return JSONResponse(dict(spec, id=rule_id), 201)

    async def clearOutcomes(self, scope: Scope, params: Params, body: Any) -> Response:  # noqa: N802
        self.runtime.store.clear_outcomes()
        return Response(status_code=204)

    async def listApps(self, scope: Scope, params: Params, body: Any) -> Response:  # noqa: N802
        fixtures = self.runtime.fixtures
        secrets = params.get("secrets", False)
        chosen = fixtures.contract_apps()
        roles = {identity.key: app.public(show_secret=secrets) for identity, app in chosen.items()}
        main = next(iter(chosen.values()))
        return JSONResponse({
            "apps": [self._with_rate_limit(app.public(show_secret=secrets)) for app in fixtures.apps.values()],
            "contractApps": {"app": roles.get("credentials"), "otherTenant": roles.get("other_tenant"),
                             "unscoped": roles.get("unscoped")},
            "refusedUsers": fixtures.refused_users(main.account_id),
        })

    async def listRateLimits(self, scope: Scope, params: Params, body: Any) -> Response:  # noqa: N802
        runtime, now = self.runtime, self.runtime.now_ms()
        return JSONResponse({"accounts": [runtime.rate_limiter.state(account, now)
                                          for account in runtime.fixtures.accounts]})

    async def getRateLimit(self, scope: Scope, params: Params, body: Any) -> Response:  # noqa: N802
        account = params["account"]
        if account not in self.runtime.fixtures.accounts:
            known = ", ".join(sorted(self.runtime.fixtures.accounts))
            return error_response(404, f"No account {account!r} in the fixtures (known: {known})")
        return JSONResponse(self.runtime.rate_limiter.state(account, self.runtime.now_ms()))

    def _with_rate_limit(self, shown: dict[str, Any]) -> dict[str, Any]:
        limit = self.runtime.rate_limit_of(shown["account"])
        return dict(shown, rateLimit=limit.public() if limit else None)

    async def getStoredRequest(self, scope: Scope, params: Params, body: Any) -> Response:  # noqa: N802
        stored = self.runtime.store.get_request(params["requestId"])
        if stored is None:
            return error_response(404, "Erase request not found")
        return JSONResponse(self._stored_view(stored))

    async def listStoredRequests(self, scope: Scope, params: Params, body: Any) -> Response:  # noqa: N802
        recent = self.runtime.store.recent_requests(params.get("limit", 20))
        return JSONResponse({"requests": [self._stored_view(stored) for stored in recent]})

    def _stored_view(self, stored: StoredRequest) -> dict[str, Any]:
        """A stored request: what it covers, and each user's final status, due time and status now."""
        now, initial = self.runtime.now_ms(), self.runtime.vocabulary.user_status.initial
        return {
            "requestId": stored.request_id,
            "account": stored.account_id,
            "createdOn": iso(stored.created_ms),
            "RemoveDataFromAllBots": stored.remove_from_all_bots,
            "botIds": list(stored.bot_ids),
            "users": [
                {
                    "userId": u.user_id,
                    "finalStatus": u.final_status,
                    "dueOn": iso(u.due_ms),
                    "reason": u.reason,
                    "status": u.final_status if now >= u.due_ms else initial,
                }
                for u in stored.users
            ],
        }

    def _journal_filter(self, params: Params, *, unmatched: bool = False) -> JournalFilter:
        """The filters of a journal query. Raises `Refused` (400) for a time or JSON it cannot read."""
        values: dict[str, Any] = {name: params.get(key) for key, name in JOURNAL_FILTERS.items()}
        for key in ("from", "to"):
            if params.get(key) is not None:
                values[f"{key}_ms"] = _instant_ms(key, params[key])
        if params.get("json") is not None:
            try:
                values["json"] = strict_json.loads(params["json"])
            except strict_json.JsonTextError as exc:
                raise Refused(400, f"The json filter is {exc}") from None
        return JournalFilter(**values, unmatched=unmatched)

    def _journal_page(self, params: Params, *, unmatched: bool = False) -> Response:
        try:
            where = self._journal_filter(params, unmatched=unmatched)
        except Refused as exc:
            return error_response(exc.status, exc.message)
        self.runtime.journal.flush()
        rows, next_id, more = self.runtime.store.journal(params.get("since", 0), params.get("limit", 1000), where)
        entries = [render(row) for row in rows]
        if unmatched:
            for entry in entries:
                entry["nearest"] = nearest_operation(self.runtime.vocabulary, entry["method"], entry["path"])
        return JSONResponse({"entries": entries, "next": next_id, "more": more})

    async def getJournal(self, scope: Scope, params: Params, body: Any) -> Response:  # noqa: N802
        return self._journal_page(params)

    async def getUnmatched(self, scope: Scope, params: Params, body: Any) -> Response:  # noqa: N802
        return self._journal_page(params, unmatched=True)

    async def countJournal(self, scope: Scope, params: Params, body: Any) -> Response:  # noqa: N802
        try:
            where = self._journal_filter(params)
        except Refused as exc:
            return error_response(exc.status, exc.message)
        self.runtime.journal.flush()
        return JSONResponse({"count": self.runtime.store.journal_count(where)})

    async def clearJournal(self, scope: Scope, params: Params, body: Any) -> Response:  # noqa: N802
        self.runtime.journal.discard()
        self.runtime.store.clear_journal()
        return Response(status_code=204)

    def resolve(self, operation_id: str) -> Callable[..., Any]:
        return getattr(self, operation_id)


def _instant_ms(name: str, text: str) -> int:
    """An ISO-8601 date-time (UTC when it names no offset) in epoch milliseconds.
    Raises `Refused` (400)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise Refused(400, f"'{name}' must be an ISO-8601 date-time, like 2024-05-01T12:00:00Z, not {text!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)
