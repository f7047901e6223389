"""Wall time and requests sent by a default `contracts run` against the local mock.

Method: start `mockserver run` (one worker, real clock, default settings) on a
free loopback port, then time `contracts run --base-url ...` as a user runs
it (a fresh process, all credentials, every suite, default --max-examples),
`--runs` times; report each run and the median. The goal is a default run
under 60 s on a 2-core machine.

    .venv/bin/python benchmarks/bench_contracts.py [--runs 3]
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mockserver import MockServer

CREDENTIALS = [
    "--client-id", "cs-7fc99739-c463-4006-8e64-d6c844a8b67f",
    "--client-secret", "acme-admin-secret-do-not-use-in-production",
    "--other-tenant-client-id", "cs-9cf9cc09-3579-404d-b568-c88b209076a2",
    "--other-tenant-client-secret", "globex-admin-secret-do-not-use-in-production",
    "--unscoped-client-id", "cs-9ce8b318-b267-483c-883f-b1672510b9e3",
    "--unscoped-client-secret", "acme-unscoped-secret-do-not-use-in-production",
]


def one_run(base_url: str, workdir: Path, seed: int) -> tuple[float, int, str]:
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "contracts.cli", "run", "--base-url", base_url, *CREDENTIALS,
         "--seed", str(seed), "--audit-log", str(workdir / "audit.jsonl")],
        capture_output=True, text=True, timeout=900,
    )
    elapsed = time.perf_counter() - started
    sent = re.search(r"Requests sent: (\d+)", result.stdout)
    verdict = "PASSED" if result.returncode == 0 else f"exit {result.returncode}"
    return elapsed, int(sent.group(1)) if sent else -1, verdict


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp, MockServer(state=Path(tmp) / "state.db", clock="real") as server:
        for index in range(args.runs):
            rows.append(one_run(server.base_url, Path(tmp), seed=1000 + index))
    print("| run | wall time (s) | requests sent | result |")
    print("|---|---|---|---|")
    for index, (elapsed, sent, verdict) in enumerate(rows, 1):
        print(f"| {index} | {elapsed:.1f} | {sent} | {verdict} |")
    print(f"| median | {statistics.median(r[0] for r in rows):.1f} | "
          f"{int(statistics.median(r[1] for r in rows))} | |")


if __name__ == "__main__":
    main()
