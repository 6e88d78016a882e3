"""Rolling deployments with real processes: a promotion of v2 over v1 under a steady
request stream, each action (pause, resume, cancel, force-cancel, force-roll-forward),
a candidate that cannot load, a second promotion refused, and a server killed with
`kill -9` in the middle of a rollout.

Production runs 4 replicas of a trivial model (min = max = 4: no autoscaling), the
stabilization time is 1 s, so a whole rollout takes about 10 s. While it runs, one
client thread sends predicts without pause on a keep-alive connection (`Stream`) and
another polls the environment's `in_progress_promotion` every 20 ms (`Watch`); the
tests compare the two. Both threads, the server and every replica are stopped even
when a test fails.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import psutil
import pytest

from brace.processes import replica_arguments
from tests.integration.conftest import (
    AUTH,
    Answer,
    Server,
    alive,
    free_port,
    start_server,
    stop_server,
    wait_until,
)

MODEL = "rolling"
PREDICT = f"/model/{MODEL}/environments/production/predict"

CONFIG = f"model_name: {MODEL}\nruntime:\n  predict_concurrency: 8\n"
VERSIONED = """\
import os


class Model:
    def load(self):
        {load}

    def predict(self, model_input):
        return {{"version": {version}, "pid": os.getpid()}}
"""
LOAD_FAILS = 'raise RuntimeError("the v2 weights are missing")'

REPLICAS = 4
STABILIZATION = 1

SURGE = {"max_surge_percent": 25, "max_unavailable_percent": 0}
UNAVAILABLE = {"max_surge_percent": 0, "max_unavailable_percent": 25}
OVERHEAD = {**SURGE, "replica_overhead_percent": 50}

WINDOW = 100
"""Requests per window when comparing the observed split with the reported one."""
MARGIN = 0.05
"""Seconds trimmed off each end of a span with one percentage: the gateway gets the
routing table right after the store has the new percentage."""


# talking to the server


def call(server: Server, method: str, path: str, payload: Any = None) -> Answer:
    """One management API request with the key."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        body = None if payload is None else json.dumps(payload)
        connection.request(method, path, body=body, headers=AUTH)
        response = connection.getresponse()
        return Answer(response.status, response.read(), dict(response.getheaders()))
    finally:
        connection.close()


def write_model(directory: Path, version: int, load: str = "pass") -> Path:
    (directory / "model").mkdir(parents=True, exist_ok=True)
    (directory / "config.yaml").write_text(CONFIG)
    (directory / "model" / "model.py").write_text(VERSIONED.format(version=version, load=load))
    return directory


def runtime_processes(server: Server) -> dict[int, str]:
    """The server's live replica processes, by pid: the model directory each runs."""
    found = {}
    for child in psutil.Process(server.process.pid).children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):
            arguments = replica_arguments(child.cmdline())
            if arguments is not None and alive(child.pid):
                found[child.pid] = arguments[arguments.index("--truss") + 1]
    return found


def rollout_steps(server: Server, deployment_id: str) -> list[tuple[str, int]]:
    """(status, step) of each `rollout to production: ...` line of the candidate's log."""
    done = server.brace("logs", deployment_id, "-m", MODEL)
    assert done.returncode == 0, done.stderr
    found = re.findall(r"rollout to production: (\w+), step (\d+),", done.stdout)
    return [(status, int(step)) for status, step in found]


# watching


@dataclass(frozen=True)
class Sample:
    at: float
    """time.monotonic() when the answer came."""
    status: str | None
    """None: the environment has no promotion."""
    percent: int


