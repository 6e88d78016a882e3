"""The per-node agent: a Ray actor on each node that starts brace replicas there.

One `NodeAgent` lives on each node of the cluster (pinned to it by node affinity,
`cluster`), for the server's life. It keeps the node's copy of each model snapshot
(`put_model`, cached by its content hash under the agent's cache directory) and of each
requirements environment (built on the node by `brace.runtime.virtualenvs`, cached by
the hash of its requirements), and starts replicas as `python -m brace.runtime` bound
to the node's address on a port the kernel picks (`--port 0`): the replica says where
it listens on its notice pipe (`brace.runtime.notify`), so no port is picked here and
raced for. Starting a process here takes about 0.2 s, against 1.3-1.7 s for a new Ray
actor per replica, and Ray is never on a request's path.

Every replica is started by one long-lived thread (`_Spawner`), so the kernel's
parent-death signal (PR_SET_PDEATHSIG fires when the *thread* that forked ends) stops
the replicas with the agent, not with a worker thread of Ray's pool. A model without
requirements of its own is forked by the node's fork server (`nodeforks`), which has
brace, uvicorn and Starlette imported already, as on the server's machine. What the server
needs to know comes back through `events`: a replica's address, its readiness, its
output lines and its exit status, read by the server's long poll.

Nothing here imports Ray: `cluster` wraps the class with `ray.remote`. It needs brace
installed on the node (the same version as the server).
"""

from __future__ import annotations

import contextlib
import io
import os
import queue
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from brace.deathsig import die_with_parent
from brace.processes import RUNTIME_MODULE
from brace.runtime import notify
from brace.server.backends.nodeforks import ForkServerGone, NodeForkServer
from brace.server.backends.supervisor import kill_group

Event = tuple[str, str, str]
"""(replica id, kind, value): kind `address` (host:port), `ready`, `log` (a line of its
output) or `exit` (its exit status, negative: the signal)."""

EVENT_WAIT = 1.0
"""Seconds `events` waits for something new before it answers empty."""
OUTPUT_GRACE = 1.0
"""Seconds an ended replica's last output lines have to be relayed before its exit
(a process it left behind may hold the output pipe open longer)."""


@dataclass
class _Child:
    """A replica this agent started: forked by the node's fork server, or a new
    interpreter (`popen`); `notices` and `output`: the read ends of its pipes."""

    pid: int
    notices: int
    output: int
    popen: subprocess.Popen[bytes] | None = None
    forks: NodeForkServer | None = None
    reader: threading.Thread | None = None
    """The thread that relays its output (ends at the output pipe's end)."""

    def wait(self, timeout: float | None = None) -> int | None:
        """Its exit status once it ended (None after `timeout` seconds)."""
        if self.popen is not None:
            try:
                return self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                return None
        assert self.forks is not None
        return self.forks.wait(self.pid, timeout)


@dataclass
class _Spawner:
    """The thread that starts every replica (see the module docstring)."""

    jobs: queue.Queue[tuple[Callable[[], object], queue.Queue[object]]] = field(
        default_factory=queue.Queue
    )

    def __post_init__(self) -> None:
        threading.Thread(target=self._run, name="brace-spawner", daemon=True).start()

    def _run(self) -> None:
        while True:
            job, answer = self.jobs.get()
            try:
                answer.put(job())
            except BaseException as error:
                answer.put(error)

    def submit(self, job: Callable[[], object]) -> None:
        """Run `job` on the thread, without waiting for it."""
        self.jobs.put((job, queue.Queue(1)))

    def call(self, job: Callable[[], object]) -> object:
        answer: queue.Queue[object] = queue.Queue(1)
        self.jobs.put((job, answer))
        result = answer.get()
        if isinstance(result, BaseException):
            raise result
        return result


