"""Throughput and latency of the status call: `mockserver run` (1 and 2 workers)
against Stoplight Prism mocking the same openapi.yaml, side by side.

What is measured: `GET /api/public/bot/eraseUsersData/status/{reqId}` for the
request id the default fixtures preload, with a valid JWT (from `mockserver
token`) in the `auth` header, on keep-alive connections, 32 at a time.

Targets, all on 127.0.0.1 and all started by this script:

1. `mockserver run --workers 1`, 2. `mockserver run --workers 2`: default
   settings (journal on, real clock), `--log-level warning`, each with its own
   fresh SQLite state file; `--port 0`, the real port is read from the
   `mockserver listening on ...` banner; ready when `/__mockserver/health`
   answers 200. The server does the whole job: JWT check, routing and
   validation from the spec, state lookup, journal.
3. Prism 5 (`prism mock -h 127.0.0.1 -p PORT --errors=false -v silent
   openapi.yaml`): `-v silent` turns its request log off (at the default
   `info` level it logs several lines per request); `--errors=false` is its
   default, written out. Prism checks that the `auth` apiKey header is there
   (not its value) and answers the spec's example; ready when the status call
   answers 200.

Method: the three targets run side by side (an idle server costs next to
nothing) and are loaded one at a time, in rounds: each round runs wrk for
`--duration` seconds against each target, the order rotating from one round
to the next, so that background noise and drift spread over all targets
alike. Before the rounds each target gets a `--warmup` (Prism's JIT, the
mockserver's caches); before every measured run the target must answer 200
(for the mockserver, with the requested id in the body). The load generator
and its settings are the same for all: `wrk -t2 -c32 --timeout 2s` with
a Lua `done()` hook that prints the latency percentiles from wrk's own
histogram in microseconds (wrk's text output rounds them). wrk does not call
Lua per request (no `request()`/`response()` hook), so the hook costs nothing
during the run.

Report: medians over the runs of req/s, p50 and p99, a Markdown table, and
the ratios mockserver/Prism for throughput (higher is better for the
mockserver) and p99 (lower is better). Every run's error answers and socket
errors (connect, read, write, timeout) are counted and flagged: a run with
any of them is not a valid measurement. wrk counts a response as an error
when its status is 400 or more (its "Non-2xx or 3xx responses"); the status
call never redirects, so in practice that is "non-2xx".

Requirements (checked at start): `apt-get install wrk`; `npm ci --prefix
benchmarks` for Prism.

    .venv/bin/python benchmarks/bench_status.py [--runs 3] [--duration 10] [--json results.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "openapi.yaml"
PRISM = ROOT / "benchmarks" / "node_modules" / ".bin" / "prism"
MOCKSERVER = Path(sys.executable).parent / "mockserver"
HOST = "127.0.0.1"  # the only address this script ever sends traffic to
REQUEST_ID = "eud-eeb6e86b-c0f9-435c-af75-697a909943ea"  # preloaded by the default fixtures
STATUS_PATH = f"/api/public/bot/eraseUsersData/status/{REQUEST_ID}"
HEALTH_PATH = "/__mockserver/health"
BANNER = re.compile(r"^mockserver listening on (http://127\.0\.0\.1:\d+)\s*$")
PRISM_NAME = "Prism 5 (request log off)"
WRK_TIMEOUT = "2s"  # wrk's default, written out: a slower answer counts as a socket error
START_TIMEOUT = 60.0
BUSY_LOAD = 0.5  # 1-minute load average above which the machine is not quiet enough to measure

# One JSON line from wrk's `done()` hook. Latencies are in microseconds;
# `summary.errors.status` counts answers with status >= 400.
WRK_LUA = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests": %d, "duration_us": %d, "bytes": %d, '
    .. '"p50_us": %d, "p90_us": %d, "p99_us": %d, "mean_us": %.1f, "max_us": %d, '
    .. '"non2xx": %d, "connect_errors": %d, "read_errors": %d, "write_errors": %d, "timeouts": %d}\n',
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean, latency.max,
    e.status, e.connect, e.read, e.write, e.timeout))
end
"""


@dataclass(frozen=True)
class Sample:
    """One wrk run against one target."""

    round: int
    rps: float
    requests: int
    duration_s: float
    p50_us: int
    p90_us: int
    p99_us: int
    mean_us: float
    max_us: int
    non2xx: int
    socket_errors: int
    connect_errors: int
    read_errors: int
    write_errors: int
    timeouts: int
    wrk_cpu_s: float  # CPU time wrk itself used (user + system), to see the client's share

    @property
    def valid(self) -> bool:
        return self.non2xx == 0 and self.socket_errors == 0


