"""Throughput and latency of the create call, with commit-before-acknowledge
intact: `mockserver run` with 1 and 2 workers, each answered create checked
against what the server stored.

What is measured: `DELETE /api/public/bot/eraseUsersData` with the body
`{"userIds": ["bench-user-N"]}` (N unique per request), `Content-Type:
application/json` and a valid token of the default fixtures app (which does
not enforce JTI, so one token serves every request), on keep-alive
connections: `wrk -t2 -c32 --timeout 2s` with a Lua script that builds each
request, counts the 200 answers and writes each acknowledged `requestId` to a
file per wrk thread. The servers run with their defaults (journal on unless
`--no-journal`, real clock, a fresh SQLite state file each, WAL), `--port 0`,
side by side; they are loaded one at a time, `--runs` rounds of `--duration`
seconds in rotating order after a `--warmup`, medians reported.

Verification, per run and at the end:
- `GET /__mockserver/health` reports the number of stored requests; across a
  run it must grow by at least the number of 200 answers wrk saw (no
  acknowledged create lost), and by at most that plus the number of
  connections (creates still in flight when wrk stops at the deadline are
  stored but never counted as answered);
- after the last run the server is killed with SIGKILL (as a crash would) and
  its state file is opened: every `requestId` that was acknowledged must be
  in it (committed before it was acknowledged).
Any difference makes the run invalid (exit 1).

    .venv/bin/python benchmarks/bench_create.py [--runs 3] [--duration 10] [--workers 1,2]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import closing, suppress
from dataclasses import dataclass, field
from pathlib import Path

from benchlib import (
    BUSY_LOAD,
    CREATE_PATH,
    HEALTH_PATH,
    HOST,
    MOCKSERVER,
    WRK_TIMEOUT,
    BenchError,
    ForeignCpu,
    WrkResult,
    busy_warning,
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
    wait_until,
)

# `setup` numbers the threads; each thread builds unique bodies, counts its 200s
# and writes the acknowledged request ids to its own file (line-buffered, so
# every id is on disk when wrk exits); `done` adds the counts up and prints the
# same JSON line as the status benchmark's hook, plus "ok".
WRK_CREATE_LUA = r"""
local threads = {}
local count = 0

function setup(thread)
  thread:set("tid", count)
  count = count + 1
  table.insert(threads, thread)
end

function init(args)
  n, ok = 0, 0
  out = io.open(args[1] .. "/acked-" .. tid .. ".txt", "w")
  out:setvbuf("line")
end

function request()
  n = n + 1
  local body = '{"userIds": ["bench-user-' .. tid .. '-' .. n .. '"]}'
  return wrk.format("DELETE", nil, nil, body)
end

function response(status, headers, body)
  if status == 200 then
    ok = ok + 1
    local id = body:match('"requestId"%s*:%s*"([^"]+)"')
    out:write(id or "MISSING", "\n")
  end
end

function done(summary, latency, requests)
  local acked = 0
  for _, thread in ipairs(threads) do acked = acked + thread:get("ok") end
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests": %d, "duration_us": %d, "bytes": %d, '
    .. '"p50_us": %d, "p90_us": %d, "p99_us": %d, "mean_us": %.1f, "max_us": %d, '
    .. '"non2xx": %d, "connect_errors": %d, "read_errors": %d, "write_errors": %d, "timeouts": %d, '
    .. '"ok": %d}\n',
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean, latency.max,
    e.status, e.connect, e.read, e.write, e.timeout, acked))
