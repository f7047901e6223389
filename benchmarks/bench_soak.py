"""Soak: does the mock stay flat under steady load? `mockserver run` with
retention on, loaded for `--minutes` at a steady `--rate` with a mix of
creates and status reads; each minute, the server's resident memory (RSS, all
its processes), the state file's size (with its WAL and shared-memory files)
and the p99 latency of that minute's requests; at the end, whether each of
the three stayed flat.

What is sent, all to 127.0.0.1: `--create-share` of the requests are creates
(`DELETE`, one user, all bots), the others status reads (`GET`) of a request
created in the last `--retain-finished-seconds / 2` seconds, or of the
preloaded one before the first create. The server runs on the real clock with
`--progress-delay 2`, so every created request finishes and then ages out.
Requests are started on a fixed schedule (open loop) from one asyncio client
with keep-alive connections; latency is measured from the scheduled start, so
a stalled server shows in the p99 instead of slowing the load down.

Flat: after the first half (warm-up: the journal filling to its cap, the
retention window filling up), the second half's maximum stays within
`--tolerance` of the first half's maximum for RSS and the state file, and
the second half's median p99 within 1.5 x the first half's.

    .venv/bin/python benchmarks/bench_soak.py [--minutes 10] [--rate 200] [--json soak.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_status import (  # noqa: E402 - a sibling script, not a package
    HOST,
    MOCKSERVER,
    REQUEST_ID,
    require,
    run_main,
    sigterm_as_exit,
    start_mockserver,
    stop,
)

CREATE_PATH = "/api/public/bot/eraseUsersData"
STATUS_PATH = "/api/public/bot/eraseUsersData/status/{}"
MIB = 1024 * 1024


@dataclass
class Minute:
    minute: int
    requests: int
    unexpected: int  # answers other than 200 (a create, a read of a recent request)
    late_starts: int  # requests started more than 100 ms after their slot (the client could not keep up)
    p50_ms: float
    p99_ms: float
    rss_mib: float
    state_mib: float


@dataclass
class Load:
    """The load generator's state: what it created, what came back."""

    rng: random.Random
    create_share: float
    keep_ids_for: float
    created: deque[tuple[float, str]] = field(default_factory=deque)
    latencies: list[float] = field(default_factory=list)
    unexpected: int = 0
    late: int = 0

    def recent_id(self, now: float) -> str:
        while self.created and self.created[0][0] < now - self.keep_ids_for:
            self.created.popleft()
        return self.rng.choice(self.created)[1] if self.created else REQUEST_ID


def server_rss_mib(leader: int) -> float:
    """Resident memory of the server's process group (the workers too), in MiB."""
    total_kib = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            pgrp = int(stat.rsplit(")", 1)[1].split()[2])
            if pgrp != leader:
                continue
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kib += int(line.split()[1])
        except (OSError, ValueError, IndexError):
            continue
    return total_kib / 1024


def state_mib(state: Path) -> float:
    return sum(path.stat().st_size for path in state.parent.glob(state.name + "*")) / MIB


async def one_request(http: httpx.AsyncClient, load: Load, token: str, scheduled: float) -> None:
    loop = asyncio.get_running_loop()
    if loop.time() - scheduled > 0.1:
        load.late += 1
    headers = {"auth": token}
    try:
        if load.rng.random() < load.create_share:
            body = {"userIds": [f"soak-{load.rng.getrandbits(48):x}@example.com"], "RemoveDataFromAllBots": True}
            response = await http.request("DELETE", CREATE_PATH, json=body, headers=headers)
            if response.status_code == 200:
                load.created.append((time.monotonic(), response.json()["requestId"]))
        else:
            response = await http.get(STATUS_PATH.format(load.recent_id(time.monotonic())), headers=headers)
        ok = response.status_code == 200
    except httpx.HTTPError:
        ok = False
    load.unexpected += not ok
    load.latencies.append((loop.time() - scheduled) * 1000)


async def soak(base_url: str, token: str, args: argparse.Namespace, leader: int, state: Path) -> list[Minute]:
    load = Load(random.Random(args.seed), args.create_share, args.retain_finished_seconds / 2)
    limits = httpx.Limits(max_connections=args.connections, max_keepalive_connections=args.connections)
    minutes: list[Minute] = []
    interval = 1 / args.rate
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30, trust_env=False) as http:
        loop = asyncio.get_running_loop()
        tasks: set[asyncio.Task[None]] = set()
        start = slot = loop.time()
        for minute in range(1, args.minutes + 1):
            end = start + 60 * minute
            while slot < end:
                await asyncio.sleep(max(0.0, slot - loop.time()))
                task = asyncio.create_task(one_request(http, load, token, slot))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                slot += interval
            latencies, load.latencies = sorted(load.latencies), []
            unexpected, late = load.unexpected, load.late
            load.unexpected = load.late = 0
            row = Minute(
                minute, len(latencies), unexpected, late,
                round(statistics.median(latencies), 2) if latencies else 0.0,
                round(latencies[int(len(latencies) * 0.99) - 1], 2) if latencies else 0.0,
                round(server_rss_mib(leader), 1), round(state_mib(state), 2),
            )
            minutes.append(row)
            print(f"minute {row.minute:>2}: {row.requests} requests ({row.unexpected} unexpected, {row.late_starts}"
                  f" late), p50 {row.p50_ms:.2f} ms, p99 {row.p99_ms:.2f} ms, RSS {row.rss_mib:.1f} MiB,"
                  f" state file {row.state_mib:.2f} MiB", flush=True)
        await asyncio.gather(*tasks)
    return minutes


