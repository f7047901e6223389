"""Wall time and requests of default `contracts run`s against the local mock:
as a local target, and treated as remote (one allow-listed user, the default
erase budget of 5), side by side.

Method: start `mockserver run` (one worker, real clock, default settings) on a
free loopback port, then time `contracts run --base-url ...` as a user runs
it (a fresh process, all identities and a refused user from `mockserver apps
--contracts-env`, every suite, default options), `--runs` times per kind in
rotating order; report each run and the medians. The goal is a default run
under 60 s on a 2-core machine.

    .venv/bin/python benchmarks/bench_contracts.py [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mockserver import MockServer

KINDS = {
    "local": [],
    "remote (1 allow-listed user, budget 5)": ["--target-kind", "remote", "--erase-user-id",
                                               "synthetic-user-1@example.com"],
}


def identities() -> dict[str, str]:
    """The CONTRACTS_* variables `mockserver apps --contracts-env` prints."""
    script = Path(sys.executable).parent / "mockserver"
    printed = subprocess.run([str(script), "apps", "--contracts-env"], capture_output=True, text=True,
                             check=True).stdout
    values = {}
    for line in printed.splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        values[name] = shlex.split(value)[0] if value else ""
    return values


def one_run(base_url: str, workdir: Path, seed: int, extra: list[str], env: dict[str, str]) -> tuple[float, int,
                                                                                                        int, str]:
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "contracts.cli", "run", "--base-url", base_url, "--seed", str(seed),
         "--audit-log", str(workdir / "audit.jsonl"), *extra],
        capture_output=True, text=True, timeout=900, env=env,
    )
    elapsed = time.perf_counter() - started
    sent = re.search(r"Requests sent: (\d+); erasing requests sent: (\d+)", result.stdout)
    verdict = re.search(r"Result: (\w+)", result.stdout)
    return (elapsed, int(sent.group(1)) if sent else -1, int(sent.group(2)) if sent else -1,
            verdict.group(1) if verdict else f"exit {result.returncode}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    env = {**os.environ, **identities()}
    rows: dict[str, list[tuple[float, int, int, str]]] = {kind: [] for kind in KINDS}
    with tempfile.TemporaryDirectory() as tmp, MockServer(state=Path(tmp) / "state.db", clock="real") as server:
        for index in range(args.runs):
            order = list(KINDS)[index % len(KINDS):] + list(KINDS)[:index % len(KINDS)]
            for kind in order:
                rows[kind].append(one_run(server.base_url, Path(tmp), 1000 + index, KINDS[kind], env))
    print(f"cores: {os.cpu_count()}; load average before: {os.getloadavg()[0]:.2f}")
    print("| target | run | wall time (s) | requests sent | erasing requests | result |")
    print("|---|---|---|---|---|---|")
    for kind, results in rows.items():
        for index, (elapsed, sent, erasing, verdict) in enumerate(results, 1):
            print(f"| {kind} | {index} | {elapsed:.1f} | {sent} | {erasing} | {verdict} |")
        print(f"| {kind} | median | {statistics.median(r[0] for r in results):.1f} |"
              f" {int(statistics.median(r[1] for r in results))} | {int(statistics.median(r[2] for r in results))}"
              " | |")


if __name__ == "__main__":
    main()