@dataclass
class Target:
    """A server this script started, and what it measured on it."""

    name: str
    command: list[str]
    process: subprocess.Popen[bytes]
    base_url: str
    log: Path
    check: Callable[[int, bytes], bool]  # is this status answer a proper one?
    samples: list[Sample] = field(default_factory=list)

    def median(self, attribute: str) -> float:
        return statistics.median(float(getattr(sample, attribute)) for sample in self.samples)


class BenchError(Exception):
    """The benchmark cannot run or its result would be meaningless."""


# --- processes -----------------------------------------------------------------


def spawn(command: list[str], log: Path) -> subprocess.Popen[bytes]:
    """Start `command` in a new session (its own process group, so stopping it
    also stops any child it forks); stdout and stderr go to `log`, a file, so a
    chatty server can never block on a full pipe."""
    with log.open("wb") as out:
        return subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the process group this script started (its id is the leader's pid,
    thanks to start_new_session): SIGTERM, then SIGKILL whatever is left of the
    group after 10 s."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + 10.0
    with suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10.0)
    while time.monotonic() < deadline and group_alive(process.pid):
        time.sleep(0.1)
    if group_alive(process.pid):
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    with suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5.0)


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def tail(log: Path, lines: int = 20) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def free_port() -> int:
    """A port free on 127.0.0.1 now (for Prism, which cannot be told port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def get(url: str, headers: dict[str, str]) -> tuple[int, bytes]:
    """GET on loopback; (status, body), status 0 when nothing answered."""
    assert url.startswith(f"http://{HOST}:"), url
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - loopback only
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError:
        return 0, b""


def wait_until(target_name: str, process: subprocess.Popen[bytes], log: Path, ready: Callable[[], bool]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(f"{target_name} exited with {process.returncode} while starting:\n{tail(log)}")
        if ready():
            return
        time.sleep(0.2)
    raise BenchError(f"{target_name} not ready after {START_TIMEOUT:.0f} s:\n{tail(log)}")


def answers_request(status: int, body: bytes) -> bool:
    """The mockserver's proper answer: 200 with the requested erase request."""
    if status != 200:
        return False
    try:
        data = json.loads(body)
    except ValueError:
        return False
    return isinstance(data, dict) and data.get("_id") == REQUEST_ID


def start_mockserver(name: str, workers: int, workdir: Path, journal: bool, extra: tuple[str, ...] = ()) -> Target:
    """`mockserver run` on a free loopback port with its own state file in `workdir`
    (and `extra` options), once it answers its health check."""
    workdir.mkdir()
    log = workdir / "mockserver.log"
    command = [str(MOCKSERVER), "run", "--host", HOST, "--port", "0", "--state", str(workdir / "state.db"),
               "--workers", str(workers), "--log-level", "warning", *extra]
    if not journal:
        command.append("--no-journal")
    process = spawn(command, log)
    base_url = ""

    def banner_read() -> bool:
        nonlocal base_url
        text = log.read_text(errors="replace")
        if "\n" not in text:
            return False
        first = text.splitlines()[0]
        match = BANNER.match(first)
        if match is None:
            raise BenchError(f"{name}: unexpected first line {first!r}")
        base_url = match.group(1)
        return True

    target = Target(name, command, process, "", log, check=answers_request)
    try:
        wait_until(name, process, log, banner_read)
        target.base_url = base_url
        wait_until(name, process, log, lambda: get(base_url + HEALTH_PATH, {})[0] == 200)
    except BaseException:
        stop(process)
        raise
    return target


def start_prism(workdir: Path, token: str) -> Target:
    workdir.mkdir()
    log = workdir / "prism.log"
    port = free_port()
    command = [str(PRISM), "mock", "-h", HOST, "-p", str(port), "--errors=false", "-v", "silent", str(SPEC)]
    process = spawn(command, log)
    base_url = f"http://{HOST}:{port}"
    target = Target(PRISM_NAME, command, process, base_url, log, check=lambda status, body: status == 200)
    try:
        # With `-v silent` Prism prints no "listening" line: poll the call itself.
        wait_until(PRISM_NAME, process, log, lambda: get(base_url + STATUS_PATH, {"auth": token})[0] == 200)
    except BaseException:
        stop(process)
        raise
    return target


# --- load ----------------------------------------------------------------------


def preflight(target: Target, token: str) -> None:
    """The target must answer the status call properly before it is loaded."""
    if target.process.poll() is not None:
        raise BenchError(f"{target.name} exited with {target.process.returncode}:\n{tail(target.log)}")
    status, body = get(target.base_url + STATUS_PATH, {"auth": token})
    if not target.check(status, body):
        raise BenchError(f"{target.name} answered {status} to the status call: {body[:300]!r}")


