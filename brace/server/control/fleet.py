"""The controller's hands: every deployment's run (`runs`) and replicas, and the
carrying out of its decisions. It starts a run per revision, drains what `changes`
says, prepares a revision (`preparation`) and starts its replicas (`launch`), and
applies the restart policy to each exit (`restarts`). The replica rows these changes
leave for the store are queued in `writes`, for the tick's transaction.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Coroutine, Iterable, Mapping
from functools import partial
from typing import Any

from brace.logs import DeploymentLog, last_error
from brace.server.backends.base import identified
from brace.server.control.changes import replica_changes, strays
from brace.server.control.launch import replica_launch, replica_record
from brace.server.control.liveness import Liveness
from brace.server.control.observed import ReplicaCounts
from brace.server.control.preparation import Preparation
from brace.server.control.replicas import Exited, Replicas, ReplicaState
from brace.server.control.report import Report, replica_counts, report_of
from brace.server.control.restarts import GiveUp, RestartPolicy, after_exit
from brace.server.control.rolling_promotions import Side, side_of
from brace.server.control.runs import GaveUp, Preparing, Run, Runnable, Unprepared, settings_verdict
from brace.server.control.table import Upstreams, upstreams_of
from brace.server.control.targets import Observed, ReplicaTarget
from brace.server.paths import ServerPaths
from brace.store import Deployment, Tx
from brace.store.db import new_id

LOG_LINES_FOR_ERROR = 50
"""How far back in a deployment's log to look for the error that made it give up."""


