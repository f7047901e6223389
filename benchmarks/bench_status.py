"""Throughput and latency of the status call: mockserver (1 and 2 workers)
against Stoplight Prism mocking the same openapi.yaml, side by side.

Method: the three targets are started together on loopback (an idle server
costs nothing) and loaded one at a time, in rounds: each round runs
`wrk -t2 -c32` for `--duration` seconds against each target in turn, so any
background noise on the machine spreads over all of them alike. Each target
gets a 2 s warm-up first. Every request is `GET /api/public/bot/eraseUsersData/
status/{reqId}` with a valid token in the `auth` header. mockserver does
the full work: JWT verification, routing and validation from the spec,
the state lookup (SQLite, cached per worker while the answer holds), the
journal. Prism (`-v silent`: request log off) validates
the request against the same contract and answers the spec's example.
Latency percentiles come from wrk's own histogram through a Lua `done()`
hook, in microseconds. Medians over the runs; any non-2xx answer or socket
error is reported, since it would invalidate the number.

    apt-get install wrk; npm ci --prefix benchmarks
    .venv/bin/python benchmarks/bench_status.py [--runs 3] [--duration 10]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRISM = ROOT / "benchmarks" / "node_modules" / ".bin" / "prism"
REQUEST_ID = "eud-eeb6e86b-c0f9-435c-af75-697a909943ea"  # preloaded by the default fixtures
STATUS = f"/api/public/bot/eraseUsersData/status/{REQUEST_ID}"
LUA = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests": %.0f, "duration_us": %.0f, "p50_us": %.0f, "p99_us": %.0f, '
    .. '"non2xx": %.0f, "socket_errors": %.0f}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status, e.connect + e.read + e.write + e.timeout))
end
"""


@dataclass
class Sample:
    rps: float
    p50_ms: float
    p99_ms: float
    non2xx: int
    socket_errors: int


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ready(url: str, headers: dict[str, str], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            request = urllib.request.Request(url, headers=headers)
            with urllib.request.urlopen(request, timeout=2) as response:  # noqa: S310 - loopback
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not answer 200 within {timeout:.0f} s")


def start_mockserver(workers: int, state: Path, journal: bool) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    args = [str(Path(sys.executable).parent / "mockserver"), "run", "--host", "127.0.0.1", "--port", str(port),
            "--state", str(state), "--workers", str(workers), "--log-level", "warning"]
    if not journal:
        args.append("--no-journal")
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True,
                               start_new_session=True)
    return process, f"http://127.0.0.1:{port}"


def start_prism() -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    process = subprocess.Popen(
        [str(PRISM), "mock", "-h", "127.0.0.1", "-p", str(port), "-v", "silent", str(ROOT / "openapi.yaml")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True, start_new_session=True,
    )
    return process, f"http://127.0.0.1:{port}"


def stop(process: subprocess.Popen[str]) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=15)


def wrk(url: str, token: str, duration: float, connections: int, threads: int, script: Path) -> Sample:
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{int(duration)}s", "-s", str(script),
         "-H", f"auth: {token}", url],
        capture_output=True, text=True, timeout=duration + 60,
    ).stdout
    line = next((row for row in out.splitlines() if row.startswith("RESULT ")), None)
    if line is None:
        raise SystemExit(f"wrk printed no result:\n{out}")
    data = json.loads(line[len("RESULT "):])
    return Sample(
        rps=data["requests"] / (data["duration_us"] / 1e6),
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        non2xx=data["non2xx"],
        socket_errors=data["socket_errors"],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    # Two wrk threads for every target alike: one would cap Prism's and our rates
    # at what a single client core can drive.
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-journal", action="store_true", help="Also turn mockserver's journal off.")
    parser.add_argument("--json", type=Path, help="Write the raw samples here.")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is missing: apt-get install wrk")
    if not PRISM.exists():
        raise SystemExit("Prism is missing: npm ci --prefix benchmarks")
    token = subprocess.check_output([str(Path(sys.executable).parent / "mockserver"), "token"], text=True).strip()
    headers = {"auth": token}
    results: dict[str, list[Sample]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "report.lua"
        script.write_text(LUA)
        targets = {
            "mockserver, 1 worker": lambda: start_mockserver(1, Path(tmp) / "w1.db", not args.no_journal),
            "mockserver, 2 workers": lambda: start_mockserver(2, Path(tmp) / "w2.db", not args.no_journal),
            "Prism 5 (log off)": start_prism,
        }
        started: dict[str, tuple[subprocess.Popen[str], str]] = {}
        try:
            for name, start in targets.items():
                started[name] = start()
            for _, base_url in started.values():
                wait_ready(base_url + STATUS, headers)
                wrk(base_url + STATUS, token, 2, args.connections, args.threads, script)  # warm-up
            for _ in range(args.runs):
                for name, (_, base_url) in started.items():
                    sample = wrk(base_url + STATUS, token, args.duration, args.connections, args.threads, script)
                    results.setdefault(name, []).append(sample)
        finally:
            for process, _ in started.values():
                stop(process)
    print(f"GET status, valid token, wrk -t{args.threads} -c{args.connections}, "
          f"{args.runs} x {args.duration:g} s each, medians\n")
    print("| target | req/s | p50 (ms) | p99 (ms) | non-2xx | socket errors |")
    print("|---|---|---|---|---|---|")
    medians = {}
    for name, samples in results.items():
        rps = statistics.median(s.rps for s in samples)
        p50 = statistics.median(s.p50_ms for s in samples)
        p99 = statistics.median(s.p99_ms for s in samples)
        medians[name] = (rps, p99)
        print(f"| {name} | {rps:,.0f} | {p50:.2f} | {p99:.2f} | {sum(s.non2xx for s in samples)} |"
              f" {sum(s.socket_errors for s in samples)} |")
    prism_rps, prism_p99 = medians["Prism 5 (log off)"]
    print()
    for name in ("mockserver, 1 worker", "mockserver, 2 workers"):
        rps, p99 = medians[name]
        print(f"{name}: {rps / prism_rps:.2f}x Prism's throughput, p99 {p99 / prism_p99:.2f}x Prism's")
    bad = [n for n, samples in results.items() if any(s.non2xx or s.socket_errors for s in samples)]
    if bad:
        print(f"\nWARNING: non-2xx answers or socket errors for {', '.join(bad)}: those numbers are not valid")
    if args.json:
        args.json.write_text(json.dumps({n: [s.__dict__ for s in v] for n, v in results.items()}, indent=2))


if __name__ == "__main__":
    main()
