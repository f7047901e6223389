"""The README's promises: its two first commands, and CI running the second one."""

from __future__ import annotations

import re

from tests.conftest import ROOT


def _readme_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    return re.findall(r"```sh\n(.+?)\n```", readme)[:2]


def test_readme_opens_with_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    install_and_run, install_and_test = _readme_commands()
    assert readme.index(install_and_run) < 200
    assert "pip install" in install_and_run and "pip install" in install_and_test
    assert install_and_test.endswith(".venv/bin/pytest")


def test_ci_runs_the_readme_test_command_exactly() -> None:
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert _readme_commands()[1] in ci


def test_every_spec_decision_is_noted() -> None:
    notes = (ROOT / "docs" / "spec-notes.md").read_text()
    for topic in ("3.0.3", "ISODate", "stray quote", "IN_PROGRESS", "errors", "eud-", "1 MiB"):
        assert topic in notes


def test_every_mockserver_setting_is_documented() -> None:
    from mockserver.settings import SETTINGS

    readme = (ROOT / "README.md").read_text()
    for setting in SETTINGS:
        flag = "--" + setting.name.replace("_", "-")
        assert f"`{flag}" in readme and f"`{setting.env_var}`" in readme, setting.name


def test_readme_integration_test_example_runs(tmp_path) -> None:

    readme = (ROOT / "README.md").read_text()
    example = next(b for b in re.findall(r"```python\n(.+?)```", readme, re.S) if "MockServer(" in b)
    assert len(example.strip().splitlines()) <= 12
    _passes_under_pytest(example, tmp_path)


def _passes_under_pytest(example: str, directory) -> None:
    """`example`, as a test module of its own, passes in a pytest of its own."""
    import subprocess
    import sys

    (directory / "test_example.py").write_text(example)
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                             str(directory / "test_example.py")],
                            capture_output=True, text=True, timeout=120, cwd=directory)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def test_ci_doc_mock_job_wiring_works(tmp_path) -> None:
    """docs/ci.md's mock job: the apps' credentials reach `contracts run` through env vars
    (all three identities: the stateful suite uses the app's, the auth suite the others')."""
    import subprocess
    import sys
    from pathlib import Path

    from mockserver import MockServer

    assert 'eval "$(.venv/bin/mockserver apps --contracts-env)"' in (ROOT / "docs" / "ci.md").read_text()
    bin_dir = Path(sys.executable).parent
    with MockServer(state=tmp_path / "s.db", clock="real", progress_delay=0.2) as server:
        script = (f'eval "$({bin_dir}/mockserver apps --contracts-env)" && '
                  f'{bin_dir}/contracts run --base-url {server.base_url} --max-examples 5 '
                  f'--suite stateful --suite auth --audit-log {tmp_path}/audit.jsonl')
        result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Result: PASSED (0 violations; every selected check ran)" in result.stdout


WIRING = " --max-examples 5 --suite stateful --suite lifecycle --suite auth"


