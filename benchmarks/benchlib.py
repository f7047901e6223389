"""What the benchmark scripts share: starting and stopping servers in their own
process groups, talking to them on loopback, wrk with a Lua `done()` hook that
prints exact percentiles, the memory of a process tree, and the machine's state.

Every address here is 127.0.0.1: the scripts start their servers there and
send traffic nowhere else.
"""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "openapi.yaml"
NODE_BIN = ROOT / "benchmarks" / "node_modules" / ".bin"
MOCKSERVER = Path(sys.executable).parent / "mockserver"
HOST = "127.0.0.1"  # the only address these scripts ever send traffic to
REQUEST_ID = "eud-eeb6e86b-c0f9-435c-af75-697a909943ea"  # preloaded by the default fixtures
STATUS_PATH = f"/api/public/bot/eraseUsersData/status/{REQUEST_ID}"
CREATE_PATH = "/api/public/bot/eraseUsersData"
HEALTH_PATH = "/__mockserver/health"
BANNER = re.compile(r"^mockserver listening on (http://127\.0\.0\.1:\d+)\s*$")
WRK_TIMEOUT = "2s"  # wrk's default, written out: a slower answer counts as a socket error
START_TIMEOUT = 60.0
BUSY_LOAD = 0.5  # 1-minute load average above which the machine is not quiet enough to measure
FOREIGN_CPU_LIMIT = 0.15  # cores' worth of CPU used by other processes during a run, beyond which it is skewed

# One JSON line from wrk's `done()` hook. Latencies are in microseconds;
# `summary.errors.status` counts answers with status >= 400.
WRK_DONE_LUA = r"""
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


class BenchError(Exception):
    """The benchmark cannot run or its result would be meaningless."""


# --- processes -----------------------------------------------------------------


def spawn(command: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start `command` in a new session (its own process group, so stopping it
    also stops any child it forks); stdout and stderr go to `log`, a file, so a
    chatty server can never block on a full pipe."""
    with log.open("wb") as out:
        return subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True, env=env)


def stop(process: subprocess.Popen[Any]) -> None:
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
    """A port free on 127.0.0.1 now (for servers that cannot be told port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def mockserver_token(seconds: int) -> str:
    """A valid token of the default fixtures app, `seconds` long."""
    return subprocess.check_output([str(MOCKSERVER), "token", "--exp", str(seconds)], text=True).strip()


def read_banner_url(log: Path) -> str | None:
    """The base URL from the first line of `mockserver run`'s output, once it is there."""
    text = log.read_text(errors="replace")
    if "\n" not in text:
        return None
    first = text.splitlines()[0]
    match = BANNER.match(first)
    if match is None:
        raise BenchError(f"unexpected first line from mockserver: {first!r}")
    return match.group(1)


# --- HTTP on loopback ------------------------------------------------------------


def call(url: str, headers: dict[str, str], method: str = "GET", body: bytes | None = None,
         timeout: float = 5.0) -> tuple[int, bytes]:
    """One request on loopback; (status, body), status 0 when nothing answered."""
    assert url.startswith(f"http://{HOST}:"), url
    request = urllib.request.Request(url, headers=headers, method=method, data=body)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - loopback only
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError:
        return 0, b""


def get(url: str, headers: dict[str, str]) -> tuple[int, bytes]:
    return call(url, headers)


def wait_until(target_name: str, process: subprocess.Popen[Any], log: Path, ready: Callable[[], bool],
               timeout: float = START_TIMEOUT, interval: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(f"{target_name} exited with {process.returncode} while starting:\n{tail(log)}")
        if ready():
            return
        time.sleep(interval)
    raise BenchError(f"{target_name} not ready after {timeout:.0f} s:\n{tail(log)}")


# --- wrk -------------------------------------------------------------------------


@dataclass(frozen=True)
class WrkResult:
    """One wrk run: its `done()` numbers and the CPU time wrk itself used."""

    requests: int
    duration_s: float
    p50_us: int
    p90_us: int
    p99_us: int
    mean_us: float
    max_us: int
    non2xx: int
    connect_errors: int
    read_errors: int
    write_errors: int
    timeouts: int
    wrk_cpu_s: float
    extra: dict[str, Any] = field(default_factory=dict)  # what a script's done() printed beyond the above

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s

    @property
    def socket_errors(self) -> int:
        return self.connect_errors + self.read_errors + self.write_errors + self.timeouts


def run_wrk(url: str, *, seconds: int, threads: int, connections: int, lua: Path,
            headers: dict[str, str] | None = None, what: str = "",
            script_args: list[str] | None = None) -> WrkResult:
    assert url.startswith(f"http://{HOST}:"), url
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", f"--timeout={WRK_TIMEOUT}",
               "-s", str(lua)]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    command.append(url)
    if script_args:
        command += ["--", *script_args]  # the Lua init(args) gets them as args[1], args[2], ...
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    wrk_cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    line = next((row for row in result.stdout.splitlines() if row.startswith("RESULT ")), None)
    if result.returncode != 0 or line is None:
        raise BenchError(f"wrk failed ({result.returncode}) on {what or url}:\n{result.stdout}{result.stderr}")
    data: dict[str, Any] = json.loads(line.removeprefix("RESULT "))
    return WrkResult(
        requests=data["requests"], duration_s=data["duration_us"] / 1e6, p50_us=data["p50_us"],
        p90_us=data["p90_us"], p99_us=data["p99_us"], mean_us=data["mean_us"], max_us=data["max_us"],
        non2xx=data["non2xx"], connect_errors=data["connect_errors"], read_errors=data["read_errors"],
        write_errors=data["write_errors"], timeouts=data["timeouts"], wrk_cpu_s=round(wrk_cpu_s, 3),
        extra={k: v for k, v in data.items() if k not in _WRK_KEYS},
    )