class Watch:
    """Polls the environment every 20 ms on a keep-alive connection and keeps each
    answer's promotion status and percentage; a context manager."""

    def __init__(self, server: Server, model_id: str) -> None:
        self.samples: list[Sample] = []
        self._port = server.port
        self._path = f"/v1/models/{model_id}/environments/production"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> Watch:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _poll(self) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self._port, timeout=10)
        while not self._stop.is_set():
            try:
                connection.request("GET", self._path, headers=AUTH)
                response = connection.getresponse()
                body = response.read()
            except (OSError, http.client.HTTPException):
                connection.close()  # the server is down (killed): try again
                time.sleep(0.05)
                continue
            if response.status == 200:
                promotion = json.loads(body).get("in_progress_promotion") or {}
                self.samples.append(
                    Sample(
                        time.monotonic(),
                        promotion.get("status"),
                        promotion.get("percent_traffic_to_new_version") or 0,
                    )
                )
            time.sleep(0.02)
        connection.close()

    @property
    def latest(self) -> Sample:
        return self.samples[-1] if self.samples else Sample(0.0, None, 0)

    def wait(self, condition: Callable[[Sample], bool], timeout: float, what: str) -> Sample:
        """The first sample, polled from now on, that meets `condition`."""
        since = time.monotonic()

        def met() -> Sample | None:
            latest = self.latest
            return latest if latest.at > since and condition(latest) else None

        found: Sample = wait_until(met, timeout, what)
        return found

    def wait_status(self, status: str, timeout: float = 30) -> Sample:
        return self.wait(lambda s: s.status == status, timeout, f"the promotion {status}")

    def wait_ended(self, timeout: float = 30) -> Sample:
        return self.wait(
            lambda s: s.status not in ("RELEASING", "RAMPING_UP", "PAUSED", "RAMPING_DOWN"),
            timeout,
            "the promotion to end",
        )

    def after(self, moment: float) -> list[Sample]:
        return [sample for sample in self.samples if sample.at >= moment]

    def statuses(self) -> list[str]:
        """The statuses seen, each once per run."""
        seen = [s.status for s in self.samples if s.status is not None]
        return [
            status for index, status in enumerate(seen) if index == 0 or seen[index - 1] != status
        ]

    def spans(self) -> list[tuple[int, float, float]]:
        """(percent, from, to): the times between which the store reported one
        percentage while ramping, first and last sample of each run of samples."""
        runs: list[tuple[int, float, float]] = []
        for sample in self.samples:
            if sample.status not in ("RAMPING_UP", "PAUSED"):
                runs.append((-1, sample.at, sample.at))
            elif runs and runs[-1][0] == sample.percent:
                runs[-1] = (sample.percent, runs[-1][1], sample.at)
            else:
                runs.append((sample.percent, sample.at, sample.at))
        return [run for run in runs if run[0] >= 0]


@dataclass(frozen=True)
class Reply:
    sent: float
    received: float
    status: int
    """HTTP status; 0 when the connection failed."""
    version: int | None


class Stream:
    """One client sending predicts to production one after another, without pause, on
    a keep-alive connection; every answer is kept. A context manager."""

    def __init__(self, server: Server) -> None:
        self.replies: list[Reply] = []
        self._port = server.port
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._send, daemon=True)

    def __enter__(self) -> Stream:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _send(self) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self._port, timeout=30)
        while not self._stop.is_set():
            sent = time.monotonic()
            try:
                connection.request("POST", PREDICT, body=b"{}", headers=AUTH)
                response = connection.getresponse()
                body = response.read()
            except (OSError, http.client.HTTPException):
                self.replies.append(Reply(sent, time.monotonic(), 0, None))
                connection.close()
                continue
            version = json.loads(body).get("version") if response.status == 200 else None
            self.replies.append(Reply(sent, time.monotonic(), response.status, version))
        connection.close()

    def failures(self) -> list[Reply]:
        return [reply for reply in self.replies if reply.status != 200]

    def versions(self, sent_after: float = 0.0) -> set[int | None]:
        return {reply.version for reply in self.replies if reply.sent > sent_after}

    def wait_more(self, count: int = 50, timeout: float = 10) -> None:
        """Until `count` more answers came."""
        target = len(self.replies) + count
        wait_until(lambda: len(self.replies) >= target, timeout, f"{count} more answers")


def windows(watch: Watch, stream: Stream) -> list[tuple[int, int]]:
    """(reported percent, v2 answers) for each window of WINDOW consecutive requests
    sent and answered while the reported percentage did not change."""
    found = []
    for percent, start, end in watch.spans():
        inside = [
            reply
            for reply in stream.replies
            if start + MARGIN <= reply.sent and reply.received <= end - MARGIN
        ]
        for first in range(0, len(inside) - WINDOW + 1, WINDOW):
            chunk = inside[first : first + WINDOW]
            found.append((percent, sum(reply.version == 2 for reply in chunk)))
    return found


# a production deployment to roll out over