class NodeAgent:
    """Starts and stops brace replicas on this node (a Ray actor: `cluster.agent_class`)."""

    def __init__(self, cache_dir: str, node_address: str) -> None:
        """`cache_dir`: where models and environments are kept on this node;
        `node_address`: the address replicas bind to (the node's Ray address)."""
        self.cache = Path(cache_dir).expanduser()
        self.cache.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.node_address = node_address
        self._children: dict[str, _Child] = {}
        self._events: list[Event] = []
        self._offset = 0
        """How many events were dropped from the front of `_events` (read already)."""
        self._changed = threading.Condition()
        self._spawner = _Spawner()
        self._forks: NodeForkServer | None = None
        self._spawner.submit(self._start_forks)  # ready before the first replica, mostly

    def _start_forks(self) -> None:
        with contextlib.suppress(ForkServerGone, OSError):
            self._forks = NodeForkServer(sys.executable)

    def describe(self) -> dict[str, object]:
        """This agent's node address and pid, and the cache directory."""
        return {"address": self.node_address, "pid": os.getpid(), "cache": str(self.cache)}

    def has_model(self, digest: str) -> bool:
        return (self.cache / "models" / digest).is_dir()

    def put_model(self, digest: str, archive: bytes) -> None:
        """Keep the model snapshot `digest` (a gzipped tar of its directory)."""
        target = self.cache / "models" / digest
        if target.is_dir():
            return
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        unpacked = Path(tempfile.mkdtemp(dir=target.parent, prefix=".unpacking-"))
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
            tar.extractall(unpacked, filter="data")
        try:
            unpacked.rename(target)
        except OSError:  # another launch unpacked it first
            shutil.rmtree(unpacked, ignore_errors=True)

    def python_for(self, requirements: list[str]) -> str:
        """The Python that runs a model with `requirements` on this node (built once)."""
        from brace.runtime.virtualenvs import ensure_environment

        return str(ensure_environment(self.cache, tuple(requirements), lambda line: None))

    def spawn(
        self, replica_id: str, digest: str, python: str, env: Mapping[str, str], tag: str
    ) -> int:
        """Start a replica of model `digest` with `python` and `env`; its pid. `tag`
        names it in its log records (`replica@node`). Forked by the node's fork server
        when it runs brace's own Python, else (or if the fork server is gone) a new
        interpreter."""
        truss = self.cache / "models" / digest
        argv = ["--truss", str(truss), "--host", self.node_address, "--port", "0"]
        argv += ["--replica-id", tag]
        notices, ready = os.pipe()
        output, written = os.pipe()
        try:
            child = self._spawner.call(
                lambda: self._start(argv, python, dict(env), truss, (written, ready))
            )
        except BaseException:
            os.close(notices)
            os.close(output)
            raise
        finally:
            os.close(ready)
            os.close(written)
        assert isinstance(child, tuple)
        pid, popen, forks = child
        child = self._children[replica_id] = _Child(pid, notices, output, popen, forks)
        child.reader = threading.Thread(target=self._output, args=(replica_id,), daemon=True)
        child.reader.start()
        threading.Thread(target=self._watch, args=(replica_id,), daemon=True).start()
        return int(pid)

    def _start(
        self, argv: list[str], python: str, env: dict[str, str], truss: Path, fds: tuple[int, int]
    ) -> tuple[int, subprocess.Popen[bytes] | None, NodeForkServer | None]:
        """On the spawner thread: fork it, or start a new interpreter."""
        forks = self._forks
        if forks is not None and python == sys.executable:
            try:
                return forks.fork(argv, str(truss), env, list(fds)), None, forks
            except ForkServerGone:
                self._forks = None
        written, ready = fds
        popen = subprocess.Popen(
            [python, "-P", "-m", RUNTIME_MODULE, *argv],
            stdin=subprocess.DEVNULL,
            stdout=written,
            stderr=subprocess.STDOUT,
            env={**env, notify.ENV_VAR: str(ready)},
            cwd=truss,
            start_new_session=True,
            preexec_fn=die_with_parent if sys.platform == "linux" else None,
            pass_fds=(ready,),
        )
        return popen.pid, popen, None

    def events(self, cursor: int, wait: float = EVENT_WAIT) -> tuple[int, list[Event]]:
        """The events from `cursor` on, and the next cursor; waits up to `wait` seconds
        for one. Events before `cursor` are forgotten (the server read them)."""
        with self._changed:
            self._forget(cursor)
            if len(self._events) + self._offset <= cursor:
                self._changed.wait(wait)
            start = max(0, cursor - self._offset)
            new = self._events[start:]
            return self._offset + len(self._events), new

    def stop(self, replica_id: str, grace: float) -> int | None:
        """TERM the replica's process group, KILL it after `grace` seconds; its exit
        status (None: not known here)."""
        child = self._children.get(replica_id)
        if child is None:
            return None
        kill_group(child.pid, signal.SIGTERM)
        code = child.wait(grace)
        if code is None:
            kill_group(child.pid, signal.SIGKILL)
            code = child.wait(5.0)
        return code

    def kill(self, replica_id: str) -> None:
        child = self._children.get(replica_id)
        if child is not None:
            kill_group(child.pid, signal.SIGKILL)

    def stop_all(self, grace: float) -> None:
        for replica_id in list(self._children):
            self.stop(replica_id, grace)

    def _forget(self, cursor: int) -> None:
        drop = min(len(self._events), max(0, cursor - self._offset))
        del self._events[:drop]
        self._offset += drop

    def _emit(self, replica_id: str, kind: str, value: str = "") -> None:
        with self._changed:
            self._events.append((replica_id, kind, value))
            self._changed.notify_all()

    def _watch(self, replica_id: str) -> None:
        """Read the replica's notice pipe: its address, its readiness, its end."""
        child = self._children[replica_id]
        with os.fdopen(child.notices, "rb") as pipe:
            for line in pipe:
                if line.startswith(notify.ADDRESS):
                    self._emit(replica_id, "address", line[len(notify.ADDRESS) :].decode().strip())
                elif line == notify.READY:
                    self._emit(replica_id, "ready")
        code = child.wait()
        if child.reader is not None:
            child.reader.join(OUTPUT_GRACE)  # its last output lines before its end
        self._children.pop(replica_id, None)
        self._emit(replica_id, "exit", str(code))

    def _output(self, replica_id: str) -> None:
        child = self._children[replica_id]
        with os.fdopen(child.output, "rb") as output:
            for line in output:
                self._emit(replica_id, "log", line.decode(errors="replace").rstrip("\n"))


def pack_model(directory: Path) -> bytes:
    """A model snapshot's directory as `put_model` takes it: a gzipped tar."""
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w:gz") as tar:
        tar.add(directory, arcname=".")
    return data.getvalue()
