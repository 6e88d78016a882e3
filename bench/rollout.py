"""A full rolling deploy under a steady request stream: failures, split and step overhead.

A `brace server` with a private home serves production: a trivial model (it answers its
version), v1 at N replicas (min = max = N), promotion settings rolling, max surge P %,
stabilization S s. Client threads send predicts to production without pause on
keep-alive connections while v2 is pushed with `--promote`, until the promotion has
SUCCEEDED. Meanwhile the bench polls the environment (`in_progress_promotion`) every
20 ms and, through psutil, sees each replica process start; it probes each new
replica's own readiness route on its Unix socket, so it knows how long the model
server itself took to come up.

Prints:
- total and failed requests (an error status, a refused or cut connection);
- the largest gap between the observed share of v2 answers and the reported
  `percent_traffic_to_new_version`, per window of 100 consecutive requests sent and
  answered while the reported percentage held still;
- for each traffic step: the time since the previous one, of which the stabilization
  time and the candidate replica's own start (process start to readiness), and the
  rest: the controller's own overhead (noticing readiness, draining, spawning, ticks,
  store writes). The target: well under a second per step.

With `--crash-after K` the candidate is a crash loop: its load() succeeds and each of
its replica processes exits after K predicts, so the promotion must fail and production
must keep answering. Then it prints instead the longest time production answered
nothing (every client waiting; the target: under a second), and the failed requests
next to the candidate's replica crashes (from its log): the only failures allowed are
requests in flight on a replica as it crashed (at most one per client per crash).

Uses only public surfaces: the CLI, the management API, the gateway, psutil, and the
replicas' Truss readiness route.
Usage: python bench/rollout.py [--replicas N] [--surge P] [--stabilization S] [--clients C]
                               [--crash-after K]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import itertools
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil
from common import AUTH, KEY, free_port, wait_until

from brace.processes import replica_arguments

MODEL = """\
class Model:
    def predict(self, model_input):
        return {{"version": {version}}}
"""
WINDOW = 100
MARGIN = 0.05
"""Seconds trimmed off each end of a span with one reported percentage."""
READINESS = "/v1/models/model"
CRASHING = """\
import os


class Model:
    def __init__(self, **kwargs):
        self.calls = 0

    def predict(self, model_input):
        self.calls += 1
        if self.calls > {calls}:
            os._exit(1)
        return {{"version": 2}}
"""
CRASH_LINE = re.compile(r"^(\S+) \[brace\] replica \w+ exited with code ")
NEAR_A_CRASH = 0.25
"""Seconds between a failed request and a candidate replica's crash (as its log stamps
it) within which the failure counts as one in flight on the crashing replica."""


class Brace:
    """The server under test and the CLI and API pointed at it."""

    def __init__(self, root: Path) -> None:
        self.home = root / "home"
        self.home.mkdir()
        self.port = free_port()
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("BRACE_")},
            "BRACE_HOME": str(self.home),
            "BRACE_PORT": str(self.port),
            "BRACE_API_KEY": KEY,
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "brace", "server", "--port", str(self.port)],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_until(lambda: self.call("GET", "/healthz")[0] == 200, "the server to answer")

    def cli(self, *args: str) -> Any:
        done = subprocess.run(
            [sys.executable, "-m", "brace", *args, "-o", "json"],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=120,
        )
        if done.returncode != 0:
            raise SystemExit(f"brace {' '.join(args)} failed: {done.stderr}")
        return json.loads(done.stdout)

    def crashes(self, deployment_id: str) -> list[float]:
        """When the deployment's replicas crashed (epoch seconds), from its log."""
        done = subprocess.run(
            [sys.executable, "-m", "brace", "logs", deployment_id, "-m", "rolling"],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=60,
        )
        found = (CRASH_LINE.match(line) for line in done.stdout.splitlines())
        return [datetime.fromisoformat(m.group(1)).timestamp() for m in found if m]

    def call(self, method: str, path: str, payload: Any = None) -> tuple[int, Any]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            body = None if payload is None else json.dumps(payload)
            connection.request(method, path, body=body, headers=AUTH)
            response = connection.getresponse()
            data = response.read()
        except OSError:
            return 0, None
        finally:
            connection.close()
        try:
            return response.status, json.loads(data)
        except ValueError:
            return response.status, None

    def stop(self) -> None:
        """TERM (the server stops its replicas), then KILL."""
        children = psutil.Process(self.process.pid).children(recursive=True)
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for child in children:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(child.pid, signal.SIGKILL)


