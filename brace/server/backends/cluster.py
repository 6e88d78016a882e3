"""The `ray` backend: replicas on the nodes of a Ray cluster.

brace keeps the state, the lifecycle rules, the rollout arithmetic, the split, holding
requests and autoscaling; Ray only places and ends processes. At start the backend
connects to the cluster (`ray.init(address)`, in its own namespace) and puts one
`agent.NodeAgent` on each alive node, pinned to it by a hard node-affinity strategy.
A launch of a published revision (`base.Launch.remote`) is placed by
`placement.place` (spread over nodes, each replica pinned to its node), its snapshot
shipped to the node once (cached there by hash), its requirements environment built
there, and its replica started by the node's agent, bound to the node's address; the
replica says where it listens, and the gateway sends requests straight there. A launch
without `remote` (the development deployment, whose live reload patches files on this
machine) goes to the `local` backend.

Each agent is followed by a long poll (`events`) in a thread: a replica's address and
readiness come through the handle's notice pipe, as a local replica's do; its output
lines go to the deployment's log, tagged `replica@node`; its exit status ends it. When
an agent stops answering or Ray declares its node dead, every replica on it ends with
`LOST` and the controller replaces it on another node. A replica that no node can hold
ends after `placement_timeout` seconds with a `PlacementError` line in the deployment's
log, which the restart policy counts as a failed start (the deployment's status then
says why). Ray's own types are not used for checking: Ray is imported as a module
object (`rayapi`) only when this backend runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from brace.runtime import guard
from brace.server.backends.agent import NodeAgent, pack_model
from brace.server.backends.base import Backend, Launch, ReplicaHandle
from brace.server.backends.placement import Node, Placed, Refusal, place
from brace.server.backends.rayapi import ray_module, token_authentication
from brace.server.backends.remote import LOST, RayHandle, apply_event, secret_values
from brace.server.backends.reservation import Reservation, release, reserve

REFRESH = 0.5
"""Seconds between two reads of the cluster's nodes."""
AGENT_RETRY = 5.0
"""Seconds after an agent was lost on a node Ray still calls alive before another is
put there."""


@dataclass(frozen=True)
class ClusterSettings:
    """The `ray` backend's settings: the cluster's address (`host:port` of its head's
    GCS, or `auto`), seconds a replica may wait for a node that can hold it, whether
    model secrets may go to a cluster without token authentication, and where each
    node keeps models and environments (empty: `~/.cache/brace/node` there)."""

    address: str
    placement_timeout: float = 30.0
    ship_secrets: bool = False
    cache_dir: str = ""


@dataclass
class NodeState:
    node: Node
    agent: Any = None
    ready: bool = False
    lost: bool = False
    lost_at: float = 0.0


