"""What `mockserver proxy` adds: the status call's latency (p50, p99) and
throughput through the proxy, against the same `mockserver run` called
directly.

What is measured: `GET /api/public/bot/eraseUsersData/status/{reqId}` for the
request id the default fixtures preload, with a valid JWT (from `mockserver
token`) in the `auth` header, on keep-alive connections, `--connections` at a
time, with `wrk -t2 --timeout 2s` and the Lua `done()` hook of `benchlib`
(exact percentiles from wrk's histogram).

Targets, both on 127.0.0.1 and started by this script:

- `direct`: `mockserver run --workers 1 --log-level warning` with a fresh
  SQLite state file (journal on, real clock), as `bench_status.py`'s `w1`;
- `proxy`: `mockserver proxy --upstream <direct> --log-level warning` in front
  of it (journal in memory; with `--record`, a recording in a temporary
  directory too): every exchange forwarded with httpx, judged against the
  contract, journaled.

Both are ready when the status call answers 200 with the id in its body.
Method: an unmeasured warm-up of `--warmup` seconds each, then `--runs`
rounds, each loading `direct` then `proxy` (the order alternating from round
to round) for `--duration` seconds. Report: medians of req/s, p50 and p99
per target, and the proxy's added latency (its p50 and p99 minus direct's) and
throughput ratio. A run with any error answer or socket error is flagged as
invalid. On a shared machine the load average is reported (`busy_warning`).

    .venv/bin/python benchmarks/bench_proxy.py [--runs 3] [--duration 10] [--connections 8] [--record]
        [--json results.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

from benchlib import (
    HOST,
    MOCKSERVER,
    REQUEST_ID,
    STATUS_PATH,
    WRK_DONE_LUA,
    BenchError,
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
    wrk_version,
)

TARGETS = ("direct", "proxy")


def start(name: str, command: list[str], log: Path, token: str) -> tuple[object, str]:
    process = spawn(command, log)
    url: list[str] = []

    def ready() -> bool:
        if not url:
            text = log.read_text(errors="replace")
            first = text.splitlines()[0] if "\n" in text else ""
            if not first:
                return False
            found = read_banner_url(log) if name == "direct" else first.split()[4]
            if found is None:
                return False
            url.append(found)
        status, body = get(url[0] + STATUS_PATH, {"auth": token})
        return status == 200 and REQUEST_ID.encode() in body

    wait_until(name, process, log, ready)
    return process, url[0]


def summary(samples: list[WrkResult]) -> dict[str, float]:
    return {"rps": statistics.median(s.rps for s in samples),
            "p50_ms": statistics.median(s.p50_us for s in samples) / 1000,
            "p99_ms": statistics.median(s.p99_us for s in samples) / 1000,
            "invalid_runs": sum(1 for s in samples if s.non2xx or s.socket_errors)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--record", action="store_true", help="the proxy also records every exchange")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    require(require_wrk())
    load = busy_warning()
    token = mockserver_token(3600 * 4)
    with tempfile.TemporaryDirectory(prefix="bench-proxy-") as tmp, sigterm_as_exit():
        work = Path(tmp)
        lua = work / "done.lua"
        lua.write_text(WRK_DONE_LUA)
        processes = []
        try:
            direct, direct_url = start("direct", [str(MOCKSERVER), "run", "--port", "0", "--log-level", "warning",
                                                  "--state", str(work / "state.db")], work / "direct.log", token)
            processes.append(direct)
            proxy_command = [str(MOCKSERVER), "proxy", "--upstream", direct_url, "--port", "0", "--log-level",
                             "warning"] + (["--record", str(work / "rec.jsonl")] if args.record else [])
            proxy, proxy_url = start("proxy", proxy_command, work / "proxy.log", token)
            processes.append(proxy)
            urls = {"direct": direct_url, "proxy": proxy_url}
            samples: dict[str, list[WrkResult]] = {name: [] for name in TARGETS}
            for name in TARGETS:
                run_wrk(urls[name] + STATUS_PATH, seconds=args.warmup, threads=2, connections=args.connections,
                        lua=lua, headers={"auth": token}, what=f"{name} warm-up")
            for round_ in range(args.runs):
                for name in TARGETS if round_ % 2 == 0 else tuple(reversed(TARGETS)):
                    samples[name].append(run_wrk(urls[name] + STATUS_PATH, seconds=args.duration, threads=2,
                                                 connections=args.connections, lua=lua, headers={"auth": token},
                                                 what=name))
        finally:
            for process in reversed(processes):
                stop(process)  # type: ignore[arg-type]
    results = {name: summary(samples[name]) for name in TARGETS}
    direct_r, proxy_r = results["direct"], results["proxy"]
    added = {"p50_ms": proxy_r["p50_ms"] - direct_r["p50_ms"], "p99_ms": proxy_r["p99_ms"] - direct_r["p99_ms"],
             "throughput_ratio": proxy_r["rps"] / direct_r["rps"]}
    print(f"{wrk_version()}; wrk -t2 -c{args.connections}, {args.runs} x {args.duration} s; load average {load:.2f};"
          f" proxy recording: {'on' if args.record else 'off'}")
    print("| target | req/s | p50 (ms) | p99 (ms) | invalid runs |\n|---|---|---|---|---|")
    for name, result in results.items():
        print(f"| {name} | {result['rps']:.0f} | {result['p50_ms']:.2f} | {result['p99_ms']:.2f} |"
              f" {result['invalid_runs']} |")
    print(f"proxy adds {added['p50_ms']:.2f} ms at p50, {added['p99_ms']:.2f} ms at p99;"
          f" throughput {added['throughput_ratio']:.2f}x direct")
    if args.json:
        args.json.write_text(json.dumps({"results": results, "added": added, "load": load}, indent=2))
    if any(r["invalid_runs"] for r in results.values()):
        raise BenchError("some runs had error answers or socket errors: not a valid measurement")
    return 0


if __name__ == "__main__":
    assert HOST == "127.0.0.1"
    run_main(main, Path(sys.argv[0]).name)