def test_ci_doc_staging_job_runs_as_written(tmp_path) -> None:
    """docs/ci.md's staging job, step by step, against a mock standing in for staging: its
    wiring (the environment, the plan, the reports, the audit log), with the suites that create,
    poll and use every identity (every suite against a remote target: test_contracts_staging)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    import yaml

    from mockserver import MockServer

    text = (ROOT / "docs" / "ci.md").read_text()
    job = next(yaml.safe_load(block) for block in re.findall(r"```yaml\n(.+?)```", text, re.S)
               if "contract-staging" in block)["jobs"]["contract-staging"]
    steps = [step["run"] for step in job["steps"] if "contracts run" in step.get("run", "")]
    assert len(steps) == 2 and "--dry-run" in steps[0]
    bin_dir = Path(sys.executable).parent
    with MockServer(state=tmp_path / "s.db", clock="real", progress_delay=0.2) as server:
        apps = subprocess.run([bin_dir / "mockserver", "apps", "--contracts-env"], capture_output=True, text=True,
                              check=True).stdout
        values = dict(re.findall(r"export (\w+)=(\S+)", apps.replace("'", "")))
        env = dict(os.environ)
        for name in job["env"]:
            env[name] = values.get(name, "")
        env["CONTRACTS_BASE_URL"] = server.base_url
        env["CONTRACTS_ERASE_USER_IDS"] = "qa-user@example.com"
        env["CONTRACTS_REFUSED_USER_IDS"] = values["CONTRACTS_REFUSED_USER_IDS"].split()[0]
        for step in steps:
            script = step.strip().replace(".venv/bin/", f"{bin_dir}/") + WIRING
            result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=600, env=env,
                                    cwd=tmp_path)
            assert result.returncode == 0, result.stdout + result.stderr
    assert "Result: PASSED" in result.stdout
    assert (tmp_path / "reports" / "contract.html").exists() and (tmp_path / "reports" / "erase-audit.jsonl").exists()


def test_readme_diff_example_runs_as_written(tmp_path) -> None:
    """The README's worked `contracts diff` example, on free ports instead of 8080/8081, and
    erases that take 0.2 s instead of 2 (the lifecycle polls wait for them; nothing else changes)."""
    import socket
    import subprocess
    import sys
    from pathlib import Path

    readme = (ROOT / "README.md").read_text()
    example = next(b for b in re.findall(r"```sh\n(.+?)```", readme, re.S) if "requestIdFormat" in b)
    ports = []
    for _ in range(2):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            ports.append(str(probe.getsockname()[1]))
    bin_dir = Path(sys.executable).parent
    script = example.replace("8080", ports[0]).replace("8081", ports[1]).replace(".venv/bin/", f"{bin_dir}/")
    script = script.replace("--state :memory:", "--state :memory: --progress-delay 0.2")
    assert script.count("--progress-delay 0.2") == 2
    ready = " && ".join(f"curl -fs http://127.0.0.1:{port}/__mockserver/health >/dev/null" for port in ports)
    lines = ["trap 'kill $(jobs -p) 2>/dev/null' EXIT"]
    for line in script.strip().splitlines():
        if line.startswith("curl"):  # the servers started in the background: wait until both answer
            lines.append(f"for i in $(seq 100); do {ready} && break; sleep 0.1; done")
        lines.append(line)
    script = "\n".join(lines) + " --audit-log audit.jsonl"
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert "Root causes (1):" in result.stdout, result.stdout + result.stderr
    assert re.search(r"row 9, request id format: \d+ calls differ", result.stdout)
    assert "fix: the contract" in result.stdout and "--ignore 'row:9'" in result.stdout


def _readme_block(marker: str) -> str:
    readme = (ROOT / "README.md").read_text()
    return next(b for b in re.findall(r"```python\n(.+?)```", readme, re.S) if marker in b)


def test_readme_journal_example_runs_and_its_failure_message_is_real(mock) -> None:
    import pytest

    namespace: dict = {}
    exec(_readme_block("assert_called("), namespace)  # noqa: S102 - the README's own example
    namespace["test_jane_is_erased_once"](mock)

    mock.reset()
    token = mock.token()
    mock.http.request("DELETE", "/api/public/bot/eraseUsersData", headers={"auth": token},
                      json={"userIds": ["jane@example.com"]})
    mock.http.put("/api/public/bot/eraseUsersData", headers={"auth": token})
    with pytest.raises(AssertionError) as failed:
        mock.assert_called("createEraseRequest", times=1, json={"userIds": ["jane.doe@example.com"]})
    readme = (ROOT / "README.md").read_text()
    start = readme.index("```\nAssertionError: expected") + len("```\nAssertionError: ")
    def ids_out(text: str) -> str:  # journal ids go on across resets: the README shows a fresh mock's
        return re.sub(r"#\d+ ", "#N ", text)

    assert ids_out(readme[start:readme.index("```", start)].strip()) == ids_out(str(failed.value))


def test_readme_scripted_outcome_example_runs_as_written(tmp_path) -> None:
    """The worked example of a 32-day erase: the README's block, run by pytest as it stands."""
    example = _readme_block("ErasureOverdue")
    assert "timedelta(days=32)" in example
    _passes_under_pytest(example, tmp_path)


def test_every_public_method_of_the_test_clients_is_documented() -> None:
    import inspect

    from mockserver.testing.control_client import ControlClient
    from mockserver.testing.mock_app import MockApp
    from mockserver.testing.mock_server import MockServer

    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## The mock server"):readme.index("## Contract checks against any deployment")]
    for cls in (ControlClient, MockServer, MockApp):
        for name, _ in inspect.getmembers(cls):
            if not name.startswith("_") and name in cls.__dict__:
                assert f"`{name}" in section or f" `{name}(" in section, f"{cls.__name__}.{name}"