def run_wrk(target: Target, token: str, seconds: int, threads: int, connections: int, lua: Path,
            round_: int, path: str = STATUS_PATH) -> Sample:
    """One wrk run on `path` (the status call unless told; `lua` may set another
    method and a body, and must print the RESULT line of `WRK_LUA`)."""
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", f"--timeout={WRK_TIMEOUT}",
               "-s", str(lua), "-H", f"auth: {token}", target.base_url + path]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    wrk_cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    line = next((row for row in result.stdout.splitlines() if row.startswith("RESULT ")), None)
    if result.returncode != 0 or line is None:
        raise BenchError(f"wrk failed ({result.returncode}) on {target.name}:\n{result.stdout}{result.stderr}")
    data: dict[str, Any] = json.loads(line.removeprefix("RESULT "))
    duration_s = data["duration_us"] / 1e6
    socket_errors = data["connect_errors"] + data["read_errors"] + data["write_errors"] + data["timeouts"]
    return Sample(
        round=round_, rps=data["requests"] / duration_s, requests=data["requests"], duration_s=duration_s,
        p50_us=data["p50_us"], p90_us=data["p90_us"], p99_us=data["p99_us"], mean_us=data["mean_us"],
        max_us=data["max_us"], non2xx=data["non2xx"], socket_errors=socket_errors,
        connect_errors=data["connect_errors"], read_errors=data["read_errors"],
        write_errors=data["write_errors"], timeouts=data["timeouts"], wrk_cpu_s=round(wrk_cpu_s, 3),
    )


# --- report --------------------------------------------------------------------


def table(targets: list[Target]) -> str:
    rows = ["| target | req/s | p50 (ms) | p99 (ms) | non-2xx | socket errors | valid |",
            "|---|---:|---:|---:|---:|---:|---|"]
    for t in targets:
        non2xx = sum(s.non2xx for s in t.samples)
        errors = sum(s.socket_errors for s in t.samples)
        valid = "yes" if all(s.valid for s in t.samples) else "**NO**"
        rows.append(f"| {t.name} | {t.median('rps'):,.0f} | {t.median('p50_us') / 1000:.2f} "
                    f"| {t.median('p99_us') / 1000:.2f} | {non2xx} | {errors} | {valid} |")
    return "\n".join(rows)


def ratios(targets: list[Target]) -> dict[str, dict[str, float]]:
    prism = next(t for t in targets if t.name == PRISM_NAME)
    return {
        t.name: {"throughput": t.median("rps") / prism.median("rps"),
                 "p99": t.median("p99_us") / prism.median("p99_us")}
        for t in targets if t is not prism
    }


def wrk_version() -> str:
    result = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
    return (result.stdout + result.stderr).splitlines()[0].strip() if result.stdout + result.stderr else "?"