end
"""


@dataclass
class Run:
    round: int
    result: WrkResult
    acked: int  # 200 answers wrk's response() hook saw
    stored_delta: int  # growth of /__mockserver/health's count across the run
    foreign_cpu: float

    @property
    def lost(self) -> int:
        """Acknowledged but not stored: must be 0."""
        return max(0, self.acked - self.stored_delta)


@dataclass
class Server:
    workers: int
    name: str
    process: subprocess.Popen[bytes]
    base_url: str
    workdir: Path
    log: Path
    runs: list[Run] = field(default_factory=list)
    ack_dirs: list[Path] = field(default_factory=list)

    def median(self, attribute: str) -> float:
        return statistics.median(float(getattr(run.result, attribute)) for run in self.runs)


def start(workers: int, workdir: Path, journal: bool) -> Server:
    workdir.mkdir()
    log = workdir / "mockserver.log"
    command = [str(MOCKSERVER), "run", "--host", HOST, "--port", "0", "--state", str(workdir / "state.db"),
               "--workers", str(workers), "--log-level", "warning"]
    if not journal:
        command.append("--no-journal")
    name = f"mockserver, {workers} worker{'s' if workers > 1 else ''}{'' if journal else ', no journal'}"
    process = spawn(command, log)
    try:
        base_url = ""

        def banner_read() -> bool:
            nonlocal base_url
            base_url = read_banner_url(log) or ""
            return bool(base_url)

        wait_until(name, process, log, banner_read, interval=0.05)
        wait_until(name, process, log, lambda: get(base_url + HEALTH_PATH, {})[0] == 200, interval=0.05)
    except BaseException:
        stop(process)
        raise
    return Server(workers, name, process, base_url, workdir, log)


def stored_count(server: Server) -> int:
    status, body = get(server.base_url + HEALTH_PATH, {})
    if status != 200:
        raise BenchError(f"{server.name}: health answered {status}: {body[:200]!r}")
    return int(json.loads(body)["requests"])


def load(server: Server, token: str, seconds: int, args: argparse.Namespace, lua: Path, round_: int) -> Run:
    acks = server.workdir / f"acked-round-{round_}"
    acks.mkdir()
    before = stored_count(server)
    foreign = ForeignCpu(server.process.pid)
    result = run_wrk(server.base_url + CREATE_PATH, seconds=seconds, threads=args.threads,
                     connections=args.connections, lua=lua,
                     headers={"auth": token, "Content-Type": "application/json"},
                     what=server.name, script_args=[str(acks)])
    share = foreign.share()
    time.sleep(0.3)  # let creates that were in flight when wrk stopped finish
    after = stored_count(server)
    server.ack_dirs.append(acks)
    return Run(round_, result, result.extra["ok"], after - before, round(share, 3))


def acknowledged_ids(server: Server) -> list[str]:
    ids = []
    for folder in server.ack_dirs:
        for path in sorted(folder.glob("acked-*.txt")):
            ids += [line for line in path.read_text().splitlines() if line]
    return ids


def crash_and_check(server: Server) -> tuple[int, int]:
    """SIGKILL the server's process group, then look for every acknowledged id in
    its state file. (acknowledged, missing)."""
    with suppress(ProcessLookupError):
        os.killpg(server.process.pid, signal.SIGKILL)
    stop(server.process)
    ids = acknowledged_ids(server)
    with closing(sqlite3.connect(f"file:{server.workdir / 'state.db'}?mode=ro", uri=True)) as db:
        stored = {row[0] for row in db.execute("SELECT id FROM requests")}
    return len(ids), sum(1 for request_id in ids if request_id not in stored)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="Measured runs per configuration (medians).")
    parser.add_argument("--duration", type=int, default=10, help="Seconds per measured run.")
    parser.add_argument("--warmup", type=int, default=2, help="Seconds of unmeasured creates first.")
    parser.add_argument("--workers", default="1,2", help="Comma-separated worker counts to measure.")
    parser.add_argument("--connections", type=int, default=32, help="Concurrent keep-alive connections.")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (-t).")
    parser.add_argument("--no-journal", action="store_true", help="Run the mockserver with --no-journal.")
    parser.add_argument("--json", type=Path, metavar="PATH", help="Write the raw results here.")
    args = parser.parse_args(argv)
    try:
        args.worker_counts = [int(w) for w in args.workers.split(",") if w.strip()]
    except ValueError:
        parser.error(f"--workers: comma-separated numbers, not {args.workers!r}")
    if not args.worker_counts or min(args.worker_counts) < 1:
        parser.error("--workers: at least one count, each at least 1")
    if min(args.runs, args.duration, args.connections, args.threads) < 1 or args.warmup < 0:
        parser.error("--runs, --duration, --connections, --threads must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    require(require_wrk())
    load_before = busy_warning()
    token = mockserver_token(3600 + len(args.worker_counts) * args.runs * (args.duration + 10))
    servers: list[Server] = []
    checks: dict[str, tuple[int, int]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-create-") as tmp, sigterm_as_exit():
        workdir = Path(tmp)
        lua = workdir / "create.lua"
        lua.write_text(WRK_CREATE_LUA)
        try:
            for workers in args.worker_counts:
                servers.append(start(workers, workdir / f"w{workers}", not args.no_journal))
            for server in servers:
                if args.warmup:
                    print(f"warm-up: {server.name} ({args.warmup} s)", file=sys.stderr)
                    load(server, token, args.warmup, args, lua, round_=0)
            for round_ in range(1, args.runs + 1):
                shift = (round_ - 1) % len(servers)
                for server in servers[shift:] + servers[:shift]:
                    run = load(server, token, args.duration, args, lua, round_)
                    server.runs.append(run)
                    r = run.result
                    print(f"run {round_}/{args.runs}: {server.name}: {r.rps:,.0f} creates/s, "
                          f"p50 {r.p50_us / 1000:.2f} ms, p99 {r.p99_us / 1000:.2f} ms, {r.non2xx} non-2xx, "
                          f"{run.acked} acknowledged, {run.stored_delta} stored, "
                          f"other processes {run.foreign_cpu:.2f} core", file=sys.stderr)
            for server in servers:
                checks[server.name] = crash_and_check(server)
        finally:
            for server in reversed(servers):
                stop(server.process)

    print(f"\nCreate (DELETE {CREATE_PATH}, one user per request, valid token), `wrk -t{args.threads} "
          f"-c{args.connections} --timeout {WRK_TIMEOUT}`, {args.runs} run(s) x {args.duration} s after a "
          f"{args.warmup} s warm-up; medians; journal {'off' if args.no_journal else 'on'}; "
          f"{os.cpu_count()} cores; load average before {load_before:.2f}\n")
    print("| configuration | creates/s | p50 (ms) | p99 (ms) | non-2xx | socket errors | acknowledged | "
          "stored (health) | lost | durable after kill -9 |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    invalid = []
    for server in servers:
        acked = sum(run.acked for run in server.runs)
        stored = sum(run.stored_delta for run in server.runs)
        lost = sum(run.lost for run in server.runs)
        non2xx = sum(run.result.non2xx for run in server.runs)
        errors = sum(run.result.socket_errors for run in server.runs)
        in_flight_excess = any(run.stored_delta - run.acked > args.connections for run in server.runs)
        total, missing_ids = checks.get(server.name, (0, -1))
        durable = f"all {total:,} ids found" if missing_ids == 0 else f"**{missing_ids} of {total} MISSING**"
        if lost or non2xx or errors or missing_ids != 0 or in_flight_excess:
            invalid.append(server.name)
        print(f"| {server.name} | {server.median('rps'):,.0f} | {server.median('p50_us') / 1000:.2f} "
              f"| {server.median('p99_us') / 1000:.2f} | {non2xx} | {errors} | {acked:,} | {stored:,} | {lost} "
              f"| {durable} |")
    foreign = max((run.foreign_cpu for s in servers for run in s.runs), default=0.0)
    print(f"\n- stored may exceed acknowledged by the creates in flight when wrk stopped (at most "
          f"{args.connections} per run)\n- other processes' CPU use during the runs: up to {foreign:.2f} core")
    if invalid:
        print(f"\nWARNING: acknowledged creates missing, errors, or more stored than sent for {', '.join(invalid)}.")
    if load_before > BUSY_LOAD or foreign > 0.15:
        print("\nWARNING: the machine was busy: repeat on a quiet machine before quoting these numbers.")
    if args.json:
        report = {
            "cpus": os.cpu_count(), "loadavg_before": load_before,
            "settings": {"runs": args.runs, "duration_s": args.duration, "warmup_s": args.warmup,
                         "connections": args.connections, "threads": args.threads, "journal": not args.no_journal},
            "servers": [{"name": s.name, "workers": s.workers,
                         "median": {"rps": s.median("rps"), "p50_us": s.median("p50_us"),
                                    "p99_us": s.median("p99_us")},
                         "runs": [{"round": r.round, "rps": r.result.rps, "p50_us": r.result.p50_us,
                                   "p99_us": r.result.p99_us, "non2xx": r.result.non2xx,
                                   "socket_errors": r.result.socket_errors, "acked": r.acked,
                                   "stored_delta": r.stored_delta, "foreign_cpu": r.foreign_cpu}
                                  for r in s.runs],
                         "durability": {"acknowledged": checks.get(s.name, (0, -1))[0],
                                        "missing": checks.get(s.name, (0, -1))[1]}}
                        for s in servers],
        }
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        print(f"\nraw results: {args.json}")
    return 1 if invalid else 0


if __name__ == "__main__":
    run_main(main, "bench_create")