# what the bench watches


@dataclass
class Reply:
    sent: float
    received: float
    ok: bool
    version: int | None


class Clients:
    """Threads sending predicts to production one after another, each on its own
    keep-alive connection (reconnecting after a failure, which is counted)."""

    def __init__(self, port: int, path: str, count: int) -> None:
        self.replies: list[Reply] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._args = (port, path)
        self._threads = [threading.Thread(target=self._send) for _ in range(count)]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def _send(self) -> None:
        port, path = self._args
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while not self._stop.is_set():
            sent = time.time()
            try:
                connection.request("POST", path, body=b"{}", headers=AUTH)
                response = connection.getresponse()
                body = response.read()
                ok = response.status == 200
                reply = Reply(sent, time.time(), ok, json.loads(body)["version"] if ok else None)
            except (OSError, http.client.HTTPException):
                connection.close()
                reply = Reply(sent, time.time(), False, None)
            with self._lock:
                self.replies.append(reply)
        connection.close()


@dataclass
class Sample:
    at: float
    status: str | None
    percent: int | None


class Poller:
    """The environment's `in_progress_promotion`, every 20 ms."""

    def __init__(self, brace: Brace, model_id: str) -> None:
        self.samples: list[Sample] = []
        self._brace = brace
        self._path = f"/v1/models/{model_id}/environments/production"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _poll(self) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self._brace.port, timeout=10)
        while not self._stop.is_set():
            try:
                connection.request("GET", self._path, headers=AUTH)
                body = json.loads(connection.getresponse().read())
            except (OSError, http.client.HTTPException, ValueError):
                connection.close()
                continue
            promotion = body.get("in_progress_promotion") or {}
            self.samples.append(
                Sample(
                    time.time(),
                    promotion.get("status"),
                    promotion.get("percent_traffic_to_new_version"),
                )
            )
            time.sleep(0.02)
        connection.close()

    def first(self, condition: Callable[[Sample], bool]) -> Sample | None:
        return next((s for s in self.samples if condition(s)), None)


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("localhost", timeout=1)
        self._path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(1)
        self.sock.connect(self._path)


@dataclass
class ReplicaSeen:
    pid: int
    truss: str
    socket: str
    started: float
    """The process's start time (psutil, seconds since the epoch)."""
    ready: float | None = None
    """When its readiness route first answered 200."""
    gone: float | None = None
    """When the process was seen ended."""


@dataclass
class Processes:
    """Every replica process of the server, as psutil sees it, with its readiness."""

    server_pid: int
    seen: dict[int, ReplicaSeen] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._watch)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _watch(self) -> None:
        server = psutil.Process(self.server_pid)
        while not self._stop.is_set():
            children = server.children(recursive=True)
            living = {c.pid for c in children if alive(c)}
            now = time.time()
            for replica in self.seen.values():
                if replica.gone is None and replica.pid not in living:
                    replica.gone = now
            for child in children:
                if child.pid in self.seen:
                    continue
                with contextlib.suppress(psutil.Error, ValueError, IndexError):
                    command = replica_arguments(child.cmdline())
                    if command is not None:
                        self.seen[child.pid] = ReplicaSeen(
                            child.pid,
                            command[command.index("--truss") + 1],
                            command[command.index("--uds") + 1],
                            child.create_time(),
                        )
            for replica in self.seen.values():
                if replica.ready is None and ready(replica.socket):
                    replica.ready = time.time()
            time.sleep(0.005)