@dataclass
class Production:
    """Production at REPLICAS replicas of v1 with the given promotion settings."""

    server: Server
    directory: Path
    model_id: str
    v1: str
    v1_truss: str
    """The model directory v1's replica processes run."""

    @property
    def environment_path(self) -> str:
        return f"/v1/models/{self.model_id}/environments/production"

    def act(self, action: str) -> Answer:
        """POST .../{action}_promotion, which must be accepted."""
        answer = call(self.server, "POST", f"{self.environment_path}/{action}_promotion")
        assert answer.status == 200, answer.body
        return answer

    def push_v2(self, load: str = "pass") -> str:
        """Promote a new deployment of v2 (rolling: the push does not wait); its id."""
        write_model(self.directory, 2, load)
        pushed = self.server.json("push", self.directory, "--promote")
        candidate: str = pushed["deployment"]["id"]
        return candidate

    def deployment(self, deployment_id: str) -> dict[str, Any]:
        answer = call(self.server, "GET", f"/v1/models/{self.model_id}/deployments/{deployment_id}")
        assert answer.status == 200, answer.body
        found: dict[str, Any] = answer.json()
        return found

    def v1_processes(self) -> list[int]:
        return [p for p, truss in runtime_processes(self.server).items() if truss == self.v1_truss]

    def other_processes(self) -> list[int]:
        """Replica processes of every deployment but v1 (the candidate's)."""
        return [p for p, truss in runtime_processes(self.server).items() if truss != self.v1_truss]

    def current_deployment(self) -> str:
        answer = call(self.server, "GET", self.environment_path)
        assert answer.status == 200, answer.body
        current: str = answer.json()["current_deployment"]["id"]
        return current


def production(
    server: Server,
    directory: Path,
    config: dict[str, int],
    cleanup: str = "SCALE_TO_ZERO",
    replicas: int = REPLICAS,
) -> Production:
    write_model(directory, 1)
    pushed = server.json("push", directory, "--promote", "--wait")
    model_id, v1 = pushed["model"]["id"], pushed["deployment"]["id"]
    settings = {
        "autoscaling_settings": {"min_replica": replicas, "max_replica": replicas},
        "promotion_settings": {
            "rolling_deploy": True,
            "rolling_deploy_config": {"stabilization_time_seconds": STABILIZATION, **config},
            "promotion_cleanup_strategy": cleanup,
        },
    }
    answer = call(server, "PATCH", f"/v1/models/{model_id}/environments/production", settings)
    assert answer.status == 200, answer.body
    wait_until(lambda: len(runtime_processes(server)) == replicas, 30, f"{replicas} v1 replicas")
    [v1_truss] = set(runtime_processes(server).values())
    made = Production(server, directory, model_id, v1, v1_truss)
    wait_until(
        lambda: made.deployment(v1)["active_replica_count"] == replicas, 30, "v1 ready replicas"
    )
    return made


@pytest.fixture
def rolling(server: Server, tmp_path: Path) -> Production:
    """Production at 4 replicas of v1, surge 25 %, stabilization 1 s, SCALE_TO_ZERO."""
    return production(server, tmp_path / MODEL, SURGE)


# under load, the three provisioning modes


@dataclass
class RolloutUnderLoad:
    """What one rolling promotion under load showed. A rollout takes seconds, so it is
    run once per mode and several tests look at it."""

    statuses: list[str]
    """Promotion statuses seen, each once per run (the first is v1's own SUCCEEDED)."""
    failures: list[Reply]
    total: int
    windows: list[tuple[int, int]]
    """(reported percent, v2 answers per 100) while the percentage held still."""
    percents: list[int]
    """Percentages reported while RAMPING_UP, in order, each once."""
    final: tuple[str | None, int]
    versions_at_end: set[int | None]
    """Versions that answered requests sent after SUCCEEDED was seen."""
    previous: list[tuple[str, int, int]]
    """(status, active_replica_count, replica processes) of the previous deployment,
    every 0.5 s for 3 s after SUCCEEDED."""
    previous_answer: tuple[int, int | None]
    """(status, version) of a predict sent to the previous deployment's own URL then."""


MODES = {
    # mode: (rolling_deploy_config, cleanup strategy, percentages stepped through)
    "surge": (SURGE, "SCALE_TO_ZERO", [25, 50, 75, 100]),
    "unavailable": (UNAVAILABLE, "DEACTIVATE", [25, 50, 75, 100]),
    # F = 4 + 2 = 6, S = round(1.5) = 2, traffic steps of ceil(100 * 2 / 6) = 34.
    "overhead": (OVERHEAD, "KEEP", [34, 68, 100]),
}