@dataclass
class RayBackend:
    """Replicas on a Ray cluster's nodes (the `base.Backend` protocol); launches
    without `remote` go to `local`. `secret`: the per-server secret each remote replica
    asks of every request (`brace.runtime.guard`)."""

    settings: ClusterSettings
    local: Backend
    secret: str
    clock: Callable[[], float] = time.monotonic
    nodes: dict[str, NodeState] = field(default_factory=dict)
    handles: dict[str, RayHandle] = field(default_factory=dict)
    """Remote replicas by replica id (the log tag's first part)."""
    authenticated: bool = False
    _connected: threading.Event = field(default_factory=threading.Event)
    _closing: threading.Event = field(default_factory=threading.Event)
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _pool: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(16, thread_name_prefix="brace-ray")
    )
    _archives: dict[str, bytes] = field(default_factory=dict)
    error: str = ""
    """Why the backend could not connect (empty: it did, or is still trying)."""

    def start(self) -> None:
        """Start connecting (in a thread: it takes seconds); on the running loop."""
        self.local.start()
        loop = asyncio.get_running_loop()

        def restore() -> None:
            # Ray's core installs its own fatal-signal handlers when it connects, which
            # would end the server on SIGTERM without its clean-up: put the server's
            # back (Python still knows them; on the loop's thread, the main one).
            for sig in (signal.SIGTERM, signal.SIGINT):
                handler = signal.getsignal(sig)
                if handler is not None:
                    signal.signal(sig, handler)

        def connected() -> None:
            loop.call_soon_threadsafe(restore)

        def connect() -> None:
            self._watch_cluster(connected)

        threading.Thread(target=connect, name="brace-ray", daemon=True).start()

    def launch(self, launch: Launch) -> ReplicaHandle:
        if launch.remote is None:
            return self.local.launch(launch)
        handle = RayHandle(launch, self._stop, self._kill, self._ended)
        self._pool.submit(self._start, handle)
        return handle

    def close(self) -> None:
        self._closing.set()
        ray = ray_module()
        for state in list(self.nodes.values()):
            if state.agent is not None:
                with contextlib.suppress(Exception):
                    ray.kill(state.agent)
        with contextlib.suppress(Exception):
            ray.shutdown()
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.local.close()

    def placed(self) -> list[Placed]:
        with self._lock:
            return [
                Placed(h.node_id, h.launch.remote.deployment_id, h.launch.remote.request)
                for h in self.handles.values()
                if h.node_id and h.code is None and h.launch.remote is not None
            ]

    @property
    def connection(self) -> str:
        """`connected`, `connecting`, or why it could not connect."""
        if self.error:
            return self.error
        return "connected" if self._connected.is_set() else "connecting"

    def node_views(self) -> list[dict[str, object]]:
        """The cluster's nodes for `brace status`: address, id, alive, its brace agent
        (`starting`, `ready`: it takes replicas, `lost`), resources, and the replicas
        brace runs on each."""
        views = []
        for state in list(self.nodes.values()):
            node = state.node
            views.append(
                {
                    "id": node.id,
                    "address": node.address,
                    "alive": node.alive and not state.lost,
                    "agent": "lost" if state.lost else "ready" if state.ready else "starting",
                    "resources": dict(node.resources),
                    "replicas": sorted(
                        i
                        for i, h in list(self.handles.items())
                        if h.node_id == node.id and h.code is None
                    ),
                }
            )
        return views

    # -- the cluster ------------------------------------------------------------------------

    def _watch_cluster(self, connected: Callable[[], None]) -> None:
        """Connect, then keep the view of the nodes (and their agents) fresh."""
        ray = ray_module()
        try:
            ray.init(
                address=self.settings.address,
                namespace="brace",
                log_to_driver=False,
                logging_level="WARNING",
            )
        except Exception as error:  # Ray raises many kinds; all mean "not connected"
            self.error = f"cannot connect to the Ray cluster at {self.settings.address}: {error}"
            self._connected.set()
            return
        connected()
        self.authenticated = token_authentication()
        while not self._closing.is_set():
            with contextlib.suppress(Exception):
                self._refresh(ray)
            self._connected.set()
            self._closing.wait(REFRESH)

    def _refresh(self, ray: Any) -> None:
        for info in ray.nodes():
            node_id = info["NodeID"]
            node = Node(
                node_id,
                info["NodeManagerAddress"],
                bool(info["Alive"]),
                {k: float(v) for k, v in info.get("Resources", {}).items()},
            )
            state = self.nodes.get(node_id)
            again = (
                state is not None
                and state.lost
                and node.alive
                and self.clock() - state.lost_at >= AGENT_RETRY
            )
            if state is None or again:  # a new node, or an alive one whose agent was lost
                state = self.nodes[node_id] = NodeState(node)
                if node.alive:
                    self._add_agent(ray, state)
            elif state.node.alive and not node.alive:
                self._lose(state, "Ray declared the node dead")
            state.node = node

    def _add_agent(self, ray: Any, state: NodeState) -> None:
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        actor = ray.remote(NodeAgent).options(
            num_cpus=0,
            max_concurrency=64,
            scheduling_strategy=NodeAffinitySchedulingStrategy(state.node.id, soft=False),
        )
        cache = self.settings.cache_dir or "~/.cache/brace/node"
        state.agent = actor.remote(cache, state.node.address)
        threading.Thread(target=self._follow, args=(state,), daemon=True).start()

    def _follow(self, state: NodeState) -> None:
        """Read the agent's events until it or the server ends."""
        ray, cursor, silent = ray_module(), 0, 0
        try:
            ray.get(state.agent.describe.remote(), timeout=60)
            state.ready = True
        except Exception:
            self._lose(state, "its brace agent did not start")
            return
        while not self._closing.is_set() and not state.lost:
            try:
                cursor, events = ray.get(state.agent.events.remote(cursor), timeout=3)
            except Exception as error:
                silent += 1
                if silent >= 2 or "died" in str(error).lower() or "Actor" in type(error).__name__:
                    self._lose(state, f"its brace agent stopped answering ({type(error).__name__})")
                    return
                continue
            silent = 0
            for replica_id, kind, value in events:
                handle = self.handles.get(replica_id)
                if handle is not None:
                    apply_event(handle, kind, value)

    def _lose(self, state: NodeState, why: str) -> None:
        state.lost, state.lost_at = True, self.clock()
        for handle in list(self.handles.values()):
            if handle.node_id == state.node.id and handle.code is None:
                handle.log(f"replica lost with node {state.node.address}: {why}")
                handle.end(LOST)

    # -- one replica ------------------------------------------------------------------------

    def _start(self, handle: RayHandle) -> None:
        remote = handle.launch.remote
        assert remote is not None
        replica_id = handle.launch.socket.stem
        with self._lock:
            self.handles[replica_id] = handle
        try:
            deadline = self.clock() + self.settings.placement_timeout
            state = self._placement(handle, deadline)
            if not isinstance(state, Refusal):
                state = self._reserve(handle, state, deadline)
            if isinstance(state, Refusal):
                handle.refuse(replica_id, state.reason)
                return
            self._run(handle, state, replica_id)
        except Exception as error:
            handle.refuse(replica_id, f"{type(error).__name__}: {error}")

    def _placement(self, handle: RayHandle, deadline: float) -> NodeState | Refusal:
        """The node for `handle` once one can hold it (or why none did by `deadline`)."""
        remote = handle.launch.remote
        assert remote is not None
        if not self._connected.wait(self.settings.placement_timeout):
            return Refusal(
                f"not connected to the Ray cluster at {self.settings.address} yet "
                "(is Ray running there, and reachable from this machine?)"
            )
        if self.error:
            return Refusal(self.error)
        if remote.secrets and not (self.authenticated or self.settings.ship_secrets):
            return Refusal(
                "the model has secrets and the Ray cluster has no token authentication: "
                "turn it on (docs/security.md) or start the server with "
                "--ship-secrets-unauthenticated"
            )
        while True:
            with self._lock:
                nodes = [
                    s.node for s in self.nodes.values() if s.ready and not s.lost and s.node.alive
                ]
                chosen = place(nodes, self.placed(), remote.deployment_id, remote.request)
                if not isinstance(chosen, Refusal):
                    handle.node_id = chosen
                    handle.node = self.nodes[chosen].node.address
                    return self.nodes[chosen]
            if handle.abandoned or self.clock() >= deadline or self._closing.is_set():
                return chosen
            time.sleep(REFRESH)

    def _reserve(self, handle: RayHandle, state: NodeState, deadline: float) -> NodeState | Refusal:
        """Reserve the replica's resources in Ray (`reservation`); the node they are on."""
        assert handle.launch.remote is not None
        request = handle.launch.remote.request
        held = reserve(ray_module(), request, state.node.id, deadline - self.clock())
        if isinstance(held, Refusal):
            return held
        handle.reservation = held
        landed = self.nodes.get(held.node_id)
        if landed is None or not landed.ready or landed.lost:
            release(held)
            handle.reservation = None
            return Refusal(
                f"Ray reserved the replica's resources on node {held.node_id[:8]}, "
                "which has no brace agent"
            )
        handle.node_id, handle.node = landed.node.id, landed.node.address
        if handle.code is not None:  # ended meanwhile: give them back
            self._ended(handle)
        return landed

    def _ended(self, handle: RayHandle) -> None:
        """Give a replica's reserved resources back (in a worker thread)."""
        held, handle.reservation = handle.reservation, None
        if isinstance(held, Reservation):
            self._pool.submit(release, held)

    def _run(self, handle: RayHandle, state: NodeState, replica_id: str) -> None:
        ray, remote = ray_module(), handle.launch.remote
        assert remote is not None
        agent = state.agent
        if not ray.get(agent.has_model.remote(remote.snapshot)):
            ray.get(agent.put_model.remote(remote.snapshot, self._archive(handle.launch)))
        python = ray.get(agent.python_for.remote(list(remote.requirements)))
        env = {**handle.launch.env, **secret_values(handle.launch), guard.ENV_VAR: self.secret}
        if handle.abandoned:
            handle.end(-signal.SIGTERM)
            return
        tag = f"{replica_id}@{state.node.address}"
        handle.remote_pid = ray.get(
            agent.spawn.remote(replica_id, remote.snapshot, python, env, tag)
        )
        if handle.abandoned:  # stopped while it was being started: stop it now
            with contextlib.suppress(Exception):
                ray.get(agent.stop.remote(replica_id, 0.0), timeout=5)

    def _archive(self, launch: Launch) -> bytes:
        """The snapshot as the agent takes it (kept: one per snapshot)."""
        assert launch.remote is not None
        digest = launch.remote.snapshot
        if digest not in self._archives:
            self._archives[digest] = pack_model(Path(launch.truss_dir))
        return self._archives[digest]

    def _stop(self, handle: RayHandle, grace: float) -> None:
        """TERM, `grace` seconds, KILL, through the node's agent (blocks)."""
        state = self.nodes.get(handle.node_id)
        if handle.code is not None:
            return
        if state is None or handle.remote_pid == 0:
            handle.abandoned = True
            handle.end(-signal.SIGTERM)
            return
        try:
            code = ray_module().get(
                state.agent.stop.remote(handle.launch.socket.stem, grace), timeout=grace + 3
            )
        except Exception:
            code = LOST
        handle.end(LOST if code is None else code)

    def _kill(self, handle: RayHandle) -> None:
        state = self.nodes.get(handle.node_id)
        if state is not None and state.agent is not None:
            with contextlib.suppress(Exception):
                state.agent.kill.remote(handle.launch.socket.stem)