class Fleet:
    def __init__(
        self,
        replicas: Replicas,
        preparation: Preparation,
        policy: RestartPolicy,
        drain_timeout: float,
        clock: Callable[[], float],
        log: Callable[[str], DeploymentLog],
        wakeup: Callable[[], None],
        start_concurrency: int = 1,
    ) -> None:
        """`drain_timeout`: seconds; `log(deployment id)`: its log; `wakeup()`: have a
        tick now (a revision's preparation moved on); `start_concurrency`: at most this
        many replicas starting (not ready yet) at once."""
        self.replicas = replicas
        self.preparation = preparation
        self.policy = policy
        self.drain_timeout = drain_timeout
        self.clock = clock
        self.log = log
        self.wakeup = wakeup
        self.paths = ServerPaths(preparation.home)
        self.runs: dict[str, Run] = {}
        self.writes: list[Callable[[Tx], object]] = []
        """Replica rows to record in the next tick's transaction."""
        self.tasks: set[asyncio.Task[None]] = set()
        self.start_concurrency = start_concurrency
        self._start_slots = 0

    def drain_strays(self, known: Mapping[str, Deployment]) -> None:
        """Drain the replicas of deployments no longer `known` (deleted)."""
        for replica in strays(self.replicas, known):
            self.replicas.drain(replica, self.clock() + self.drain_timeout)

    def sync_runs(self, deployments: Iterable[Deployment], gone: Iterable[str]) -> None:
        """Start a new run for a new revision or an activation of `deployments`; forget
        the deleted deployments (`gone`)."""
        for deployment_id in gone:
            self.runs.pop(deployment_id, None)
        for deployment in deployments:
            run = self.runs.get(deployment.id)
            if run is None or run.outdated_by(deployment):
                run = self.runs[deployment.id] = Run(deployment.revision, deployment.status)
            run.status_seen = deployment.status
            verdict = settings_verdict(run, deployment)
            if verdict is not None:  # the server serves the others and says why not this one
                run.state = verdict
                self.log(deployment.id).write(verdict.reason)
                print(
                    f"deployment {deployment.id} ({deployment.name} of model "
                    f"{deployment.model_id}) {verdict.reason}",
                    file=sys.stderr,
                    flush=True,
                )

    async def observe(self, liveness: Liveness) -> list[Exited]:
        """Take in readiness answers, stop replicas that stopped answering, finish
        drains; the exits this caused."""
        for replica in await self.replicas.probe_starting():
            if replica.state is ReplicaState.READY:
                self.writes.append(partial(Tx.mark_replica_ready, replica_id=replica.id))
        for replica in self.replicas.check_liveness(liveness, self.clock()):
            self.log(replica.deployment_id).write(
                f"replica {replica.id} did not answer its liveness probes for "
                f"{liveness.timeout:g} s: stopping it"
            )
            replica.unresponsive = True
            self.replicas.stop(replica, grace=0.0)
        self.replicas.finish_drains(self.clock())
        return self.replicas.reap()

    def upstreams(self, deployments: Iterable[Deployment]) -> dict[str, Upstreams]:
        """Each deployment's ready replicas, for the routing table."""
        return {d.id: upstreams_of(d, self.replicas.of(d.id)) for d in deployments}

    def failure(self, deployment_id: str) -> str | None:
        """Why the deployment cannot run, if it was given up on."""
        run = self.runs.get(deployment_id)
        return run.state.reason if run is not None and isinstance(run.state, GaveUp) else None

    def preparing(self, deployment_id: str) -> bool:
        run = self.runs.get(deployment_id)
        return run is not None and isinstance(run.state, Preparing)

    def open_starts(self) -> None:
        """Count the replicas starting now: what is left of `start_concurrency` is how
        many `apply` may start until the next call."""
        starting = sum(
            r.state in (ReplicaState.STARTING, ReplicaState.LOADING) for r in self.replicas
        )
        self._start_slots = max(0, self.start_concurrency - starting)

    def counts(self, deployment: Deployment) -> ReplicaCounts:
        return replica_counts(deployment, self.replicas.of(deployment.id))

    def observed(self, deployment: Deployment) -> Observed:
        counts = self.counts(deployment)
        return Observed(
            ready_current=counts.ready,
            ready_previous=counts.ready_old,
            gave_up=isinstance(self.runs[deployment.id].state, GaveUp),
        )

    def report(self, deployment: Deployment, wanted: int) -> Report:
        state = self.runs[deployment.id].state
        return report_of(deployment, state, self.replicas.of(deployment.id), wanted)

    def side(self, deployment: Deployment | None) -> Side:
        """One deployment of a rollout, as `rolling_promotions.side_of` sees it."""
        if deployment is None:
            return side_of(None, [], None)
        run = self.runs.get(deployment.id)
        return side_of(deployment, self.replicas.of(deployment.id), run.state if run else None)

    def apply(self, deployment: Deployment, target: ReplicaTarget, environment: str | None) -> None:
        """Drain and start `deployment`'s replicas to meet `target`; its model is in
        `environment`."""
        run = self.runs[deployment.id]
        changes = replica_changes(
            deployment, target, self.replicas.of(deployment.id), isinstance(run.state, GaveUp)
        )
        deadline = self.clock() + self.drain_timeout
        for replica in changes.drain:
            self.replicas.drain(replica, deadline)
        if not changes.missing:
            return
        if isinstance(run.state, Unprepared):
            run.state = Preparing()
            self._spawn_task(self._prepare(deployment, run))
        elif isinstance(run.state, Runnable) and self.clock() >= run.history.next_start:
            for _ in range(min(changes.missing, self._start_slots)):
                self._start(deployment, run.state, environment)
                self._start_slots -= 1

    async def _prepare(self, deployment: Deployment, run: Run) -> None:
        def building() -> None:
            run.state = Preparing(building=True)
            self.wakeup()

        run.state = await self.preparation.prepare(deployment, self.log(deployment.id), building)
        self.wakeup()

    def _start(self, deployment: Deployment, runnable: Runnable, environment: str | None) -> None:
        replica_id = new_id()
        log = self.log(deployment.id)
        log.write(f"starting replica {replica_id} (revision {deployment.revision})")
        socket = self.paths.replica_socket(replica_id)
        launch = replica_launch(
            self.preparation.home, socket, log.path, runnable, environment, deployment
        )
        replica = self.replicas.start(
            replica_id, deployment.id, deployment.revision, launch, environment
        )
        replica.runtime = runnable.truss.config.runtime
        process = replica.process

        def insert(tx: Tx) -> None:  # in the store's thread: a fork's pid comes with its reply
            pid, started = identified(process)
            tx.insert_replica(replica_record(replica, tx.now(), pid, started))

        self.writes.append(insert)

    def on_exit(self, exited: Exited) -> None:
        """Forget an ended replica; one that ended unasked restarts later or its run
        gives up, as the restart policy says."""
        replica = exited.replica
        self.writes.append(partial(Tx.delete_replica, replica_id=replica.id))
        run = self.runs.get(replica.deployment_id)
        if exited.asked or run is None or replica.revision != run.revision:
            return
        verdict = after_exit(
            self.policy,
            run.history,
            replica_id=replica.id,
            code=exited.code,
            ever_ready=replica.ever_ready,
            now=self.clock(),
        )
        run.history = verdict.history
        log = self.log(replica.deployment_id)
        log.write(verdict.note)
        if isinstance(verdict, GiveUp):
            error = last_error(log.tail(LOG_LINES_FOR_ERROR))
            reason = f"{verdict.reason}; last error: {error}" if error else verdict.reason
            log.write(f"giving up: {reason}")
            run.state = GaveUp(verdict.status, reason)

    def _spawn_task(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
