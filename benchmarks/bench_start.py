"""Cold start and memory of the mock server: how long `mockserver run` takes from
spawn to its first proper answer, how long `MockServer()` takes to start, and
how much resident memory each process holds after a short load.

1. Cold start of `mockserver run` (`--runs` times per configuration, median,
   min and max): a token is made with `mockserver token` BEFORE the clock
   starts; then the clock starts, `mockserver run --host 127.0.0.1 --port 0
   --log-level warning` is spawned (with `--state :memory:`, or a fresh
   state file in a temporary directory), the banner's URL is read from its
   stdout, and the status call of the preloaded request is sent with that
   token until it answers 200 (a connection the server has not accepted yet
   waits in the listening socket's backlog, which the server binds before it
   prints the banner). Reported: spawn to banner, spawn to the first 200.
   Each server is stopped (SIGTERM to its process group) before the next run.
   Also reported: the CPU time (user + system) the server's processes had used
   by then, from /proc: on a machine shared with other work the wall time
   swings, the CPU time hardly (with several workers it adds up their cores).
   Goal (issue 13): spawn to first 200 <= 0.5 s.
2. `MockServer()` start: the test API of `mockserver/wire/server.py`, timed from
   `MockServer(...).start()` to its return (it waits for `/__mockserver/health`),
   with its defaults (manual clock, a temporary state file, one worker).
3. Memory: `mockserver run --workers N` (1 and 2) with a state file, after
   `--load-seconds` of wrk on the status call (`-t2 -c32`): VmRSS (and VmHWM,
   the peak, RssAnon, RssFile, and Pss from smaps_rollup) of every process of
   the server's tree from /proc, each named by its role: with one worker the
   server process is the worker; with several, the server process is uvicorn's
   supervisor, which forks the workers (`mockserver.wire.server`).
   Goal (issue 13): RSS <= 80 MB per worker.

Requirements: the project's venv (run with `.venv/bin/python`); wrk for part 3.

    .venv/bin/python benchmarks/bench_start.py [--runs 10] [--load-seconds 5] [--importtime]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import suppress
from pathlib import Path
from typing import Any

from benchlib import (
    BANNER,
    HEALTH_PATH,
    HOST,
    MOCKSERVER,
    STATUS_PATH,
    WRK_DONE_LUA,
    BenchError,
    busy_warning,
    get,
    mockserver_token,
    parent_pid,
    process_tree,
    read_banner_url,
    require,
    require_wrk,
    run_main,
    run_wrk,
    sigterm_as_exit,
    spawn,
    stop,
    tree_cpu_s,
    wait_until,
)

GOAL_START_S = 0.5
GOAL_RSS_MB = 80.0
POLL_INTERVAL = 0.005  # between attempts at the status call while the server starts


# --- 1. cold start of `mockserver run` ------------------------------------------


def cold_start(token: str, state: str, workers: int, timeout: float = 30.0) -> tuple[float, float, float]:
    """(spawn to banner, spawn to first 200 on the status call, CPU seconds the server's
    processes used until then), in seconds. The CPU time barely moves when other work
    shares the machine; the wall time does."""
    command = [str(MOCKSERVER), "run", "--host", HOST, "--port", "0", "--state", state,
               "--workers", str(workers), "--log-level", "warning"]
    started = time.perf_counter()
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, start_new_session=True)
    try:
        assert process.stdout is not None
        first = process.stdout.readline().decode(errors="replace")
        banner_s = time.perf_counter() - started
        match = BANNER.match(first.rstrip("\n"))
        if match is None:
            rest = process.stdout.read().decode(errors="replace") if process.poll() is not None else ""
            raise BenchError(f"unexpected first line from mockserver: {first!r}\n{rest}")
        url = match.group(1) + STATUS_PATH
        deadline = started + timeout
        while True:
            status, body = get(url, {"auth": token})
            if status == 200:
                first_s = time.perf_counter() - started
                return banner_s, first_s, tree_cpu_s(process.pid)
            if status not in (0,) or process.poll() is not None or time.perf_counter() > deadline:
                raise BenchError(f"mockserver answered {status} while starting: {body[:200]!r}")
            time.sleep(POLL_INTERVAL)
    finally:
        stop(process)
        if process.stdout is not None:
            process.stdout.close()


# --- 2. MockServer() ---------------------------------------------------------------


def mockserver_api_start() -> float:
    """Seconds from `MockServer().start()` to its return (it has answered /health)."""
    from mockserver import MockServer

    server = MockServer()
    started = time.perf_counter()
    try:
        server.start()
        return time.perf_counter() - started
    finally:
        server.__exit__(None, None, None)  # stops it and removes its temporary state


# --- 3. memory per process after a short load ---------------------------------------------


def memory_fields(pid: int) -> dict[str, int]:
    """KiB: VmRSS, VmHWM, RssAnon, RssFile from /proc/PID/status, Pss from smaps_rollup."""
    wanted = ("VmRSS", "VmHWM", "RssAnon", "RssFile")
    found: dict[str, int] = {}
    with suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            name, _, rest = line.partition(":")
            if name in wanted:
                found[name] = int(rest.split()[0])
    with suppress(OSError):
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                found["Pss"] = int(line.split()[1])
    return found


def role(pid: int, root: int, workers: int) -> str:
    if pid == root:
        return "server (the worker)" if workers == 1 else "supervisor"
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "?"
    if "resource_tracker" in command:
        return "multiprocessing resource tracker"
    if "spawn_main" in command or "multiprocessing" in command or parent_pid(pid) == root:
        return "worker"
    return command[:60]


def memory_after_load(workers: int, token: str, seconds: int, workdir: Path, lua: Path) -> dict[str, Any]:
    workdir.mkdir()
    log = workdir / "mockserver.log"
    command = [str(MOCKSERVER), "run", "--host", HOST, "--port", "0", "--state", str(workdir / "state.db"),
               "--workers", str(workers), "--log-level", "warning"]
    process = spawn(command, log)
    try:
        base_url = ""

        def banner_read() -> bool:
            nonlocal base_url
            base_url = read_banner_url(log) or ""
            return bool(base_url)

        wait_until("mockserver", process, log, banner_read, interval=0.05)
        wait_until("mockserver", process, log, lambda: get(base_url + HEALTH_PATH, {})[0] == 200, interval=0.05)
        idle = {pid: memory_fields(pid) for pid in process_tree(process.pid)}
        result = run_wrk(base_url + STATUS_PATH, seconds=seconds, threads=2, connections=32, lua=lua,
                         headers={"auth": token}, what=f"mockserver, {workers} worker(s)")
        if result.non2xx or result.socket_errors:
            raise BenchError(f"load on {workers} worker(s): {result.non2xx} non-2xx, "
                             f"{result.socket_errors} socket errors")
        processes = []
        for pid in process_tree(process.pid):
            fields = memory_fields(pid)
            if fields:
                processes.append({"pid": pid, "role": role(pid, process.pid, workers),
                                  "idle_rss_kib": idle.get(pid, {}).get("VmRSS"), **fields})
        return {"workers": workers, "load_rps": result.rps, "load_seconds": seconds, "processes": processes}
    finally:
        stop(process)


# --- report -------------------------------------------------------------------------


def summary(values: list[float]) -> str:
    return (f"median {statistics.median(values):.3f} s (min {min(values):.3f}, max {max(values):.3f}, "
            f"n={len(values)})")


def importtime(top: int = 15) -> list[tuple[int, int, str]]:
    """The `top` imports with the largest cumulative time of `import mockserver.app.build` (us, us, module)."""
    result = subprocess.run([sys.executable, "-X", "importtime", "-c", "import mockserver.app.build, mockserver.cli"],
                            capture_output=True, text=True, check=True)
    rows = []
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        own, cumulative, name = line.removeprefix("import time:").split("|")
        rows.append((int(own), int(cumulative), name.rstrip()))
    rows.sort(key=lambda row: row[1], reverse=True)
    return rows[:top]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--runs", type=int, default=10, help="Cold starts per configuration (median).")
    parser.add_argument("--api-runs", type=int, default=5, help="MockServer() starts (median).")
    parser.add_argument("--load-seconds", type=int, default=5, help="Seconds of status load before reading RSS.")
    parser.add_argument("--importtime", action="store_true",
                        help="Also list the slowest imports of mockserver.app.build (python -X importtime).")
    parser.add_argument("--json", type=Path, metavar="PATH", help="Write the raw results here.")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.api_runs < 0 or args.load_seconds < 1:
        parser.error("--runs and --load-seconds must be at least 1, --api-runs at least 0")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    require(require_wrk())
    load_before = busy_warning()
    token = mockserver_token(3600)  # made before any clock starts
    report: dict[str, Any] = {"cpus": os.cpu_count(), "loadavg_before": load_before, "cold_start": [],
                              "memory": []}
    with tempfile.TemporaryDirectory(prefix="bench-start-") as tmp, sigterm_as_exit():
        workdir = Path(tmp)
        print(f"Cold start of `mockserver run`, spawn to the first 200 on the status call "
              f"(goal <= {GOAL_START_S} s); {os.cpu_count()} cores, load average {load_before:.2f}\n")
        print("| configuration | spawn to banner (s) | spawn to first 200 (s) | min | max "
              "| server CPU until then (s) | goal |")
        print("|---|---:|---:|---:|---:|---:|---|")
        for label, workers, state in (("1 worker, --state :memory:", 1, None),
                                      ("1 worker, state file", 1, "file"),
                                      ("2 workers, state file", 2, "file")):
            banners, firsts, cpus = [], [], []
            for run in range(args.runs):
                path = ":memory:" if state is None else str(workdir / f"cold-{workers}-{run}.db")
                banner_s, first_s, cpu_s = cold_start(token, path, workers)
                banners.append(banner_s)
                firsts.append(first_s)
                cpus.append(cpu_s)
            median = statistics.median(firsts)
            print(f"| {label} | {statistics.median(banners):.3f} | {median:.3f} | {min(firsts):.3f} "
                  f"| {max(firsts):.3f} | {statistics.median(cpus):.3f} "
                  f"| {'met' if median <= GOAL_START_S else 'MISSED'} |")
            report["cold_start"].append({"configuration": label, "banner_s": banners, "first_200_s": firsts,
                                         "cpu_s": cpus})

        if args.api_runs:
            starts = [mockserver_api_start() for _ in range(args.api_runs)]
            print(f"\n`MockServer().start()` (manual clock, temporary state file, 1 worker): {summary(starts)}")
            report["mockserver_api_start_s"] = starts

        lua = workdir / "report.lua"
        lua.write_text(WRK_DONE_LUA)
        print(f"\nResident memory after {args.load_seconds} s of status load (wrk -t2 -c32), per process "
              f"(goal: VmRSS <= {GOAL_RSS_MB:.0f} MB per worker); MB\n")
        print("| workers | process | load req/s | RSS idle | RSS after | peak (HWM) | anon | file | PSS | goal |")
        print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---|")
        for workers in (1, 2):
            measured = memory_after_load(workers, token, args.load_seconds, workdir / f"mem-{workers}", lua)
            report["memory"].append(measured)
            for p in measured["processes"]:
                is_worker = p["role"].startswith(("worker", "server"))
                met = p["VmRSS"] / 1024 <= GOAL_RSS_MB
                goal = ("met" if met else "MISSED") if is_worker else ""

                def mb(key: str, row: dict[str, Any] = p) -> str:
                    return f"{row[key] / 1024:.1f}" if row.get(key) is not None else "?"

                print(f"| {workers} | {p['role']} (pid {p['pid']}) | {measured['load_rps']:,.0f} "
                      f"| {mb('idle_rss_kib')} | {mb('VmRSS')} | {mb('VmHWM')} | {mb('RssAnon')} | {mb('RssFile')} "
                      f"| {mb('Pss')} | {goal} |")

    if args.importtime:
        rows = importtime()
        print("\nSlowest imports (cumulative) of `import mockserver.app.build, mockserver.cli`"
              " (python -X importtime):\n")
        for own, cumulative, name in rows:
            print(f"  {cumulative / 1000:7.1f} ms cumulative  {own / 1000:6.1f} ms own  {name.strip()}")
        report["importtime_top"] = [{"module": n.strip(), "own_us": o, "cumulative_us": c} for o, c, n in rows]

    if load_before > 0.5:
        print(f"\nWARNING: the machine was busy (load average {load_before:.2f}): repeat on a quiet machine.")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        print(f"\nraw results: {args.json}")
    return 0


if __name__ == "__main__":
    run_main(main, "bench_start")
