"""A verdict you can trust against a remote deployment: each finding of the
staging review, reproduced, and what the runner does about it now."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from junitparser import JUnitXml

from contracts import reporting
from contracts.cli import main
from contracts.core.redaction import FRAGMENT
from contracts.core.spec import load_spec
from contracts.core.vocabulary import Vocabulary
from contracts.reporting import markdown, terminal
from mockserver import MockServer
from mockserver.testing.mock_app import MockApp
from tests import broken_mock, deployments
from tests.support import ACME, ACME_STRICT, SECRETS, Recording, credential_args, run_against, run_config

#: One worker runs the in-process contract runs: they share its memo of draws (`contracts.planning.planner`).
pytestmark = pytest.mark.xdist_group("in-process-runs")
ALLOWED = ("synthetic-user-1@example.com",)
VOCABULARY = Vocabulary.of(load_spec())


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MockServer]:
    with MockServer(state=tmp_path_factory.mktemp("staging") / "s.db", clock="real", progress_delay=0.2) as server:
        yield server


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["run", *args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def creates_on_the_wire(wire: Recording) -> list[tuple[str, bytes]]:
    paths = {op.path for op in VOCABULARY.create}
    return [(r.method, r.content) for r in wire.requests if r.url.path in paths]


def erasing(body: bytes) -> bool:
    from contracts.safety.policy import BodyPolicy

    return BodyPolicy(VOCABULARY, True, ()).may_erase(body)


def tokens_sent(wire: Recording) -> list[str]:
    return [r.headers["auth"] for r in wire.requests if r.headers.get("auth", "").count(".") == 2]


def jti(token: str) -> str | None:
    body = token.split(".")[1]
    try:
        return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))).get("jti")
    except ValueError:
        return None


# 1. The budget covers every suite: one allow-listed user, the default budget, every suite runs.

def test_remote_target_with_one_allow_listed_user_and_the_default_budget_passes_every_suite() -> None:
    with MockApp(clock="manual") as mock:
        report, wire = run_against(mock.asgi, target_kind="remote", erase_user_ids=ALLOWED, refused_user_ids=(),
                                   max_examples=10, sleep=mock.advance)
    output = terminal.render(report)
    assert report.verdict == "PASSED", output
    for suite in ("conformance", "stateful", "auth", "request-ids", "lifecycle"):
        assert any(r.suite == suite and r.sent for r in report.rows), suite
        assert f"PASS  {suite}  (" in output
    for check in ("resource_available", "tenant_isolation", "request_id_unique", "auth_rejected", "auth_scope",
                  "completion"):
        assert any(r.check == check and r.state == "passed" and r.sent for r in report.rows), check
    sent = [body for _, body in creates_on_the_wire(wire) if erasing(body)]
    assert 2 <= len(sent) <= 5 == report.outcome.budget.cap
    assert f"erasing requests sent: {len(sent)} (budget 5;" in output


def test_a_budget_too_small_for_a_core_check_makes_the_run_incomplete_and_names_it() -> None:
    with MockApp(clock="manual") as mock:
        report, wire = run_against(mock.asgi, target_kind="remote", erase_user_ids=ALLOWED, max_erase_requests=1,
                                   max_examples=5, sleep=mock.advance)
    output = terminal.render(report)
    assert report.verdict == "INCOMPLETE" and report.exit_code == 4, output
    assert "… incomplete request_id_unique [" in output and "--max-erase-requests 1" in output
    assert len([b for _, b in creates_on_the_wire(wire) if erasing(b)]) == 1


# 2. A configuration error is exit 2 in one line, not a flood of violations.

@pytest.mark.xdist_group("live-staging")  # the module's `live` server, built once
def test_a_wrong_secret_is_a_one_line_configuration_error(live: MockServer) -> None:
    code, output = cli("--base-url", live.base_url, "--client-id", ACME[0], "--client-secret", "not-the-secret")
    assert code == 2
    assert output == (f"Error: the deployment refused the token of --client-id {ACME[0]}: 401 'Invalid SDK"
                      " credentials'; check --client-secret\n")


@pytest.mark.xdist_group("live-staging")  # the module's `live` server, built once
def test_a_wrong_base_path_is_a_one_line_configuration_error(live: MockServer) -> None:
    code, output = cli("--base-url", live.base_url + "/api", *credential_args())
    assert code == 2 and output.count("\n") == 1
    assert "does not serve the contract's paths" in output and "check --base-url" in output


def test_an_html_site_is_not_the_deployment(tmp_path: Path) -> None:
    async def site(scope, receive, send):  # type: ignore[no-untyped-def]
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": 404, "headers": [(b"content-type", b"text/html")]})
            await send({"type": "http.response.body", "body": b"<html>Not here</html>"})

    from contracts.core.errors import ConfigError

    with pytest.raises(ConfigError, match=r"answered 404 text/html, not the contract's error body; check --base-url"):
        run_against(site)


@pytest.mark.xdist_group("live-staging")  # the module's `live` server, built once
def test_an_unscoped_app_with_a_wrong_secret_names_its_flag(live: MockServer) -> None:
    args = credential_args()
    args[args.index("--unscoped-client-secret") + 1] = "wrong"
    code, output = cli("--base-url", live.base_url, *args)
    assert code == 2 and "check --unscoped-client-secret" in output and output.count("\n") == 1


# 3. A fresh token, with a fresh jti, for every request: schemathesis's own included.

def test_every_request_carries_a_token_never_sent_before() -> None:
    app = deployments.RefusesSecondUse(deployments.mock())
    config = run_config(credentials=run_config().credentials.__class__(*ACME_STRICT), max_examples=10)
    report, wire = run_against(app, config)
    assert report.verdict == "PASSED", terminal.render(report)
    sent = tokens_sent(wire)
    assert len(sent) > 200 and len(set(sent)) == len(sent)
    ids = [jti(t) for t in sent]
    assert all(ids) and len(set(ids)) == len(ids)


def test_a_deployment_refusing_valid_traffic_does_not_pass() -> None:
    report, _ = run_against(deployments.RefusesEveryOtherValidToken(deployments.mock()))
    output = terminal.render(report)
    assert report.verdict == "FAILED", output
    assert "[valid_traffic_accepted]" in output and "calls with a fresh valid token and valid data were refused" \
        in output


# 4. The deny-list judges the host the HTTP library will contact.

@pytest.mark.parametrize("url", [
    "http://platform%2ekore%2eai", "https://PLATFORM.KORE.AI./", "https://bots.kore.ai:443/x",
    "http://eu.platform.kore.ai", "https://platform.kore.ai%2e",
])
def test_disguised_production_hosts_are_refused(url: str) -> None:
    code, output = cli("--base-url", url, *credential_args())
    assert code == 2 and "production host of the vendor (deny-list)" in output and output.count("\n") == 1


# 5. Every erasing request on the wire counts, retries and re-sends included; sent and created are apart.

def test_the_erase_budget_counts_every_erasing_request_on_the_wire() -> None:
    app = deployments.RateLimitedCreates(deployments.mock())
    report, wire = run_against(app, max_erase_requests=3, sleep=lambda seconds: None)
    on_the_wire = [body for _, body in creates_on_the_wire(wire) if erasing(body)]
    assert len(on_the_wire) == 3 == report.outcome.budget.sent
    created = len(report.outcome.audit.created)
    output = terminal.render(report)
    assert "erasing requests sent: 3 (budget 3;" in output and f"erase requests created: {created}" in output
    assert created < 3  # 3 of 5 creates were refused with 429


def test_no_check_of_schemathesis_re_sends_a_request_behind_the_plan() -> None:
    with MockApp(clock="manual") as mock:
        report, wire = run_against(mock.asgi, sleep=mock.advance)
    assert len(wire.requests) == report.outcome.transport.sent


# 6. On a remote target, every string of every create body is allow-listed (bot ids where expected).

def test_create_bodies_on_a_remote_target_name_only_allow_listed_users() -> None:
    with MockApp(clock="manual") as mock:  # a fast pace: the request budget is the run's quarter of the hourly limit
        report, wire = run_against(mock.asgi, target_kind="remote", erase_user_ids=ALLOWED, refused_user_ids=(),
                                   max_examples=25, sleep=mock.advance, rate=6000)
    creates = creates_on_the_wire(wire)
    assert len(creates) > 100
    bot_field = VOCABULARY.fields.bot_ids
    for _, body in creates:
        if not body:
            continue  # no body at all: it names no one
        try:
            value = json.loads(body)
        except ValueError:
            pytest.fail(f"a create body that is not JSON was sent: {body[:80]!r}")
        for path, string in _strings(value):
            is_bot_id = len(path) >= 1 and path[0] == bot_field and VOCABULARY.bot_id.matches(string)
            assert string in ALLOWED or is_bot_id or string == "", (path, string, body[:200])
    assert report.verdict == "PASSED", terminal.render(report)


def _strings(value: object, path: tuple = ()) -> Iterator[tuple[tuple, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, (*path, key))
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item, path)


# 7. Redaction catches any fragment of 16+ characters of any token the run minted.

def test_a_deployment_echoing_the_token_leaks_no_fragment_into_any_output(tmp_path: Path) -> None:
    app = deployments.EchoesAuth(deployments.mock())
    junit, html_path, md = tmp_path / "j.xml", tmp_path / "r.html", tmp_path / "r.md"
    report, wire = run_against(app, run_config(junit_xml=junit, report=html_path))
    reporting.write(report)
    assert report.verdict == "FAILED"
    texts = [terminal.render(report), junit.read_text(), html_path.read_text(), markdown.render(report)]
    md.write_text(texts[-1])
    assert "refused token [redacted]" in texts[0]
    fragments = {token[i:i + FRAGMENT] for token in tokens_sent(wire) for i in range(len(token) - FRAGMENT + 1)}
    assert fragments
    for text in texts:  # no stretch of FRAGMENT characters of any output is a stretch of any token
        assert not fragments & {text[i:i + FRAGMENT] for i in range(len(text) - FRAGMENT + 1)}
    for text in texts:
        assert not any(secret in text for secret in SECRETS)


# 8. JUnit: one testcase per suite, check and operation, with durations; failures in their own suite.

def test_junit_has_a_testcase_per_check_and_operation_in_the_suite_that_failed(tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    report, _ = run_against(broken_mock.build("request-id-format", str(tmp_path / "s.db")),
                            run_config(junit_xml=junit, unscoped=run_config().other_tenant.__class__()))
    reporting.write(report)
    parsed = JUnitXml.fromfile(str(junit))
    suites = {suite.name: suite for suite in parsed}
    assert {"conformance", "stateful", "auth", "request-ids", "lifecycle"} <= set(suites)
    failing = [case for case in suites["request-ids"] if case.result and case.result[0]._tag == "failure"]
    assert any(case.name.startswith("request_id_format [") for case in failing)
    assert all(case.classname == f"contracts.{name}" for name, suite in suites.items() for case in suite)
    assert any(float(case.time) > 0 for case in suites["conformance"])
    skipped = [case for case in suites["auth"] if case.result and case.result[0]._tag == "skipped"]
    assert skipped and all("--unscoped-client-id" in case.result[0].message for case in skipped)


# 9. The HTML report is a page people read: self-contained, a verdict, a matrix, at most 200 KB.

def test_html_report_is_one_self_contained_page_with_verdict_and_matrix(tmp_path: Path) -> None:
    path = tmp_path / "report.html"
    with MockApp(clock="manual") as mock:
        report, _ = run_against(mock.asgi, run_config(report=path, max_examples=25), sleep=mock.advance)
    reporting.write(report)
    page = path.read_text()
    assert report.counts["created"] > 20  # more than the page lists (below)
    assert len(page.encode()) <= 200_000
    assert "<pre>" not in page.split("<h2>Violations")[0]  # not Markdown in a <pre>
    assert "id='verdict'" in page and "id='matrix'" in page and "PASSED" in page
    assert not re.search(r"(src|href)\s*=\s*['\"]?(https?:)?//", page)  # no external assets
    assert "<details>" in page and page.count("<li><code>eud-") <= 20