def alive(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def ready(path: str) -> bool:
    connection = UnixConnection(path)
    try:
        connection.request("GET", READINESS)
        return connection.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()


# the run


@dataclass(frozen=True)
class Step:
    percent: int
    at: float
    took: float
    stabilization: float
    replica_start: float
    drain: float

    @property
    def overhead(self) -> float:
        return self.took - self.stabilization - self.replica_start - self.drain


def spans(samples: list[Sample]) -> list[tuple[int, float, float]]:
    """(percent, first, last sample time) of each run of one percentage while ramping."""
    runs: list[tuple[int, float, float]] = []
    for sample in samples:
        if sample.status != "RAMPING_UP" or sample.percent is None:
            runs.append((-1, sample.at, sample.at))
        elif runs and runs[-1][0] == sample.percent:
            runs[-1] = (sample.percent, runs[-1][1], sample.at)
        else:
            runs.append((sample.percent, sample.at, sample.at))
    return [run for run in runs if run[0] >= 0]


def split_gaps(samples: list[Sample], replies: list[Reply]) -> list[tuple[int, int]]:
    """(reported percent, observed v2 answers) per window of WINDOW requests."""
    ordered = sorted(replies, key=lambda reply: reply.sent)
    windows = []
    for percent, start, end in spans(samples):
        inside = [r for r in ordered if start + MARGIN <= r.sent and r.received <= end - MARGIN]
        for first in range(0, len(inside) - WINDOW + 1, WINDOW):
            chunk = inside[first : first + WINDOW]
            windows.append((percent, sum(r.version == 2 for r in chunk)))
    return windows


def steps(
    samples: list[Sample],
    candidates: list[ReplicaSeen],
    stopped: list[ReplicaSeen],
    step_size: int,
    stabilization: float,
) -> list[Step]:
    """Each traffic step, and the end (SUCCEEDED), timed from the step before.

    Surge mode: a cycle starts candidate replicas and waits until they are ready,
    shifts traffic, stops as many previous replicas and waits until they have exited,
    then waits the stabilization time. So a step's time is the previous cycle's drain
    (traffic shift to the last stopped replica's exit) and stabilization, this cycle's
    replica start (the slowest of its new replicas, process start to readiness), and
    the rest: the controller's own overhead. The first step is timed from the
    promotion's first sample (RELEASING); the end from the last traffic step."""
    start = next(s for s in samples if s.status == "RELEASING")
    found: list[Step] = []
    previous_at, previous_percent = start.at, 0
    cycle = 0

    def drained(cycle: int, shifted: float) -> float:
        """Seconds from the shift of `cycle` (1-based) to its previous replicas' exit."""
        if cycle == 0:
            return 0.0
        gone = stopped[(cycle - 1) * step_size : cycle * step_size]
        return max((r.gone - shifted for r in gone if r.gone is not None), default=0.0)

    for sample in samples:
        if sample.status == "RAMPING_UP" and sample.percent not in (None, previous_percent):
            assert sample.percent is not None
            started = candidates[cycle * step_size : (cycle + 1) * step_size]
            own = max(((r.ready or r.started) - r.started for r in started), default=0.0)
            waited = stabilization if cycle else 0.0
            drain = drained(cycle, previous_at)
            took = sample.at - previous_at
            found.append(Step(sample.percent, sample.at, took, waited, own, drain))
            previous_at, previous_percent = sample.at, sample.percent
            cycle += 1
        elif sample.status == "SUCCEEDED" and found:
            drain = drained(cycle, previous_at)
            took = sample.at - previous_at
            found.append(Step(100, sample.at, took, stabilization, 0.0, drain))
            break
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicas", type=int, default=4)
    parser.add_argument("--surge", type=int, default=25)
    parser.add_argument("--stabilization", type=int, default=1)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument(
        "--crash-after",
        type=int,
        default=0,
        help="a crash-looping candidate: each replica exits after this many predicts",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="brace-bench-") as tmp:
        root = Path(tmp)
        brace = Brace(root)
        try:
            result = run(brace, root / "rolling", args)
        finally:
            brace.stop()
    report(result, args)


@dataclass(frozen=True)
class Outcome:
    final: str | None
    """The promotion's status at the end."""
    replies: list[Reply]
    samples: list[Sample]
    """The environment's promotion from the push on."""
    candidates: list[ReplicaSeen]
    """The candidate's replica processes, in the order they started."""
    stopped: list[ReplicaSeen]
    """v1's replica processes that ended, in the order they did."""
    step_size: int
    crashes: list[float] = field(default_factory=list)
    """When the candidate's replicas crashed (epoch seconds)."""


def run(brace: Brace, directory: Path, args: argparse.Namespace) -> Outcome:
    (directory / "model").mkdir(parents=True)
    (directory / "config.yaml").write_text(
        "model_name: rolling\nruntime:\n  predict_concurrency: 8\n"
    )
    source = directory / "model" / "model.py"
    source.write_text(MODEL.format(version=1))
    pushed = brace.cli("push", str(directory), "--promote", "--wait")
    model_id, v1 = pushed["model"]["id"], pushed["deployment"]["id"]
    settings = {
        "autoscaling_settings": {"min_replica": args.replicas, "max_replica": args.replicas},
        "promotion_settings": {
            "rolling_deploy": True,
            "rolling_deploy_config": {
                "max_surge_percent": args.surge,
                "max_unavailable_percent": 0,
                "stabilization_time_seconds": args.stabilization,
            },
            "promotion_cleanup_strategy": "SCALE_TO_ZERO",
        },
    }
    status, answer = brace.call("PATCH", f"/v1/models/{model_id}/environments/production", settings)
    if status != 200:
        raise SystemExit(f"updating production failed: {status} {answer}")
    deployment = f"/v1/models/{model_id}/deployments/{v1}"
    wait_until(
        lambda: brace.call("GET", deployment)[1]["active_replica_count"] == args.replicas,
        f"{args.replicas} ready replicas of v1",
    )
    processes = Processes(brace.process.pid)
    processes.start()
    wait_until(lambda: len(processes.seen) >= args.replicas, "the v1 replica processes")
    v1_truss = {r.truss for r in processes.seen.values()}
    poller = Poller(brace, model_id)
    clients = Clients(brace.port, "/model/rolling/environments/production/predict", args.clients)
    poller.start()
    clients.start()
    try:
        time.sleep(1)  # the stream runs steadily before the rollout starts
        if args.crash_after:
            source.write_text(CRASHING.format(calls=args.crash_after))
        else:
            source.write_text(MODEL.format(version=2))
        began = time.time()
        candidate = brace.cli("push", str(directory), "--promote")["deployment"]["id"]
        wait_until(
            lambda: (
                poller.samples
                and poller.samples[-1].at > began
                and poller.samples[-1].status not in ("RELEASING", "RAMPING_UP")
            ),
            "the rollout to end",
            timeout=300,
        )
        time.sleep(1)  # and after it
    finally:
        clients.stop()
        poller.stop()
        processes.stop()
    final = poller.samples[-1].status
    candidates = sorted(
        (r for r in processes.seen.values() if r.truss not in v1_truss), key=lambda r: r.started
    )
    stopped = sorted(
        (r for r in processes.seen.values() if r.truss in v1_truss and r.gone is not None),
        key=lambda r: r.gone or 0.0,
    )
    full = args.replicas  # no overhead: F = N
    step_size = max(1, (2 * args.surge * full + 100) // 200)
    samples = [s for s in poller.samples if s.at >= began]
    crashes = brace.crashes(candidate)
    return Outcome(final, clients.replies, samples, candidates, stopped, step_size, crashes)


def longest_silence(replies: list[Reply]) -> float:
    """The longest time, in seconds, with requests outstanding and no answer at all."""
    answered = sorted(reply.received for reply in replies)
    gaps = [later - earlier for earlier, later in itertools.pairwise(answered)]
    return max(gaps, default=0.0)


def report_crash_loop(outcome: Outcome, args: argparse.Namespace) -> None:
    replies, crashes = outcome.replies, outcome.crashes
    failed = [reply for reply in replies if not reply.ok]
    near = [
        reply
        for reply in failed
        if any(abs(reply.received - crash) <= NEAR_A_CRASH for crash in crashes)
    ]
    print(
        f"rolling deploy of a crash-looping candidate (each replica exits after "
        f"{args.crash_after} predicts): {args.replicas} replicas, surge {args.surge} %, "
        f"{args.clients} clients without pause; Python {sys.version.split()[0]}, "
        f"{os.cpu_count()} CPUs"
    )
    print(f"promotion: {outcome.final}")
    print(
        f"longest time production answered nothing: {longest_silence(replies):.3f} s "
        "(target: under 1 s)"
    )
    print(
        f"requests: {len(replies)} total, {len(failed)} failed; candidate replica crashes: "
        f"{len(crashes)}; failed requests within {NEAR_A_CRASH:g} s of a crash: {len(near)}, "
        f"elsewhere: {len(failed) - len(near)} (target: 0 elsewhere, at most "
        f"{args.clients} per crash)"
    )


def report(outcome: Outcome, args: argparse.Namespace) -> None:
    if args.crash_after:
        report_crash_loop(outcome, args)
        return
    final, replies, samples = outcome.final, outcome.replies, outcome.samples
    failed = sum(not reply.ok for reply in replies)
    print(
        f"rolling deploy of a trivial model: {args.replicas} replicas, surge {args.surge} %, "
        f"stabilization {args.stabilization} s, {args.clients} clients without pause; "
        f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs"
    )
    print(f"promotion: {final}")
    print(f"requests: {len(replies)} total, {failed} failed")
    windows = split_gaps(samples, replies)
    ramping = [(p, v2) for p, v2 in windows if 0 < p < 100]
    if ramping:
        gap, percent, v2 = max((abs(v2 - p), p, v2) for p, v2 in ramping)
        print(
            f"split: {len(ramping)} windows of {WINDOW} requests while ramping (plus "
            f"{len(windows) - len(ramping)} at 0 or 100 %); largest gap between observed and "
            f"reported: {gap} ({v2} of {WINDOW} answers from v2 at {percent} %)"
        )
        edges = [abs(v2 - p) for p, v2 in windows if p in (0, 100)]
        print(f"split at 100 %: largest gap {max(edges, default=0)}")
    else:
        print("split: no window of 100 requests while the percentage held still")
    timed = steps(
        samples, outcome.candidates, outcome.stopped, outcome.step_size, args.stabilization
    )
    print(
        f"{'step':>5} {'traffic':>8} {'took s':>8} {'drain s':>8} {'stabil. s':>10} "
        f"{'start s':>8} {'overhead s':>11}"
    )
    for index, step in enumerate(timed, 1):
        name = "end" if index == len(timed) else str(index)
        print(
            f"{name:>5} {step.percent:>7}% {step.took:8.2f} {step.drain:8.2f} "
            f"{step.stabilization:10.2f} {step.replica_start:8.2f} {step.overhead:11.2f}"
        )
    print(
        "(drain: the previous step's traffic shift to the exit of the previous replicas it "
        "stopped; start: the new candidate replicas' own start, process start to readiness; "
        "overhead: the rest)"
    )
    overheads = [step.overhead for step in timed]
    if overheads:
        with_drain = [step.overhead + step.drain for step in timed]
        print(
            f"controller overhead per step: median {statistics.median(overheads):.2f} s, "
            f"max {max(overheads):.2f} s; counting the drain too: median "
            f"{statistics.median(with_drain):.2f} s, max {max(with_drain):.2f} s "
            "(target: well under 1 s)"
        )


if __name__ == "__main__":
    main()
