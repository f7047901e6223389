"""Pre-flight: before any generated call, prove that the configuration can
work, and stop with one line naming the flag to fix when it cannot.

- the app's token is accepted: the status of a well-formed id that was never
  created answers 404 with the error body (the platform's refusal of a token,
  or its scope error, is the credentials);
- the base URL serves the contract's paths: that 404 is JSON with the
  error body (an HTML page is not), and a malformed id gets a 4xx other than
  404 (an unknown path answers 404 to everything; a wrong path prefix shows
  here);
- the optional identities are identities: their tokens are not refused as
  credentials (the scope error, which the platform also answers with 401, is
  told apart by its message; whether the deployment enforces scopes and
  tenants is for the auth suite to judge, not the pre-flight).

These calls are part of the plan (suite `preflight`) and are counted like
any other; none can erase.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from contracts.core.errors import ConfigError, UnreachableError
from contracts.core.identities import Speaker
from contracts.core.platform import Refusal
from contracts.core.vocabulary import Vocabulary
from contracts.judging.checks import Observation
from contracts.planning.model import Auth, Expect

if TYPE_CHECKING:
    from contracts.execution.runner import Runner
    from contracts.planning.planner import Planner

SUITE = "preflight"
#: Answers that say the deployment is not there now (a rate limit, a gateway without its upstream).
UNAVAILABLE = (429, 502, 503, 504)


def plan_preflight(planner: Planner) -> None:
    vocabulary, config = planner.vocabulary, planner.config
    status = vocabulary.status[0]
    unknown = planner.unknown_ids(3, "preflight")
    planner.call(SUITE, "token accepted", status, path_value=unknown[0], expect=Expect((404,)),
                 description="the app's token, an id never created: 404 with the error body")
    malformed = vocabulary.request_id.prefix + "preflight"
    planner.call(SUITE, "contract paths served", status, path_value=malformed,
                 expect=Expect(tuple(range(400, 500))), description="a malformed id: a 4xx other than 404")
    if config.other_tenant.present:
        planner.call(SUITE, "other tenant accepted", status, path_value=unknown[1], auth=Auth(Speaker.OTHER_TENANT),
                     expect=Expect((404,)), description="the other tenant's token: 404 like the app's")
    if config.unscoped.present:
        scope = vocabulary.answer(Refusal.SCOPE)
        planner.call(SUITE, "unscoped app is an identity", status, path_value=unknown[2], auth=Auth(Speaker.UNSCOPED),
                     expect=Expect((scope.status,), message=scope.message),
                     description=f"the unscoped app's token: the scope error ({scope.status} {scope.message!r})")


def run_preflight(runner: Runner, calls: list) -> None:
    """Send the pre-flight calls; raise `ConfigError` (exit 2) or `UnreachableError`
    (exit 3) with one line that says what to fix."""
    config = runner.config
    answers: dict[str, Observation] = {}
    for call in calls:
        observation = runner.send(call)
        assert observation is not None
        answers[call.check] = observation
        if observation.status in UNAVAILABLE:
            raise UnreachableError(f"{runner.target.base_url} answered the pre-flight with HTTP {observation.status}"
                                   f" ({_message(runner.vocabulary, observation)}); try again later")
        if call.auth.identity is Speaker.APP and call.check == "token accepted":
            _check_token(runner, observation)
        elif call.auth.identity is Speaker.OTHER_TENANT:
            _check_identity(runner.vocabulary, observation, config.other_tenant.client_id, "--other-tenant",
                            expected=404)
        elif call.auth.identity is Speaker.UNSCOPED:
            _check_identity(runner.vocabulary, observation, config.unscoped.client_id, "--unscoped", expected=None)
    _check_paths(answers.get("token accepted"), answers.get("contract paths served"))


def _check_token(runner: Runner, observation: Observation) -> None:
    config, status, vocabulary = runner.config, observation.status, runner.vocabulary
    if status == 403 or _is_scope_error(vocabulary, observation):
        raise ConfigError(f"the deployment refused the app --client-id {config.credentials.client_id}: {status}"
                          f" {_message(vocabulary, observation)!r}; it must be a Bot Admin Console app with the"
                          f" {vocabulary.token.scope!r} scope")
    if _is_credentials_refusal(vocabulary, observation, unreadable=True):
        if config.credentials.can_sign:
            raise ConfigError(f"the deployment refused the token of --client-id {config.credentials.client_id}:"
                              f" {status} {_message(vocabulary, observation)!r}; check --client-secret")
        raise ConfigError(f"the deployment refused the --token: {status} {_message(vocabulary, observation)!r};"
                          " check --token")


def _is_scope_error(vocabulary: Vocabulary, observation: Observation) -> bool:
    """The platform's scope error (`x-error-answers`): its status and its message."""
    scope = vocabulary.answer(Refusal.SCOPE)
    return observation.status == scope.status and _message(vocabulary, observation) == scope.message


