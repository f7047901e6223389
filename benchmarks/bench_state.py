"""What the shared state costs: the status call and the create call on one
instance with its state in SQLite, one on PostgreSQL, and two on PostgreSQL
behind a round-robin, side by side.

Targets, all on 127.0.0.1 and all started by this script:

1. `mockserver run --workers 1` on a fresh SQLite file (the default);
2. `mockserver run --workers 1 --state postgresql://...` on a fresh database;
3. two such instances on one other fresh database, behind a TCP round-robin
   proxy written here (`proxy`, asyncio, run as its own process): each new
   client connection goes to the next instance, and its bytes are copied both
   ways. wrk's 32 keep-alive connections are spread 16 and 16.

PostgreSQL 16 comes from the `pgserver` wheel (the test extra), started by
this script on a unix socket in a private temporary directory (the tests'
helper, `tests/postgres.py`), with its default settings.

Workloads, each with a valid JWT in the `auth` header, `wrk -t2 -c32
--timeout 2s`: `GET` status of the preloaded request; `DELETE` create of one
user on all bots (a Lua script sets the method, `Content-Type` and the body;
every create is a committed row). Method as in `bench_status.py`: a warm-up
per target and workload, then `--runs` rounds of `--duration` seconds, the
order of the targets rotating, medians; any non-2xx answer or socket error
makes a run invalid and is flagged.

This is a 2-core machine: the load generator, PostgreSQL, the proxy and
every instance share the same two cores, so two instances cannot show what
two hosts would; the numbers show the cost of each hop, not a scale-out.

    .venv/bin/python benchmarks/bench_state.py [--runs 3] [--duration 10] [--json state.json]
    .venv/bin/python benchmarks/bench_state.py proxy URL URL   (the round-robin alone)
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench_status import (  # noqa: E402 - a sibling script, not a package
    HOST,
    MOCKSERVER,
    START_TIMEOUT,
    STATUS_PATH,
    WRK_DONE_LUA,
    WRK_TIMEOUT,
    BenchError,
    Target,
    answers_request,
    get,
    load,
    require,
    require_wrk,
    run_main,
    sigterm_as_exit,
    spawn,
    start_mockserver,
    stop,
    wait_until,
)

from tests.postgres import Postgres  # noqa: E402 - the tests' PostgreSQL (pgserver), same settings

CREATE_PATH = "/api/public/bot/eraseUsersData"
CREATE_LUA = r"""
wrk.method = "DELETE"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"userIds": ["bench@example.com"], "RemoveDataFromAllBots": true}'
""" + WRK_DONE_LUA
WORKLOADS = {"status": STATUS_PATH, "create": CREATE_PATH}
PROXY_BANNER = "proxy listening on "


# --- the round-robin -----------------------------------------------------------


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


async def _round_robin(backends: list[tuple[str, int]]) -> None:
    turn = itertools.cycle(backends)

    async def connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        host, port = next(turn)
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(host, port)
        except OSError:
            writer.close()
            return
        await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))

    server = await asyncio.start_server(connect, HOST, 0, backlog=1024)
    port = server.sockets[0].getsockname()[1]
    print(f"{PROXY_BANNER}http://{HOST}:{port}", flush=True)
    async with server:
        await server.serve_forever()


def proxy(urls: list[str]) -> None:
    """Serve a round-robin over `urls` (loopback only) until killed."""
    backends = []
    for url in urls:
        parts = urlsplit(url)
        if parts.hostname != HOST or parts.port is None:
            raise BenchError(f"the proxy only forwards to {HOST}, not {url}")
        backends.append((parts.hostname, parts.port))
    asyncio.run(_round_robin(backends))


def start_proxy(name: str, workdir: Path, backends: list[Target]) -> Target:
    log = workdir / "proxy.log"
    command = [sys.executable, str(Path(__file__).resolve()), "proxy", *(t.base_url for t in backends)]
    process = spawn(command, log)
    base_url = ""

    def listening() -> bool:
        nonlocal base_url
        text = log.read_text(errors="replace")
        if PROXY_BANNER not in text:
            return False
        base_url = text.split(PROXY_BANNER, 1)[1].split()[0]
        return True

    try:
        wait_until(name, process, log, listening)
    except BaseException:
        stop(process)
        raise
    return Target("proxy", name, command, process, base_url, log, check=answers_request)


# --- the measurement -----------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="Measured runs per target and workload (medians).")
    parser.add_argument("--duration", type=int, default=10, help="Seconds per measured run.")
    parser.add_argument("--warmup", type=int, default=3, help="Seconds of unmeasured load per target and workload.")
    parser.add_argument("--connections", type=int, default=32, help="Concurrent keep-alive connections.")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (-t).")
    parser.add_argument("--workload", choices=sorted(WORKLOADS), action="append",
                        help="Measure only this workload (repeatable) [default: both].")
    parser.add_argument("--json", type=Path, metavar="PATH", help="Write the raw results here.")
    args = parser.parse_args(argv)
    for name in ("runs", "duration", "connections", "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    return args


def start_targets(workdir: Path, postgres: Postgres) -> list[Target]:
    targets: list[Target] = []
    try:
        targets.append(start_mockserver("sqlite", "1 instance, SQLite", 1, workdir / "sqlite", journal=True))
        url = postgres.database()
        targets.append(start_mockserver("pg", "1 instance, PostgreSQL", 1, workdir / "pg1", journal=True,
                                        extra=("--state", url)))
        shared = postgres.database()
        pair = [start_mockserver(f"pg-{n}", f"instance {n}", 1, workdir / f"pg2-{n}", journal=True,
                                 extra=("--state", shared))
                for n in (1, 2)]
        targets += pair
        targets.append(start_proxy("2 instances, PostgreSQL, round-robin", workdir, pair))
    except BaseException:
        for target in reversed(targets):
            stop(target.process)
        raise
    return targets


def main(argv: list[str] | None = None) -> int:
    if argv is None and sys.argv[1:2] == ["proxy"]:
        proxy(sys.argv[2:])
        return 0
    args = parse_args(argv)
    require(require_wrk())
    planned = len(WORKLOADS) * 3 * (args.warmup + args.runs * (args.duration + 5)) + 5 * START_TIMEOUT
    token = subprocess.check_output([str(MOCKSERVER), "token", "--exp", str(int(planned) + 600)], text=True).strip()
    load_before = os.getloadavg()
    workloads = {name: path for name, path in WORKLOADS.items() if name in (args.workload or WORKLOADS)}
    results: dict[str, dict[str, Target]] = {workload: {} for workload in workloads}
    with tempfile.TemporaryDirectory(prefix="bench-state-") as tmp, sigterm_as_exit():
        workdir = Path(tmp)
        scripts = {"status": workdir / "status.lua", "create": workdir / "create.lua"}
        scripts["status"].write_text(WRK_DONE_LUA)
        scripts["create"].write_text(CREATE_LUA)
        postgres = Postgres(durable=True)
        targets: list[Target] = []
        try:
            print("starting PostgreSQL and the targets...", file=sys.stderr)
            targets = start_targets(workdir, postgres)
            measured = [t for t in targets if not t.name.startswith("instance ")]
            for workload, path in workloads.items():
                runs = {t.name: dataclasses.replace(t, samples=[], rss=[]) for t in measured}
                results[workload] = runs
                for target in runs.values():
                    status, body = get(target.base_url + STATUS_PATH, {"auth": token})
                    if not answers_request(status, body):
                        raise BenchError(f"{target.name} answered {status} to the status call: {body[:200]!r}")
                    if args.warmup:
                        load(target, token, args.warmup, args, scripts[workload], 0, path)
                order = list(runs.values())
                for round_ in range(1, args.runs + 1):
                    shift = (round_ - 1) % len(order)
                    for target in order[shift:] + order[:shift]:
                        sample = load(target, token, args.duration, args, scripts[workload], round_, path)
                        target.samples.append(sample)
                        flag = "" if sample.valid else f"  INVALID: {sample.non2xx} non-2xx, " \
                                                       f"{sample.socket_errors} socket errors"
                        print(f"{workload} run {round_}/{args.runs}: {target.name}: {sample.rps:,.0f} req/s, "
                              f"p99 {sample.p99_us / 1000:.2f} ms{flag}", file=sys.stderr)
        finally:
            for target in reversed(targets):
                stop(target.process)
            postgres.close()
    print(f"\n`wrk -t{args.threads} -c{args.connections} --timeout {WRK_TIMEOUT}`, {args.runs} run(s) x "
          f"{args.duration} s per target and workload after a {args.warmup} s warm-up; medians; {os.cpu_count()} "
          f"CPUs; load average before {load_before[0]:.2f}\n")
    print("| workload | target | req/s | p50 (ms) | p99 (ms) | non-2xx | socket errors |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for workload, runs in results.items():
        for t in runs.values():
            print(f"| {workload} | {t.name} | {t.median('rps'):,.0f} | {t.median('p50_us') / 1000:.2f} "
                  f"| {t.median('p99_us') / 1000:.2f} | {sum(s.non2xx for s in t.samples)} "
                  f"| {sum(s.socket_errors for s in t.samples)} |")
    if args.json:
        args.json.write_text(json.dumps({
            "settings": vars(args) | {"json": str(args.json)},
            "loadavg_before": load_before, "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "results": {w: {t.name: [asdict(s) | {"rps": s.rps, "socket_errors": s.socket_errors}
                                     for s in t.samples] for t in runs.values()}
                        for w, runs in results.items()},
        }, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    run_main(main, "bench_state")
