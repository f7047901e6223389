"""Throughput and latency of the status call: `mockserver run` (1 and 2 workers)
against Stoplight Prism and WireMock mocking the same call, side by side.

What is measured: `GET /api/public/bot/eraseUsersData/status/{reqId}` for the
request id the default fixtures preload, with a valid JWT (from `mockserver
token`) in the `auth` header, on keep-alive connections, 32 at a time.

Targets (`--targets`, default all), all on 127.0.0.1 and all started by this script:

- `w1`, `w2`: `mockserver run --workers 1` / `--workers 2`: default settings
  (journal on unless `--no-journal`, real clock), `--log-level warning`, each
  with its own fresh SQLite state file; `--port 0`, the real port is read from
  the `mockserver listening on ...` banner; ready when `/__mockserver/health`
  answers 200. The server does the whole job: JWT check, routing and
  validation from the spec, state lookup, journal.
- `prism`: Prism 5 (`prism mock -h 127.0.0.1 -p PORT --errors=false -v silent
  openapi.yaml`): `-v silent` turns its request log off (at the default
  `info` level it logs several lines per request); `--errors=false` is its
  default, written out. Prism checks that the `auth` apiKey header is there
  (not its value) and answers the spec's example; ready when the status call
  answers 200.
- `wiremock`: WireMock standalone (the jar the `wiremock` npm package ships,
  run with `java -jar`), `--bind-address 127.0.0.1 --port PORT
  --no-request-journal --disable-request-logging --disable-banner`, with one
  stub: `GET` on the status path by regex (`eud-` and a canonical UUID), the
  `auth` header present (any value), answering 200 with the contract's example
  status body (`components/responses/EraseRequestStatus`, example
  `completed`) as JSON. Like Prism, it checks nothing of the token; without
  the header no stub matches (404). Ready when the status call answers 200.

Method: the targets run side by side (an idle server costs next to nothing)
and are loaded one at a time, in rounds: each round runs wrk for `--duration`
seconds against each target, the order rotating from one round to the next,
so that background noise and drift spread over all targets alike. Before the
rounds each target gets an unmeasured warm-up: `--warmup` seconds for the
mockserver (its caches), `--jit-warmup` seconds (15 by default) for the JIT
runtimes, WireMock (HotSpot) and Prism (V8), whose first seconds run
unoptimised code. Before every measured run the target must answer properly:
200 with the requested id in the body for the mockserver, 200 for Prism, 200
and the example body for WireMock. The load generator and its settings are the
same for all: `wrk -t2 -c32 --timeout 2s` with a Lua `done()` hook that prints
the latency percentiles from wrk's own histogram in microseconds (wrk's text
output rounds them). wrk does not call Lua per request, so the hook costs
nothing during the run.

Report: medians over the runs of req/s, p50 and p99, the resident memory of
each target's processes after its runs, a Markdown table, the ratios to
Prism and WireMock, and issue 13's goals met or missed: the best mockserver
configuration at >= 1.0x WireMock's throughput, one worker at >= 2.5x Prism's,
p99 <= 10 ms for every mockserver configuration (cold start and RSS per worker
are `bench_start.py`'s). Every run's error answers and socket errors (connect,
read, write, timeout) are counted and flagged: a run with any of them is not a
valid measurement. wrk counts a response as an error when its status is 400
or more; the status call never redirects, so in practice that is "non-2xx".

A shared machine: the load average at start, and during every run the CPU
that processes other than the target and wrk used (from /proc/stat and the
target's process tree; loopback networking in the kernel adds a few percent),
are reported; above 0.5 load or 0.15 core the numbers are flagged as skewed.
`--quiet-wait SECONDS` makes every run wait (up to that long) for a quiet
moment first, and `--retry-busy N` repeats (up to N times) a run during which
other processes used more than that.

Requirements (checked at start): `apt-get install wrk`; `npm ci --prefix
benchmarks` for Prism and WireMock; a Java 11+ `java` on PATH for WireMock.

    .venv/bin/python benchmarks/bench_status.py [--runs 3] [--duration 10] [--targets w1,w2,prism,wiremock]
        [--json results.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml
from benchlib import (
    BUSY_LOAD,
    FOREIGN_CPU_LIMIT,
    HEALTH_PATH,
    HOST,
    MOCKSERVER,
    NODE_BIN,
    REQUEST_ID,
    ROOT,
    SPEC,
    START_TIMEOUT,
    STATUS_PATH,
    WRK_DONE_LUA,
    WRK_TIMEOUT,
    BenchError,
    ForeignCpu,
    WrkResult,
    busy_warning,
    free_port,
    get,
    mockserver_token,
    read_banner_url,
    require,
    require_wrk,
    run_main,
    run_wrk,
    sigterm_as_exit,
    spawn,
    stop,
    tail,
    tree_rss,
    wait_for_quiet,
    wait_until,
    wrk_version,
)

PRISM = NODE_BIN / "prism"
WIREMOCK_PACKAGE = ROOT / "benchmarks" / "node_modules" / "wiremock"
PRISM_NAME = "Prism 5 (request log off)"
WIREMOCK_NAME = "WireMock {version} (no journal)"
TARGET_KEYS = ("w1", "w2", "prism", "wiremock")
# WireMock matches the path by regex: `eud-` and a canonical lowercase UUID, as the contract's RequestId.
STATUS_PATH_REGEX = ("/api/public/bot/eraseUsersData/status/"
                     "eud-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

# Issue 13's goals for the status call.
GOAL_VS_WIREMOCK = 1.0  # best mockserver configuration's throughput / WireMock's
GOAL_VS_PRISM = 2.5  # one worker's throughput / Prism's
GOAL_P99_MS = 10.0  # every mockserver configuration


@dataclass(frozen=True)
class Sample(WrkResult):
    """One wrk run against one target: wrk's numbers, which round, and how much CPU
    other processes used meanwhile (cores' worth: a shared machine)."""

    round: int = 0
    foreign_cpu: float = 0.0

    @property
    def valid(self) -> bool:
        return self.non2xx == 0 and self.socket_errors == 0


@dataclass
class Target:
    """A server this script started, and what it measured on it."""

    key: str
    name: str
    command: list[str]
    process: subprocess.Popen[bytes]
    base_url: str
    log: Path
    check: Callable[[int, bytes], bool]  # is this status answer a proper one?
    warmup_s: int = 0
    is_mock: bool = False
    samples: list[Sample] = field(default_factory=list)
    rss: list[tuple[int, int, str]] = field(default_factory=list)  # (pid, KiB, command) after the runs

    def median(self, attribute: str) -> float:
        return statistics.median(float(getattr(sample, attribute)) for sample in self.samples)


# --- targets -------------------------------------------------------------------


def answers_request(status: int, body: bytes) -> bool:
    """The mockserver's proper answer: 200 with the requested erase request."""
    if status != 200:
        return False
    try:
        data = json.loads(body)
    except ValueError:
        return False
    return isinstance(data, dict) and data.get("_id") == REQUEST_ID


def start_mockserver(key: str, name: str, workers: int, workdir: Path, journal: bool, warmup: int = 0,
                     extra: tuple[str, ...] = ()) -> Target:
    """`mockserver run` on a free loopback port with its own state file in `workdir`
    (`extra` options last, so that they may override it), once it answers its health check."""
    workdir.mkdir()
    log = workdir / "mockserver.log"
    command = [str(MOCKSERVER), "run", "--host", HOST, "--port", "0", "--state", str(workdir / "state.db"),
               "--workers", str(workers), "--log-level", "warning"]
    if not journal:
        command.append("--no-journal")
    command += extra
    process = spawn(command, log)
    base_url = ""

    def banner_read() -> bool:
        nonlocal base_url
        base_url = read_banner_url(log) or ""
        return bool(base_url)

    target = Target(key, name, command, process, "", log, check=answers_request, warmup_s=warmup, is_mock=True)
    try:
        wait_until(name, process, log, banner_read)
        target.base_url = base_url
        wait_until(name, process, log, lambda: get(base_url + HEALTH_PATH, {})[0] == 200)
    except BaseException:
        stop(process)
        raise
    return target


def start_prism(workdir: Path, token: str, warmup: int) -> Target:
    workdir.mkdir()
    log = workdir / "prism.log"
    port = free_port()
    command = [str(PRISM), "mock", "-h", HOST, "-p", str(port), "--errors=false", "-v", "silent", str(SPEC)]
    process = spawn(command, log)
    base_url = f"http://{HOST}:{port}"
    target = Target("prism", PRISM_NAME, command, process, base_url, log,
                    check=lambda status, body: status == 200, warmup_s=warmup)
    try:
        # With `-v silent` Prism prints no "listening" line: poll the call itself.
        wait_until(PRISM_NAME, process, log, lambda: get(base_url + STATUS_PATH, {"auth": token})[0] == 200)
    except BaseException:
        stop(process)
        raise
    return target


def example_status_body() -> dict[str, Any]:
    """The contract's example status answer (`EraseRequestStatus`, example `completed`)."""
    document = yaml.safe_load(SPEC.read_text())
    body: dict[str, Any] = document["components"]["responses"]["EraseRequestStatus"]["content"][
        "application/json"]["examples"]["completed"]["value"]
    return body


def wiremock_jar() -> Path | None:
    jars = sorted((WIREMOCK_PACKAGE / "build").glob("wiremock-standalone-*.jar"))
    return jars[-1] if jars else None


def wiremock_version() -> str:
    try:
        return str(json.loads((WIREMOCK_PACKAGE / "package.json").read_text())["version"])
    except (OSError, ValueError, KeyError):
        return "?"


def start_wiremock(workdir: Path, token: str, warmup: int) -> Target:
    """WireMock with one stub, from a mappings file in its own root dir."""
    workdir.mkdir()
    (workdir / "mappings").mkdir()
    (workdir / "__files").mkdir()
    expected = example_status_body()
    stub = {
        "request": {
            "method": "GET",
            "urlPathPattern": STATUS_PATH_REGEX,
            "headers": {"auth": {"matches": ".*"}},  # present, any value: what Prism checks too
        },
        "response": {"status": 200, "headers": {"Content-Type": "application/json"}, "jsonBody": expected},
    }
    (workdir / "mappings" / "status.json").write_text(json.dumps(stub, indent=2))
    log = workdir / "wiremock.log"
    port = free_port()
    jar = wiremock_jar()
    assert jar is not None
    command = ["java", "-jar", str(jar), "--bind-address", HOST, "--port", str(port), "--root-dir", str(workdir),
               "--no-request-journal", "--disable-request-logging", "--disable-banner"]
    process = spawn(command, log)
    base_url = f"http://{HOST}:{port}"
    name = WIREMOCK_NAME.format(version=wiremock_version())

    def proper(status: int, body: bytes) -> bool:
        try:
            return status == 200 and json.loads(body) == expected
        except ValueError:
            return False

    target = Target("wiremock", name, command, process, base_url, log, check=proper, warmup_s=warmup)
    try:
        wait_until(name, process, log, lambda: get(base_url + STATUS_PATH, {"auth": token})[0] == 200)
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


def load(target: Target, token: str, seconds: int, args: argparse.Namespace, lua: Path, round_: int,
         path: str = STATUS_PATH) -> Sample:
    """One wrk run on `path` (the status call unless told; `lua` may set another method and a body)."""
    foreign = ForeignCpu(target.process.pid)
    r = run_wrk(target.base_url + path, seconds=seconds, threads=args.threads,
                connections=args.connections, lua=lua, headers={"auth": token}, what=target.name)
    wrk = {f.name: getattr(r, f.name) for f in fields(WrkResult)}
    return Sample(**wrk, round=round_, foreign_cpu=round(foreign.share(), 3))


def measure(target: Target, token: str, args: argparse.Namespace, lua: Path, round_: int) -> Sample:
    """One measured run; with --retry-busy, repeated while other processes took CPU during it."""
    for attempt in range(args.retry_busy + 1):
        if args.quiet_wait:
            idle = wait_for_quiet(args.quiet_wait)
            if idle >= FOREIGN_CPU_LIMIT:
                print(f"machine still busy ({idle:.2f} core) after {args.quiet_wait:.0f} s; measuring anyway",
                      file=sys.stderr)
        preflight(target, token)
        sample = load(target, token, args.duration, args, lua, round_)
        if sample.foreign_cpu <= FOREIGN_CPU_LIMIT or attempt == args.retry_busy:
            return sample
        print(f"run {round_}/{args.runs}: {target.name}: other processes used {sample.foreign_cpu:.2f} core; "
              "measuring again", file=sys.stderr)
    raise AssertionError("unreachable")


# --- report --------------------------------------------------------------------


def rss_text(target: Target) -> str:
    """Resident memory after the runs: the whole tree, and each process when there are several."""
    sizes = [kib for _, kib, _ in target.rss]
    if not sizes:
        return "?"
    total = f"{sum(sizes) / 1024:.0f}"
    return total if len(sizes) == 1 else f"{total} ({' + '.join(f'{s / 1024:.0f}' for s in sizes)})"


def table(targets: list[Target]) -> str:
    rows = ["| target | req/s | p50 (ms) | p99 (ms) | non-2xx | socket errors | valid | RSS (MB) |",
            "|---|---:|---:|---:|---:|---:|---|---:|"]
    for t in targets:
        non2xx = sum(s.non2xx for s in t.samples)
        errors = sum(s.socket_errors for s in t.samples)
        valid = "yes" if all(s.valid for s in t.samples) else "**NO**"
        rows.append(f"| {t.name} | {t.median('rps'):,.0f} | {t.median('p50_us') / 1000:.2f} "
                    f"| {t.median('p99_us') / 1000:.2f} | {non2xx} | {errors} | {valid} | {rss_text(t)} |")
    return "\n".join(rows)


def ratios(targets: list[Target], peer_key: str) -> dict[str, dict[str, float]]:
    peer = next((t for t in targets if t.key == peer_key), None)
    if peer is None:
        return {}
    return {
        t.name: {"throughput": t.median("rps") / peer.median("rps"),
                 "p99": t.median("p99_us") / peer.median("p99_us")}
        for t in targets if t.is_mock
    }


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def goals(targets: list[Target]) -> list[str]:
    """Issue 13's goals for the status call, as far as the measured targets allow."""
    mocks = [t for t in targets if t.is_mock]
    by_key = {t.key: t for t in targets}
    lines = []
    if mocks and "wiremock" in by_key:
        best = max(mocks, key=lambda t: t.median("rps"))
        ratio = best.median("rps") / by_key["wiremock"].median("rps")
        lines.append(f"- best mock ({best.name}) / WireMock throughput: {ratio:.2f}x "
                     f"(goal >= {GOAL_VS_WIREMOCK:.1f}x): {verdict(ratio >= GOAL_VS_WIREMOCK)}")
    if "w1" in by_key and "prism" in by_key:
        ratio = by_key["w1"].median("rps") / by_key["prism"].median("rps")
        lines.append(f"- {by_key['w1'].name} / Prism throughput: {ratio:.2f}x "
                     f"(goal >= {GOAL_VS_PRISM:.1f}x): {verdict(ratio >= GOAL_VS_PRISM)}")
    for t in mocks:
        p99 = t.median("p99_us") / 1000
        lines.append(f"- {t.name} p99: {p99:.2f} ms (goal <= {GOAL_P99_MS:.0f} ms): {verdict(p99 <= GOAL_P99_MS)}")
    return lines


def java_version() -> str:
    if shutil.which("java") is None:
        return "none"
    result = subprocess.run(["java", "-version"], capture_output=True, text=True, check=False)
    lines = (result.stderr or result.stdout).splitlines()
    return lines[0].strip() if lines else "?"


def parse_targets(raw: str) -> list[str]:
    keys = [k.strip() for k in raw.split(",") if k.strip()]
    unknown = [k for k in keys if k not in TARGET_KEYS]
    if unknown or not keys:
        raise argparse.ArgumentTypeError(f"choose from {', '.join(TARGET_KEYS)} (comma-separated), "
                                         f"not {raw!r}")
    return list(dict.fromkeys(keys))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="Measured runs per target (medians over them).")
    parser.add_argument("--duration", type=int, default=10, help="Seconds per measured run.")
    parser.add_argument("--targets", type=parse_targets, default=list(TARGET_KEYS),
                        help=f"Comma-separated subset of {','.join(TARGET_KEYS)}.")
    parser.add_argument("--warmup", type=int, default=3,
                        help="Seconds of unmeasured load on each mockserver first.")
    parser.add_argument("--jit-warmup", type=int, default=15,
                        help="Seconds of unmeasured load on WireMock and Prism first (their JIT compilers).")
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
    parser.add_argument("--quiet-wait", type=float, default=0, metavar="SECONDS",
                        help="Before each run, wait up to this long for the machine to be idle "
                             f"(under {FOREIGN_CPU_LIMIT} core of other work for 2 s); for shared machines.")
    parser.add_argument("--retry-busy", type=int, default=0, metavar="N",
                        help=f"Repeat a run (up to N times) when other processes used over {FOREIGN_CPU_LIMIT} "
                             "core during it.")
    parser.add_argument("--json", type=Path, metavar="PATH", help="Write the raw results here.")
    args = parser.parse_args(argv)
    for name in ("runs", "duration", "connections", "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if args.warmup < 0 or args.jit_warmup < 0 or args.retry_busy < 0 or args.quiet_wait < 0:
        parser.error("warm-ups, --retry-busy and --quiet-wait cannot be negative")
    if args.connections < args.threads:
        parser.error("--connections must be at least --threads (wrk needs one connection per thread)")
    return args


def check_tools(keys: list[str]) -> None:
    missing = require_wrk()
    if "prism" in keys and not PRISM.exists():
        missing.append(f"Prism is not installed ({PRISM.relative_to(ROOT)}): npm ci --prefix benchmarks")
    if "wiremock" in keys:
        if wiremock_jar() is None:
            missing.append("WireMock is not installed (benchmarks/node_modules/wiremock): npm ci --prefix benchmarks")
        if shutil.which("java") is None:
            missing.append("WireMock needs java (11 or later) on PATH: apt-get install openjdk-17-jre-headless")
    require(missing)


def start(key: str, workdir: Path, token: str, args: argparse.Namespace) -> Target:
    journal = not args.no_journal
    suffix = "" if journal else ", no journal"
    if key == "w1":
        return start_mockserver(key, f"mockserver, 1 worker{suffix}", 1, workdir / key, journal, args.warmup)
    if key == "w2":
        return start_mockserver(key, f"mockserver, 2 workers{suffix}", 2, workdir / key, journal, args.warmup)
    if key == "prism":
        return start_prism(workdir / key, token, args.jit_warmup)
    return start_wiremock(workdir / key, token, args.jit_warmup)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    check_tools(args.targets)
    # Tokens expire: make this one outlive the whole benchmark, with margin.
    n = len(args.targets)
    planned = n * (max(args.warmup, args.jit_warmup) + args.runs * (args.duration + 5)) + n * START_TIMEOUT
    token = mockserver_token(int(planned) + 600)
    load_before = busy_warning()
    targets: list[Target] = []
    with tempfile.TemporaryDirectory(prefix="bench-status-") as tmp, sigterm_as_exit():
        workdir = Path(tmp)
        lua = workdir / "report.lua"
        lua.write_text(WRK_DONE_LUA)
        try:
            print("starting the targets...", file=sys.stderr)
            for key in args.targets:
                targets.append(start(key, workdir, token, args))
            for target in targets:
                # Without a token: the mockserver and Prism answer 401, WireMock's stub does not match (404).
                status, _ = get(target.base_url + STATUS_PATH, {})
                expected = 404 if target.key == "wiremock" else 401
                if status != expected:
                    raise BenchError(f"{target.name} answered {status}, not {expected}, without a token")
                if target.warmup_s:
                    preflight(target, token)
                    print(f"warm-up: {target.name} ({target.warmup_s} s)", file=sys.stderr)
                    load(target, token, target.warmup_s, args, lua, round_=0)
            for round_ in range(1, args.runs + 1):
                shift = (round_ - 1) % len(targets)
                for target in targets[shift:] + targets[:shift]:
                    sample = measure(target, token, args, lua, round_)
                    target.samples.append(sample)
                    flag = "" if sample.valid else f"  INVALID: {sample.non2xx} non-2xx, " \
                                                   f"{sample.socket_errors} socket errors"
                    print(f"run {round_}/{args.runs}: {target.name}: {sample.rps:,.0f} req/s, "
                          f"p50 {sample.p50_us / 1000:.2f} ms, p99 {sample.p99_us / 1000:.2f} ms, "
                          f"other processes {sample.foreign_cpu:.2f} core{flag}",
                          file=sys.stderr)
            for target in targets:
                target.rss = tree_rss(target.process.pid)
        finally:
            for target in reversed(targets):
                stop(target.process)
    load_after = os.getloadavg()

    cores = os.cpu_count()
    usable = len(os.sched_getaffinity(0))
    print(f"\nGET status (valid token), `wrk -t{args.threads} -c{args.connections} --timeout {WRK_TIMEOUT}`, "
          f"{args.runs} run(s) x {args.duration} s per target after a warm-up ({args.warmup} s mockserver, "
          f"{args.jit_warmup} s JIT runtimes); medians; mockserver journal "
          f"{'on' if not args.no_journal else 'off'}; {cores} cores ({usable} usable here); "
          f"load average before {load_before:.2f}; {java_version()}\n")
    print(table(targets))
    print()
    against = {"Prism": ratios(targets, "prism"), "WireMock": ratios(targets, "wiremock")}
    for peer, compared in against.items():
        for name, ratio in compared.items():
            print(f"- {name} / {peer}: throughput {ratio['throughput']:.2f}x, p99 {ratio['p99']:.2f}x")
    wrk_share = [s.wrk_cpu_s / s.duration_s for t in targets for s in t.samples]
    print(f"- wrk's own CPU use: {min(wrk_share):.0%} to {max(wrk_share):.0%} of one core")
    foreign = max(s.foreign_cpu for t in targets for s in t.samples)
    print(f"- other processes' CPU use during the runs: up to {foreign:.2f} core")
    goal_lines = goals(targets)
    if goal_lines:
        print("\nIssue 13 goals (status call):")
        print("\n".join(goal_lines))
    invalid = [t.name for t in targets if not all(s.valid for s in t.samples)]
    if invalid:
        print(f"\nWARNING: non-2xx answers or socket errors for {', '.join(invalid)}: "
              "those numbers are not a valid measurement.")
    if load_before > BUSY_LOAD or foreign > FOREIGN_CPU_LIMIT:
        print(f"\nWARNING: the machine was busy (load average {load_before:.2f} at start on {cores} cores; "
              f"other processes used up to {foreign:.2f} core during a run): "
              "repeat on a quiet machine before quoting these numbers.")

    if args.json:
        report = {
            "endpoint": f"GET {STATUS_PATH}",
            "settings": {"runs": args.runs, "duration_s": args.duration, "warmup_s": args.warmup,
                         "jit_warmup_s": args.jit_warmup, "threads": args.threads,
                         "connections": args.connections, "wrk_timeout": WRK_TIMEOUT,
                         "journal": not args.no_journal, "targets": args.targets},
            "machine": {"cpus": cores, "usable_cpus": usable, "platform": platform.platform(),
                        "python": sys.version.split()[0], "java": java_version(), "wrk": wrk_version(),
                        "loadavg_before": load_before, "loadavg_after": load_after},
            "targets": [
                {"key": t.key, "name": t.name, "command": t.command,
                 "median": {"rps": t.median("rps"), "p50_us": t.median("p50_us"), "p99_us": t.median("p99_us")},
                 "valid": all(s.valid for s in t.samples),
                 "rss_kib": [{"pid": pid, "kib": kib, "command": cmd} for pid, kib, cmd in t.rss],
                 "samples": [asdict(s) | {"rps": s.rps, "socket_errors": s.socket_errors} for s in t.samples]}
                for t in targets
            ],
            "ratio_vs_prism": against["Prism"],
            "ratio_vs_wiremock": against["WireMock"],
            "goals": goal_lines,
        }
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        print(f"\nraw results: {args.json}")
    return 1 if invalid else 0


if __name__ == "__main__":
    run_main(main, "bench_status")