def _is_credentials_refusal(vocabulary: Vocabulary, observation: Observation, *, unreadable: bool = False) -> bool:
    """The platform's refusal of the token itself (not of its app's scope): its status,
    and a message other than the scope error's. `unreadable`: what an answer whose
    message cannot be read (not the contract's error body) counts as."""
    statuses = {vocabulary.answer(Refusal.CREDENTIALS).status, vocabulary.answer(Refusal.TOKEN).status}
    if observation.status not in statuses:
        return False
    try:
        message = vocabulary.error_message(observation.json())
    except ValueError:
        message = None
    if message is None:
        return unreadable
    return message != vocabulary.answer(Refusal.SCOPE).message


def _check_paths(unknown: Observation | None, malformed: Observation | None) -> None:
    """Does the base URL serve the contract's paths? Not when it answers with a web
    page, or when a malformed id gets the 404 an unknown id gets (as every path of
    a server that does not have the contract's paths does). An answer that merely
    breaks the contract (another error body, a 500) is the suites' to report."""
    if unknown is None or malformed is None:
        return
    for observation in (unknown, malformed):
        content_type = observation.headers.get("content-type", "(none)")
        if content_type.startswith("text/html") or 300 <= observation.status < 400:
            where = f"{observation.exchange.method} {observation.exchange.url}"
            raise ConfigError(f"the base URL does not serve the contract's paths: {where} answered"
                              f" {observation.status} {content_type}, not the contract's error body; check --base-url")
    if unknown.status == 404 and malformed.status == 404:
        where = f"{malformed.exchange.method} {malformed.exchange.url}"
        raise ConfigError(f"the base URL does not serve the contract's paths: a malformed request id got 404, as"
                          f" an unknown path does ({where}); check --base-url (a missing or extra path prefix?)")


def _check_identity(vocabulary: Vocabulary, observation: Observation, client_id: str | None, flag: str, *,
                    expected: int | None) -> None:
    """`expected`: 404 for the other tenant (it must be able to call the API); None for
    the unscoped app (any answer but a refusal of its token will do)."""
    status = observation.status
    if _is_credentials_refusal(vocabulary, observation):
        raise ConfigError(f"the deployment refused the token of {flag}-client-id {client_id}: {status}"
                          f" {_message(vocabulary, observation)!r}; check {flag}-client-secret")
    if expected == 404 and (status == 403 or _is_scope_error(vocabulary, observation)):
        raise ConfigError(f"{flag}-client-id {client_id} may not call the API"
                          f" ({status} {_message(vocabulary, observation)!r}); the isolation check needs an app of"
                          " another account that has the scope")


def _message(vocabulary: Vocabulary, observation: Observation) -> str:
    """The error body's message, else the start of the body."""
    try:
        message = vocabulary.error_message(observation.json())
    except ValueError:
        message = None
    return (message or observation.body.decode("utf-8", "replace").strip())[:200]