def verdicts(minutes: list[Minute], tolerance: float) -> dict[str, tuple[bool, str]]:
    half = len(minutes) // 2
    first, second = minutes[:half], minutes[half:]
    result = {}
    for name, unit in (("rss_mib", "MiB"), ("state_mib", "MiB")):
        before, after = max(getattr(m, name) for m in first), max(getattr(m, name) for m in second)
        result[name] = (after <= before * (1 + tolerance),
                        f"max {before:.2f} {unit} in minutes 1-{half}, {after:.2f} {unit} in minutes {half + 1}-"
                        f"{len(minutes)}")
    before = statistics.median(m.p99_ms for m in first)
    after = statistics.median(m.p99_ms for m in second)
    result["p99_ms"] = (after <= before * 1.5,
                        f"median p99 {before:.2f} ms in minutes 1-{half}, {after:.2f} ms in minutes {half + 1}-"
                        f"{len(minutes)}")
    return result


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--minutes", type=int, default=10, help="Length of the soak.")
    parser.add_argument("--rate", type=float, default=200.0, help="Requests per second, steady.")
    parser.add_argument("--create-share", type=float, default=0.25, help="Share of the requests that are creates.")
    parser.add_argument("--connections", type=int, default=16, help="Keep-alive connections at most.")
    parser.add_argument("--workers", type=int, default=1, help="mockserver workers.")
    parser.add_argument("--retain-journal-rows", type=int, default=20_000, help="mockserver's journal cap.")
    parser.add_argument("--retain-finished-seconds", type=float, default=60.0,
                        help="mockserver forgets finished requests after this long.")
    parser.add_argument("--tolerance", type=float, default=0.05,
                        help="How much RSS and the state file may exceed their first-half maximum.")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, metavar="PATH", help="Write the minutes and verdicts here.")
    args = parser.parse_args(argv)
    if args.minutes < 2:
        parser.error("--minutes must be at least 2 (flatness compares two halves)")
    if args.rate <= 0 or not 0 <= args.create_share <= 1 or args.retain_finished_seconds <= 4:
        parser.error("--rate must be positive, --create-share in [0, 1], --retain-finished-seconds above 4")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    require([])  # the soak's own client needs no wrk
    token = subprocess.check_output([str(MOCKSERVER), "token", "--exp", str(args.minutes * 60 + 3600)],
                                    text=True).strip()
    extra = ("--clock", "real", "--progress-delay", "2",
             "--retain-journal-rows", str(args.retain_journal_rows),
             "--retain-finished-seconds", str(args.retain_finished_seconds))
    with tempfile.TemporaryDirectory(prefix="bench-soak-") as tmp, sigterm_as_exit():
        workdir = Path(tmp) / "mockserver"
        target = start_mockserver("mockserver", "mockserver", args.workers, workdir, journal=True, extra=extra)
        try:
            print(f"soaking {target.base_url} for {args.minutes} min at {args.rate:g} req/s "
                  f"({args.create_share:.0%} creates), {args.workers} worker(s), {os.cpu_count()} CPUs; "
                  f"options: {' '.join(extra)}", flush=True)
            assert target.base_url.startswith(f"http://{HOST}:")
            minutes = asyncio.run(soak(target.base_url, token, args, target.process.pid, workdir / "state.db"))
        finally:
            stop(target.process)
    judged = verdicts(minutes, args.tolerance)
    print()
    for name, (flat, detail) in judged.items():
        print(f"{name}: {'flat' if flat else 'NOT FLAT'} ({detail})")
    unexpected = sum(m.unexpected for m in minutes)
    print(f"unexpected answers: {unexpected} of {sum(m.requests for m in minutes)}")
    if args.json:
        args.json.write_text(json.dumps({"settings": vars(args) | {"json": str(args.json)},
                                         "minutes": [asdict(m) for m in minutes],
                                         "verdicts": {k: {"flat": v[0], "detail": v[1]} for k, v in judged.items()}},
                                        indent=2) + "\n")
    return 0 if all(flat for flat, _ in judged.values()) and not unexpected else 1


if __name__ == "__main__":
    run_main(main, "bench_soak")