_WRK_KEYS = {"requests", "duration_us", "bytes", "p50_us", "p90_us", "p99_us", "mean_us", "max_us", "non2xx",
             "connect_errors", "read_errors", "write_errors", "timeouts"}


def wrk_version() -> str:
    result = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
    return (result.stdout + result.stderr).splitlines()[0].strip() if result.stdout + result.stderr else "?"


def require_wrk() -> list[str]:
    return [] if shutil.which("wrk") else ["wrk is not installed: apt-get install wrk"]


def require(missing: list[str]) -> None:
    """Stop with every missing tool named (`BenchError`), if any is; the project's
    venv is always required."""
    if not MOCKSERVER.exists():
        missing = [*missing, f"{MOCKSERVER} is missing: run this script with the project's venv"]
    if missing:
        raise BenchError("\n".join(missing))


def run_main(main: Callable[[], int], name: str) -> None:
    """A benchmark script's entry point: its exit code, or 2 with a one-line error."""
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        sys.exit(2)


# --- memory ------------------------------------------------------------------------


def parent_pid(pid: int) -> int | None:
    """The parent of a process (None if it is gone), from /proc."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its last ')'.
    return int(stat.rsplit(")", 1)[1].split()[1])


def process_tree(root: int) -> list[int]:
    """`root` and all its descendants, parents first (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        ppid = parent_pid(int(entry.name))
        if ppid is not None:
            children.setdefault(ppid, []).append(int(entry.name))
    tree, queue = [], [root]
    while queue:
        pid = queue.pop(0)
        tree.append(pid)
        queue.extend(sorted(children.get(pid, [])))
    return tree


def rss_kib(pid: int) -> int | None:
    """VmRSS of a process in KiB (None if it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "?"


def tree_rss(root: int) -> list[tuple[int, int, str]]:
    """(pid, RSS in KiB, command line) of every process of the tree under `root`."""
    rows = []
    for pid in process_tree(root):
        rss = rss_kib(pid)
        if rss is not None:
            rows.append((pid, rss, cmdline(pid)))
    return rows


# --- the machine ---------------------------------------------------------------------


def busy_warning(stream: Any = sys.stderr) -> float:
    """The 1-minute load average; warn when the machine is not quiet."""
    load = os.getloadavg()[0]
    if load > BUSY_LOAD:
        print(f"WARNING: load average {load:.2f} (> {BUSY_LOAD}) on {os.cpu_count()} CPUs before starting: "
              "other work on this machine will skew the numbers.", file=stream)
    return load


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


# --- other work on the machine -----------------------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def machine_busy_s() -> float:
    """CPU seconds the whole machine has spent in user and system mode (from /proc/stat)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()
    user, nice, system = (int(value) for value in fields[1:4])
    return (user + nice + system) / CLOCK_TICKS


def tree_cpu_s(root: int) -> float:
    """CPU seconds (user + system) used so far by the live processes of the tree under `root`."""
    total = 0
    for pid in process_tree(root):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        after_name = stat.rsplit(")", 1)[1].split()
        total += int(after_name[11]) + int(after_name[12])  # utime, stime (fields 14 and 15)
    return total / CLOCK_TICKS


class ForeignCpu:
    """CPU used during a measurement by anything but the server under test and the
    load generator: other people's work on a shared machine, which skews the numbers.
    Kernel time spent on the loopback traffic itself shows up here too, a few percent."""

    def __init__(self, server_pid: int):
        self.server_pid = server_pid
        self.started = time.monotonic()
        self.machine = machine_busy_s()
        self.server = tree_cpu_s(server_pid)
        self.children = _children_cpu_s()

    def share(self) -> float:
        """Cores' worth of foreign CPU since the start (0.5 = half a core)."""
        elapsed = time.monotonic() - self.started
        machine = machine_busy_s() - self.machine
        ours = (tree_cpu_s(self.server_pid) - self.server) + (_children_cpu_s() - self.children)
        return max(0.0, machine - ours) / elapsed if elapsed > 0 else 0.0


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def wait_for_quiet(max_wait: float, window: float = 2.0, limit: float = FOREIGN_CPU_LIMIT) -> float:
    """Wait (at most `max_wait` seconds) for a `window` in which the whole machine uses
    less than `limit` cores: call it with no load running, so that what it sees is
    other work. Returns the last window's CPU use, in cores."""
    deadline = time.monotonic() + max_wait
    while True:
        busy, started = machine_busy_s(), time.monotonic()
        time.sleep(window)
        used = (machine_busy_s() - busy) / (time.monotonic() - started)
        if used < limit or time.monotonic() + window > deadline:
            return used