@contextmanager
def sigterm_as_exit() -> Iterator[None]:
    """Turn SIGTERM into SystemExit so the `finally` that stops the servers runs."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="Measured runs per target (medians over them).")
    parser.add_argument("--duration", type=int, default=10, help="Seconds per measured run.")
    parser.add_argument("--warmup", type=int, default=3, help="Seconds of unmeasured load per target first.")
    parser.add_argument("--connections", type=int, default=32, help="Concurrent keep-alive connections.")
    # Two wrk threads (16 connections each), the same for every target. On this
    # 2-core machine wrk shares the CPU with the server whatever its thread count;
    # its cost follows the request rate: measured at 6-18% of one core per run with
    # -t1 or -t2 (the report prints it for every run), so the client is never the
    # bottleneck and -t1 and -t2 gave the same numbers within run-to-run noise.
    # -t2 is kept because with a single wrk thread, whenever that thread waits for
    # a core behind a busy server process, all 32 connections stall at once and
    # the wait shows up as server latency; with two, a stall hits half of them.
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (-t).")
    parser.add_argument("--no-journal", action="store_true",
                        help="Run the mockserver with --no-journal (default: its default, journal on).")
    parser.add_argument("--json", type=Path, metavar="PATH", help="Write the raw results here.")
    args = parser.parse_args(argv)
    for name in ("runs", "duration", "connections", "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if args.warmup < 0:
        parser.error("--warmup cannot be negative")
    if args.connections < args.threads:
        parser.error("--connections must be at least --threads (wrk needs one connection per thread)")
    return args


def check_tools() -> None:
    missing = []
    if shutil.which("wrk") is None:
        missing.append("wrk is not installed: apt-get install wrk")
    if not PRISM.exists():
        missing.append(f"Prism is not installed ({PRISM.relative_to(ROOT)}): npm ci --prefix benchmarks")
    if not MOCKSERVER.exists():
        missing.append(f"{MOCKSERVER} is missing: run this script with the project's venv, "
                       ".venv/bin/python benchmarks/bench_status.py")
    if missing:
        raise BenchError("\n".join(missing))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    check_tools()
    # Tokens expire: make this one outlive the whole benchmark, with margin.
    planned = 3 * (args.warmup + args.runs * (args.duration + 5)) + 3 * START_TIMEOUT
    token = subprocess.check_output([str(MOCKSERVER), "token", "--exp", str(int(planned) + 600)], text=True).strip()
    load_before = os.getloadavg()
    if load_before[0] > BUSY_LOAD:
        print(f"WARNING: load average {load_before[0]:.2f} before starting: other work on this machine "
              "will skew the numbers.", file=sys.stderr)
    targets: list[Target] = []
    with tempfile.TemporaryDirectory(prefix="bench-status-") as tmp, sigterm_as_exit():
        workdir = Path(tmp)
        lua = workdir / "report.lua"
        lua.write_text(WRK_LUA)
        try:
            journal = not args.no_journal
            suffix = "" if journal else ", no journal"
            print("starting the targets...", file=sys.stderr)
            targets.append(start_mockserver(f"mockserver, 1 worker{suffix}", 1, workdir / "w1", journal))
            targets.append(start_mockserver(f"mockserver, 2 workers{suffix}", 2, workdir / "w2", journal))
            targets.append(start_prism(workdir / "prism", token))
            for target in targets:
                # Prism only checks that the header is there; both must refuse a call without it.
                status, _ = get(target.base_url + STATUS_PATH, {})
                if status != 401:
                    raise BenchError(f"{target.name} answered {status}, not 401, without a token")
                if args.warmup:
                    preflight(target, token)
                    print(f"warm-up: {target.name} ({args.warmup} s)", file=sys.stderr)
                    run_wrk(target, token, args.warmup, args.threads, args.connections, lua, round_=0)
            for round_ in range(1, args.runs + 1):
                shift = (round_ - 1) % len(targets)
                for target in targets[shift:] + targets[:shift]:
                    preflight(target, token)
                    sample = run_wrk(target, token, args.duration, args.threads, args.connections, lua, round_)
                    target.samples.append(sample)
                    flag = "" if sample.valid else f"  INVALID: {sample.non2xx} non-2xx, " \
                                                   f"{sample.socket_errors} socket errors"
                    print(f"run {round_}/{args.runs}: {target.name}: {sample.rps:,.0f} req/s, "
                          f"p50 {sample.p50_us / 1000:.2f} ms, p99 {sample.p99_us / 1000:.2f} ms{flag}",
                          file=sys.stderr)
        finally:
            for target in reversed(targets):
                stop(target.process)
    load_after = os.getloadavg()

    print(f"\nGET status (valid token), `wrk -t{args.threads} -c{args.connections} --timeout {WRK_TIMEOUT}`, "
          f"{args.runs} run(s) x {args.duration} s per target after a {args.warmup} s warm-up; medians; "
          f"mockserver journal {'on' if not args.no_journal else 'off'}; {os.cpu_count()} CPUs; "
          f"load average before {load_before[0]:.2f}\n")
    print(table(targets))
    print()
    compared = ratios(targets)
    for name, ratio in compared.items():
        print(f"- {name} / Prism: throughput {ratio['throughput']:.2f}x, p99 {ratio['p99']:.2f}x")
    wrk_share = [s.wrk_cpu_s / s.duration_s for t in targets for s in t.samples]
    print(f"- wrk's own CPU use: {min(wrk_share):.0%} to {max(wrk_share):.0%} of one core")
    invalid = [t.name for t in targets if not all(s.valid for s in t.samples)]
    if invalid:
        print(f"\nWARNING: non-2xx answers or socket errors for {', '.join(invalid)}: "
              "those numbers are not a valid measurement.")

    if load_before[0] > BUSY_LOAD:
        print(f"\nWARNING: the machine was busy (load average {load_before[0]:.2f} at start): "
              "repeat on a quiet machine before quoting these numbers.")

    if args.json:
        report = {
            "endpoint": f"GET {STATUS_PATH}",
            "settings": {"runs": args.runs, "duration_s": args.duration, "warmup_s": args.warmup,
                         "threads": args.threads, "connections": args.connections, "wrk_timeout": WRK_TIMEOUT,
                         "journal": not args.no_journal},
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": sys.version.split()[0],
                        "wrk": wrk_version(), "loadavg_before": load_before, "loadavg_after": load_after},
            "targets": [
                {"name": t.name, "command": t.command,
                 "median": {"rps": t.median("rps"), "p50_us": t.median("p50_us"), "p99_us": t.median("p99_us")},
                 "valid": all(s.valid for s in t.samples),
                 "samples": [asdict(s) for s in t.samples]}
                for t in targets
            ],
            "ratio_vs_prism": compared,
        }
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        print(f"\nraw results: {args.json}")
    return 1 if invalid else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"bench_status: {exc}", file=sys.stderr)
        sys.exit(2)
