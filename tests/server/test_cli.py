"""The `mockserver` command as users see it: output, exit codes, no secrets."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import jwt
import pytest
from click.testing import CliRunner

from mockserver import MockServer
from mockserver.cli import main
from mockserver.errors import SettingsError
from mockserver.settings import Settings, from_env
from tests.support import PRELOADED, wait_until

DEFAULT_CLIENT = "cs-7fc99739-c463-4006-8e64-d6c844a8b67f"
DEFAULT_SECRET = "acme-admin-secret-do-not-use-in-production"


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


def test_token_is_signed_the_vendors_way() -> None:
    result = invoke("token")
    assert result.exit_code == 0
    token = result.output.strip()
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    claims = jwt.decode(token, DEFAULT_SECRET, algorithms=["HS256"])
    assert claims["appId"] == DEFAULT_CLIENT and "jti" in claims and "sub" in claims
    assert 3590 <= claims["exp"] - time.time() <= 3610


def test_token_options() -> None:
    expired = invoke("token", "--exp", "-60", "--no-jti", "--app", "Globex privacy automation")
    claims = jwt.decode(expired.output.strip(), options={"verify_signature": False})
    assert claims["exp"] < time.time() and "jti" not in claims
    assert claims["appId"] == "cs-9cf9cc09-3579-404d-b568-c88b209076a2"


def test_token_for_an_unknown_app_is_a_one_line_error() -> None:
    result = invoke("token", "--app", "nope")
    assert result.exit_code == 2
    assert result.output.startswith("Error: no app 'nope' in ") and result.output.count("\n") == 1


def test_apps_hides_secrets_unless_asked() -> None:
    shown = json.loads(invoke("apps", "--json").output)
    assert {a["clientId"] for a in shown} >= {DEFAULT_CLIENT}
    assert all("clientSecret" not in a for a in shown)
    assert DEFAULT_SECRET not in invoke("apps").output
    with_secrets = json.loads(invoke("apps", "--json", "--show-secrets").output)
    assert with_secrets[0]["clientSecret"] == DEFAULT_SECRET
    assert set(with_secrets[0]) == {"clientId", "name", "account", "kind", "scopes", "enforceJti", "clientSecret",
                                    "rateLimit"}


def test_apps_shows_each_account_s_rate_limit() -> None:
    """The fixtures' staging account has its own raised limit; the other the contract's; `off` none."""
    shown = {a["account"]: a["rateLimit"] for a in json.loads(invoke("apps", "--json").output)}
    assert shown == {"acme": {"perMinute": 1_000_000, "perHour": 60_000_000},
                     "globex": {"perMinute": 60, "perHour": 1800}}
    assert "account=globex  kind=admin_console  scopes=Delete Users Data  enforceJti=false  rateLimit=60/min,1800/h" \
        in invoke("apps").output
    assert {a["rateLimit"] for a in json.loads(invoke("apps", "--json", "--rate-limit", "off").output)} == {None}
    globex = [a for a in json.loads(invoke("apps", "--json", "--rate-limit", "600/18000").output)
              if a["account"] == "globex"]
    assert globex[0]["rateLimit"] == {"perMinute": 600, "perHour": 18000}
    result = invoke("apps", "--rate-limit", "lots")
    assert result.exit_code != 0 and result.output.count("\n") == 1 and "--rate-limit 'lots'" in result.output


def test_fixtures_check_accepts_the_defaults() -> None:
    result = invoke("fixtures", "check", "mockserver/vendor/default_fixtures.yaml")
    assert result.exit_code == 0
    assert result.output == (
        "mockserver/vendor/default_fixtures.yaml: OK (2 accounts, 5 apps, 1 preloaded requests)\n"
    )


def test_fixtures_check_reports_every_error_with_its_location(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "accounts:\n"
        "  - id: a\n"
        "    bots: [{id: not-a-bot}]\n"
        "    apps: [{clientId: cs-x, clientSecret: short}]\n"
        "requests:\n"
        "  - {requestId: eud-1, account: zz, users: [{userId: u, status: DONE}]}\n"
    )
    result = invoke("fixtures", "check", str(bad))
    assert result.exit_code == 2
    text = result.output  # stdout and stderr, as a terminal shows them
    for where in ("accounts[0].bots[0].id", "accounts[0].apps[0].clientId",
                  "accounts[0].apps[0].clientSecret", "requests[0].requestId",
                  "requests[0].users[0].status"):
        assert f"{bad}: {where}: " in text, text
    assert text.rstrip().endswith("problem(s)")


def test_fixtures_check_unknown_account(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "accounts: [{id: a, apps: []}]\n"
        "requests: [{requestId: eud-00000000-0000-4000-8000-000000000001, account: zz,"
        " users: [{userId: u, status: SUCCESS}]}]\n"
    )
    result = invoke("fixtures", "check", str(bad))
    assert result.exit_code == 2 and "requests[0].account: unknown account 'zz' (known: a)" in result.output


def test_fixtures_check_unreadable_yaml(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("accounts: [\n")
    result = invoke("fixtures", "check", str(bad))
    assert result.exit_code == 2 and "line 2, column 1: not valid YAML/JSON" in result.output


@pytest.mark.parametrize("args", [
    ["run", "--workers", "0"],
    ["run", "--clock", "sometimes"],
    ["run", "--port", "http"],
    ["run", "--port", "99999"],
    ["run", "--progress-delay", "-1"],
    ["run", "--fixtures", "/nonexistent.yaml"],
])
def test_run_misuse_is_a_one_line_error(args: list[str]) -> None:
    result = subprocess.run([sys.executable, "-m", "mockserver", *args], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.count("\n") <= 3 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("Error")


def test_settings_come_from_the_environment() -> None:
    settings = from_env({"MOCKSERVER_WORKERS": "2", "MOCKSERVER_JOURNAL": "no", "MOCKSERVER_CLOCK": "manual",
                         "MOCKSERVER_PROGRESS_DELAY": "1.5", "MOCKSERVER_JOURNAL_BODIES": "TRUE",
                         "MOCKSERVER_PORT": ""})  # empty: not set
    assert (settings.workers, settings.journal, settings.journal_bodies) == (2, False, True)
    assert (settings.clock, settings.progress_delay, settings.port) == ("manual", 1.5, Settings().port)


@pytest.mark.parametrize(("variable", "value", "message"), [
    ("MOCKSERVER_WORKERS", "many", "MOCKSERVER_WORKERS='many' is not a valid int"),
    ("MOCKSERVER_JOURNAL", "maybe", "MOCKSERVER_JOURNAL='maybe' is not a valid bool"),
    ("MOCKSERVER_CLOCK", "lunar", "MOCKSERVER_CLOCK='lunar': choose one of real, manual"),
])
def test_a_bad_environment_variable_is_a_one_line_error(variable: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError) as refused:
        from_env({variable: value})
    assert str(refused.value) == message
    result = CliRunner().invoke(main, ["run"], env={variable: value})
    assert result.exit_code == 2 and result.output == f"Error: {message}\n"


def test_run_on_a_busy_port_is_a_one_line_error() -> None:
    with MockServer(state=":memory:") as server:
        port = server.base_url.rsplit(":", 1)[1]
        result = subprocess.run([sys.executable, "-m", "mockserver", "run", "--port", port,
                                 "--state", ":memory:"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert f"Error: cannot listen on 127.0.0.1:{port}" in result.stderr


def test_run_banner_has_url_client_id_and_curl_but_no_secret(tmp_path: Path) -> None:
    with MockServer(state=tmp_path / "s.db") as server:
        wait_until(lambda: "try: curl" in "".join(server.output))
        banner = "".join(server.output)
    assert f"mockserver listening on {server.base_url}\n" in banner
    assert DEFAULT_CLIENT in banner
    assert f"curl -s {server.base_url}/api/public/bot/eraseUsersData/status/{PRELOADED}" in banner
    assert re.search(r'-H "auth: \$\((mockserver|\S+/mockserver) token\)"', banner), banner
    assert DEFAULT_SECRET not in banner and "eyJ" not in banner


def test_ctrl_c_stops_run_with_the_mocks_own_line_not_clicks_aborted() -> None:
    """SIGINT, as a terminal's Ctrl-C sends it: uvicorn shuts down, then raises the signal
    again; the user sees one line of ours and the shell's status for an interrupt."""
    process = subprocess.Popen([sys.executable, "-m", "mockserver", "run", "--port", "0", "--state", ":memory:"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert process.stdout is not None
        lines = []
        while not any("Application startup complete" in line for line in lines):
            line = process.stdout.readline()
            assert line, "".join(lines)
            lines.append(line)
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130
    assert "Aborted" not in rest
    assert rest.rstrip().splitlines()[-1] == "mockserver stopped (interrupted)"