@contextlib.contextmanager
def own_server(home: Path) -> Iterator[Server]:
    """A server like the `server` fixture's, for a fixture wider than one test."""
    home.mkdir(parents=True)
    port = free_port()
    running = Server(home, port, start_server(home, port))
    try:
        yield running
    finally:
        leftovers = runtime_processes(running) if running.process.poll() is None else {}
        stop_server(running.process, leftovers)


@pytest.fixture(scope="module")
def under_load(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> RolloutUnderLoad:
    """The rollout of one mode (the test's parameter), run once in this module."""
    config, cleanup, _ = MODES[request.param]
    root = tmp_path_factory.mktemp(f"rollout-{request.param}")
    with own_server(root / "home") as server:
        return roll_out_under_load(server, root / MODEL, config, cleanup)


def roll_out_under_load(
    server: Server, directory: Path, config: dict[str, int], cleanup: str
) -> RolloutUnderLoad:
    prod = production(server, directory, config, cleanup)
    with Watch(server, prod.model_id) as watch, Stream(server) as stream:
        stream.wait_more()
        prod.push_v2()
        # A rollout takes about 10 s here; 30 s is ample on a busy machine.
        with contextlib.suppress(AssertionError):
            watch.wait_ended(30)
        ended = time.monotonic()
        previous = []
        for _ in range(6):
            time.sleep(0.5)
            shown = prod.deployment(prod.v1)
            processes = len(prod.v1_processes())
            previous.append((shown["status"], shown["active_replica_count"], processes))
        stream.stop()
    answer = server.post(f"/model/{MODEL}/deployment/{prod.v1}/predict", {})
    percents = [s.percent for s in watch.samples if s.status == "RAMPING_UP"]
    return RolloutUnderLoad(
        statuses=watch.statuses(),
        failures=stream.failures(),
        total=len(stream.replies),
        windows=windows(watch, stream),
        percents=[p for i, p in enumerate(percents) if i == 0 or percents[i - 1] != p],
        final=(watch.latest.status, watch.latest.percent),
        versions_at_end=stream.versions(sent_after=ended + 0.1),
        previous=previous,
        previous_answer=(
            answer.status,
            answer.json().get("version") if answer.status == 200 else None,
        ),
    )


def modes() -> list[Any]:
    """The three modes as parameters of `under_load`."""
    return [pytest.param(mode, id=mode) for mode in MODES]


@pytest.mark.parametrize("under_load", modes(), indirect=True)
def test_a_rolling_promotion_under_load_fails_no_request_and_ends_on_v2(
    under_load: RolloutUnderLoad, request: pytest.FixtureRequest
) -> None:
    _, _, stepped = MODES[request.node.callspec.params["under_load"]]
    done = under_load
    assert done.failures == [], (len(done.failures), done.total, done.failures[:3])
    assert done.total > 1000, done.total
    assert done.statuses == ["SUCCEEDED", "RELEASING", "RAMPING_UP", "SUCCEEDED"], done.statuses
    assert done.final == ("SUCCEEDED", 100)
    assert done.versions_at_end == {2}
    # Every planned percentage was reported, in order; the poll (20 ms) misses none.
    assert [p for p in done.percents if p != 0] == stepped, done.percents


@pytest.mark.parametrize("under_load", modes(), indirect=True)
def test_the_cleanup_strategy_handles_the_previous_deployment(
    under_load: RolloutUnderLoad, request: pytest.FixtureRequest
) -> None:
    _, cleanup, _ = MODES[request.node.callspec.params["under_load"]]
    done = under_load
    if cleanup == "SCALE_TO_ZERO":
        assert set(done.previous) == {("SCALED_TO_ZERO", 0, 0)}, done.previous
        assert done.previous_answer == (200, 1)  # asleep, not gone: a request wakes it
    elif cleanup == "DEACTIVATE":
        assert done.previous[-1] == ("INACTIVE", 0, 0), done.previous
        assert done.previous_answer == (404, None)
    else:  # KEEP: not put to sleep nor deactivated; it serves on its own URL
        assert done.previous[-1] == ("ACTIVE", REPLICAS, REPLICAS), done.previous
        assert done.previous_answer == (200, 1)


@pytest.mark.parametrize("under_load", modes(), indirect=True)
def test_the_split_follows_the_reported_percentage_on_average(
    under_load: RolloutUnderLoad,
) -> None:
    """Over all the windows at one percentage the share of v2 answers is that
    percentage, within 5 sigma of a fair draw (so this holds for a random split too);
    at 0 % and 100 % exactly."""
    by_percent: dict[int, list[int]] = {}
    for percent, v2 in under_load.windows:
        by_percent.setdefault(percent, []).append(v2)
    ramping = {p: counts for p, counts in by_percent.items() if 0 < p < 100}
    assert len(ramping) >= 2, under_load.windows
    for percent, counts in ramping.items():
        total = WINDOW * len(counts)
        share = 100 * sum(counts) / total
        sigma = 100 * (percent / 100 * (1 - percent / 100) / total) ** 0.5
        assert abs(share - percent) <= 5 * sigma + 1, (percent, share, counts)
    for percent in (0, 100):
        counts = by_percent.get(percent, [])
        assert all(v2 == WINDOW * percent // 100 for v2 in counts), (percent, counts)


@pytest.mark.parametrize("under_load", modes(), indirect=True)
def test_every_100_requests_follow_the_reported_percentage_within_2(
    under_load: RolloutUnderLoad,
) -> None:
    ramping = [(p, v2) for p, v2 in under_load.windows if 0 < p < 100]
    assert len(ramping) >= 4, under_load.windows
    off = [(p, v2) for p, v2 in ramping if abs(v2 - p) > 2]
    assert off == [], (off, ramping)


# actions


def percents_in_order(samples: list[Sample]) -> list[int]:
    """The percentages the samples reported, each once per run."""
    seen = [s.percent for s in samples]
    return [p for index, p in enumerate(seen) if index == 0 or seen[index - 1] != p]


def test_pause_pins_the_split_keeps_the_replicas_and_resume_finishes(
    server: Server, rolling: Production
) -> None:
    with Watch(server, rolling.model_id) as watch, Stream(server) as stream:
        rolling.push_v2()
        watch.wait(lambda s: (s.status, s.percent) == ("RAMPING_UP", 25), 20, "25 %")
        rolling.act("pause")
        paused = watch.wait_status("PAUSED", 10)
        assert paused.percent == 25
        # Capacity is still managed: a v1 replica killed while paused is replaced.
        before = rolling.deployment(rolling.v1)["active_replica_count"]
        victim = rolling.v1_processes()[0]
        killed_at = time.monotonic()
        os.kill(victim, signal.SIGKILL)
        wait_until(
            lambda: (
                victim not in rolling.v1_processes()
                and len(rolling.v1_processes()) == before
                and rolling.deployment(rolling.v1)["active_replica_count"] == before
            ),
            15,
            "the killed v1 replica to be replaced",
        )
        time.sleep(max(0.0, paused.at + 3 - time.monotonic()))
        held = [s for s in watch.after(paused.at) if s.at <= paused.at + 3]
        assert {(s.status, s.percent) for s in held} == {("PAUSED", 25)}
        resumed_at = time.monotonic()
        rolling.act("resume")
        ended = watch.wait_ended(30)
        stream.wait_more(100)
    assert ended.status == "SUCCEEDED"
    after_resume = watch.after(resumed_at)
    assert "RAMPING_UP" in {s.status for s in after_resume}
    assert percents_in_order(after_resume) == [25, 50, 75, 100], percents_in_order(after_resume)
    assert rolling.current_deployment() != rolling.v1
    # Even the request in flight on the killed replica was answered, by another one.
    assert stream.failures() == [], killed_at


@dataclass
class Canceled:
    """What a promotion canceled at 50 % under load showed (once per kind of cancel)."""

    asked: float
    """time.monotonic() when the cancel was sent."""
    answer: dict[str, Any]
    samples: list[Sample]
    """The environment's promotion from the cancel on."""
    ended: Sample
    failures: list[Reply]
    versions_at_end: set[int | None]
    current: str
    v1: str
    v1_replicas: int
    last_step: tuple[str, int] | None
    """The candidate's last `rollout to production` line: (status, candidate replicas)."""
    candidate: list[tuple[str, int, int]]
    """(status, active_replica_count, replica processes) of the candidate, every 0.5 s
    from 1 s to 3 s after the end (the first second lets its replicas drain)."""


@pytest.fixture(scope="module", params=["cancel", "force_cancel"])
def canceled(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Canceled:
    action = request.param
    root = tmp_path_factory.mktemp(action)
    with own_server(root / "home") as server:
        prod = production(server, root / MODEL, SURGE)
        with Watch(server, prod.model_id) as watch, Stream(server) as stream:
            candidate = prod.push_v2()
            watch.wait(lambda s: (s.status, s.percent) == ("RAMPING_UP", 50), 20, "50 %")
            asked = time.monotonic()
            answer = prod.act(action).json()
            ended = watch.wait_ended(30)
            time.sleep(0.5)
            states = []
            for _ in range(5):
                time.sleep(0.5)
                shown = prod.deployment(candidate)
                processes = len(prod.other_processes())
                states.append((shown["status"], shown["active_replica_count"], processes))
            stream.stop()
        logged = re.findall(
            r"rollout to production: (\w+), step \d+, .* (\d+) candidate",
            server.brace("logs", candidate, "-m", MODEL).stdout,
        )
        return Canceled(
            asked=asked,
            answer=answer,
            samples=watch.after(asked),
            ended=ended,
            failures=stream.failures(),
            versions_at_end=stream.versions(sent_after=ended.at + 0.1),
            current=prod.current_deployment(),
            v1=prod.v1,
            v1_replicas=prod.deployment(prod.v1)["active_replica_count"],
            last_step=(logged[-1][0], int(logged[-1][1])) if logged else None,
            candidate=states,
        )


def test_a_cancel_sends_all_traffic_back_to_v1(
    canceled: Canceled, request: pytest.FixtureRequest
) -> None:
    done = canceled
    assert (done.ended.status, done.ended.percent) == ("CANCELED", 0)
    statuses = [s.status for s in done.samples]
    runs = [s for i, s in enumerate(statuses) if i == 0 or statuses[i - 1] != s]
    if request.node.callspec.params["canceled"] == "cancel":
        # Graceful: traffic ramps back step by step, then CANCELED.
        assert done.answer["status"] == "RAMPING_DOWN"
        assert runs == ["RAMPING_UP", "RAMPING_DOWN", "CANCELED"], runs
        down = [s.percent for s in done.samples if s.status == "RAMPING_DOWN"]
        assert down == sorted(down, reverse=True) and 25 in down, down
    else:
        # At once: the next controller tick.
        assert runs in (["CANCELED"], ["RAMPING_UP", "CANCELED"]), runs
        assert done.ended.at - done.asked < 1.0, done.ended.at - done.asked
    assert done.failures == []
    assert done.versions_at_end == {1}
    assert done.current == done.v1
    assert done.v1_replicas == REPLICAS
    # The rollout leaves the candidate with no replicas.
    assert done.last_step == ("CANCELED", 0)


def test_a_canceled_candidate_stays_scaled_to_zero(canceled: Canceled) -> None:
    assert set(canceled.candidate) == {("SCALED_TO_ZERO", 0, 0)}, canceled.candidate


@pytest.mark.parametrize("cancel_first", [False, True], ids=["ramping-up", "ramping-down"])
def test_force_roll_forward_finishes_at_once(
    server: Server, rolling: Production, cancel_first: bool
) -> None:
    with Watch(server, rolling.model_id) as watch, Stream(server) as stream:
        candidate = rolling.push_v2()
        watch.wait(lambda s: (s.status, s.percent) == ("RAMPING_UP", 50), 20, "50 %")
        if cancel_first:
            rolling.act("cancel")
            watch.wait_status("RAMPING_DOWN", 10)
        asked = time.monotonic()
        rolling.act("force_roll_forward")
        succeeded = watch.wait_status("SUCCEEDED", 5)
        stream.wait_more(200)
    assert succeeded.at - asked < 1.0, succeeded.at - asked
    assert succeeded.percent == 100
    assert stream.failures() == []
    assert stream.versions(sent_after=succeeded.at + 0.1) == {2}
    assert rolling.current_deployment() == candidate


def test_a_candidate_that_cannot_load_fails_the_promotion_and_v1_keeps_serving(
    server: Server, rolling: Production
) -> None:
    with Watch(server, rolling.model_id) as watch, Stream(server) as stream:
        rolling.push_v2(load=LOAD_FAILS)
        failed = watch.wait_ended(30)
        stream.wait_more(200)
    assert (failed.status, failed.percent) == ("FAILED", 0)
    assert watch.statuses() == ["SUCCEEDED", "RELEASING", "FAILED"]
    assert stream.failures() == []
    assert stream.versions() == {1}
    shown = call(server, "GET", rolling.environment_path).json()
    message = shown["in_progress_promotion"]["error_message"]
    assert "RuntimeError: the v2 weights are missing" in message, message
    assert shown["current_deployment"]["id"] == rolling.v1
    assert rolling.deployment(rolling.v1)["active_replica_count"] == REPLICAS


def test_a_second_promotion_while_one_is_in_progress_is_refused(
    server: Server, rolling: Production
) -> None:
    write_model(rolling.directory, 3)
    third = server.json("push", rolling.directory, "--publish", "--wait")["deployment"]["id"]
    with Watch(server, rolling.model_id) as watch:
        candidate = rolling.push_v2()
        watch.wait(lambda s: s.status == "RAMPING_UP", 20, "RAMPING_UP")
        by_api = call(
            server, "POST", f"{rolling.environment_path}/promote", {"deployment_id": third}
        )
        # Paused, so that the slower CLI calls still find the promotion in progress.
        rolling.act("pause")
        watch.wait_status("PAUSED", 10)
        before = server.json("deployments", "list", "-m", MODEL)["deployments"]
        by_promote = server.brace("promote", third, "-m", MODEL)
        write_model(rolling.directory, 4)
        by_push = server.brace("push", rolling.directory, "--promote")
        after = server.json("deployments", "list", "-m", MODEL)["deployments"]
        rolling.act("resume")
        ended = watch.wait_ended(30)
    assert by_api.status == 409, by_api.body
    assert by_api.json()["error_code"] == "PROMOTION_IN_PROGRESS"
    assert by_api.json()["error"] == (
        f"a promotion to production is already in progress (RAMPING_UP, deployment {candidate})"
    )
    for refused in (by_promote, by_push):
        assert refused.returncode == 5, (refused.stdout, refused.stderr)
        assert refused.stderr.startswith(
            "Error: a promotion to production is already in progress "
            f"(PAUSED, deployment {candidate})\n"
        ), refused.stderr
    # The refused push --promote left no deployment behind.
    assert [d["id"] for d in after] == [d["id"] for d in before]
    assert ended.status == "SUCCEEDED"
    assert rolling.current_deployment() == candidate


def test_a_server_killed_mid_rollout_finishes_it_after_a_restart(
    server: Server, rolling: Production
) -> None:
    orphans: dict[int, float] = {}
    try:
        with Watch(server, rolling.model_id) as watch:
            candidate = rolling.push_v2()
            watch.wait(lambda s: (s.status, s.percent) == ("RAMPING_UP", 50), 20, "50 %")
            for pid in runtime_processes(server):
                with contextlib.suppress(psutil.NoSuchProcess):
                    orphans[pid] = psutil.Process(pid).create_time()
            killed_at = time.monotonic()
            server.process.send_signal(signal.SIGKILL)
            server.process.wait()
            server.process = start_server(server.home, server.port)  # the fixture stops it
            ended = watch.wait_ended(40)
        assert ended.status == "SUCCEEDED"
        # It went on from where it was: never back to 25 % (or 0 %) after the restart.
        later = [s.percent for s in watch.after(killed_at) if s.status == "RAMPING_UP"]
        assert later and min(later) >= 50, later
        # The new server stopped every replica of the first one.
        left = [pid for pid, started in orphans.items() if same_process(pid, started)]
        assert left == [], left
        # Each step once, in order; the step the server was on may be logged twice.
        steps = [step for status, step in rollout_steps(server, candidate) if status != "SUCCEEDED"]
        repeats = [a for a, b in pairwise(steps) if a == b]
        assert len(repeats) <= 1, steps
        assert sorted(set(steps)) == list(range(steps[0], steps[-1] + 1)), steps
        assert steps == sorted(steps), steps
        assert rollout_steps(server, candidate)[-1] == ("SUCCEEDED", steps[-1])
        assert server.post(PREDICT, {}).json()["version"] == 2
    finally:
        for pid, started in orphans.items():
            if same_process(pid, started):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGKILL)


def same_process(pid: int, started: float) -> bool:
    """The process `pid` that started at `started` is still alive."""
    try:
        process = psutil.Process(pid)
        return process.create_time() == started and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
