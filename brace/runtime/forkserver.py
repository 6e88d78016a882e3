"""The fork server: replicas that start without paying for their imports.

Almost all of a replica's start-up is importing asyncio, uvicorn, Starlette and brace
(FIELD-NOTES.md; `bench/cold_start.py`). `python -P -m brace.runtime.forkserver` imports
them once and then forks one child per replica the server asks for, as Python's
multiprocessing "forkserver" start method does: the child is a replica that begins
where `python -m brace.runtime` would be after its imports. No model code ever runs in
the fork server itself, only in its children. `python -P -m brace.runtime.forkserver
MODULE...` also imports the given modules (a model's third-party imports,
`brace.runtime.preload`) with the thread pools of numeric libraries held to one thread,
and refuses to serve if one fails or starts a thread.

The server talks to it over a SOCK_SEQPACKET socket on its stdin, one JSON message per
packet (`brace.server.backends.forkserver` is the other end):

  fork server -> server   {"ready": true, "loaded": [...]} imports done, once (with the
                                                           top-level names in sys.modules)
  fork server -> server   {"refused": MESSAGE}             a preload failed; it ends
  server -> fork server   {"argv": [...], "cwd": DIR, "env": {...}}, with the replica's
                          log file and, optionally, its readiness pipe (SCM_RIGHTS)
  fork server -> server   {"started": PID}  or  {"error": MESSAGE}
  fork server -> server   {"exited": PID, "code": CODE}    a child ended (CODE as
                                                           subprocess's returncode)

Each child starts a new session, is killed when the fork server dies (Linux
PR_SET_PDEATHSIG, as the server's own children are), gets /dev/null as stdin and its log
file as stdout and stderr, and runs in its model's directory with exactly the
environment it was given. The fork server ends when the server closes the socket.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import os
import selectors
import shlex
import signal
import socket
import sys
import traceback
from typing import Any

import setproctitle

from brace.deathsig import die_with_parent
from brace.processes import RUNTIME_MODULE
from brace.runtime import notify
from brace.runtime.preload import PreloadRefused, limit_threads, preload

MESSAGE_LIMIT = 1 << 20
"""The largest message either side sends, in bytes."""


WARM_MODULES = (
    "brace.runtime.main",
    "brace.runtime.server",
    # What uvicorn imports only when it starts: the loop and the HTTP protocol.
    "uvicorn.lifespan.off",
    "uvicorn.loops.uvloop",
    "uvicorn.protocols.http.httptools_impl",
)
"""What a replica imports before it reads its model."""


def warm_imports() -> None:
    for name in WARM_MODULES:
        importlib.import_module(name)


def send(control: socket.socket, message: dict[str, Any]) -> None:
    control.send(json.dumps(message).encode())


def serve(control: socket.socket, modules: list[str] | None = None) -> int:
    warm_imports()
    if modules:
        limit_threads(os.environ)
        try:
            preload(modules)
        except PreloadRefused as refused:
            send(control, {"refused": str(refused)})
            return 0
    wakeup_read, wakeup_write = os.pipe()
    os.set_blocking(wakeup_write, False)
    signal.set_wakeup_fd(wakeup_write)
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)
    selector = selectors.DefaultSelector()
    selector.register(control, selectors.EVENT_READ)
    selector.register(wakeup_read, selectors.EVENT_READ)
    loaded = sorted({name.partition(".")[0] for name in sys.modules})
    send(control, {"ready": True, "loaded": loaded})
    while True:
        for key, _ in selector.select():
            if key.fileobj is control:
                data, fds, _, _ = socket.recv_fds(control, MESSAGE_LIMIT, 2)
                if not data:
                    return 0  # the server is gone; the children die with us
                own = (selector, wakeup_read, wakeup_write)
                _fork(control, json.loads(data), fds, own)
            else:
                with contextlib.suppress(BlockingIOError):
                    os.read(wakeup_read, 4096)
                _reap(control)


def _reap(control: socket.socket) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        send(control, {"exited": pid, "code": os.waitstatus_to_exitcode(status)})


Own = tuple[selectors.BaseSelector, int, int]
"""What the fork server holds that a child must close: its selector and wake-up pipe."""


def _fork(control: socket.socket, request: dict[str, Any], fds: list[int], own: Own) -> None:
    try:
        pid = os.fork()
    except OSError as error:
        for fd in fds:
            os.close(fd)
        send(control, {"error": f"cannot fork: {error.strerror}"})
        return
    if pid == 0:
        _child(control, request, fds, own)  # never returns
    for fd in fds:
        os.close(fd)
    send(control, {"started": pid})


def _child(control: socket.socket, request: dict[str, Any], fds: list[int], own: Own) -> None:
    code = 1
    try:
        parent = os.getppid()
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        control.close()
        selector, *pipe = own
        selector.close()
        for fd in pipe:
            os.close(fd)
        os.setsid()
        die_with_parent()
        if os.getppid() != parent:
            os._exit(1)  # the fork server died before the line above: so must we
        log_fd, *ready = fds
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        os.close(devnull)
        os.close(log_fd)
        env = dict(request["env"])
        if ready:
            env[notify.ENV_VAR] = str(ready[0])
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(env)
        from brace.runtime import __file__ as package_file
        from brace.runtime.main import main

        # What `python -m brace.runtime ARGS` would show the model, and ps.
        sys.argv = [os.path.join(os.path.dirname(package_file), "__main__.py"), *request["argv"]]
        setproctitle.setproctitle(
            shlex.join([sys.executable, "-P", "-m", RUNTIME_MODULE, *request["argv"]])
        )
        code = main(request["argv"])
    except SystemExit as exit:
        code = exit.code if isinstance(exit.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        with contextlib.suppress(BaseException):
            logging.shutdown()
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def main(argv: list[str] | None = None) -> int:
    # setproctitle finds the process's argv through its environ: only before a child
    # replaces its environment (it keeps what it needs from then on).
    setproctitle.getproctitle()
    control = socket.socket(fileno=os.dup(0))
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)  # the socket is not the children's stdin
    os.close(devnull)
    try:
        return serve(control, sys.argv[1:] if argv is None else argv)
    except (BrokenPipeError, ConnectionResetError):
        return 0  # the server went away: so do we, quietly


if __name__ == "__main__":
    sys.exit(main())
