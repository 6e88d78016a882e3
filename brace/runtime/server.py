"""Run one replica: uvicorn (uvloop + httptools) first, the model load right after.

The socket is bound before any user code runs, so the controller can watch readiness
(503 while loading) instead of guessing from the process. `load()` runs in a thread
once uvicorn is listening; if importing, constructing or loading the model fails, the
traceback is logged cut to the user's frames and the process exits with status 1, as
Truss's server does (a replica without a model is of no use to anyone). Once a model
serves, a failed *reload* (reload.py) never stops the process: the old model serves on.

Exit statuses: 0 after SIGTERM/SIGINT, 1 when the model fails to load, 3 when the
socket cannot be bound, and a BraceError's code (5) when the Truss or the
`BRACE_ENVIRONMENT` variable (environment.py) is invalid.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import stat
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from starlette.types import ASGIApp

from brace.config import Truss
from brace.errors import BraceError
from brace.runtime.app import Replica, build_app
from brace.runtime.environment import EnvironmentState, EnvironmentUpdater, read_environment
from brace.runtime.guard import guarded, take_secret
from brace.runtime.holder import ModelHolder
from brace.runtime.layout import ModelLayout, layout_of, read_truss
from brace.runtime.loader import LoadError, load_model, prepare_process
from brace.runtime.notify import ReadyNotifier
from brace.runtime.pipeline import Pipeline
from brace.runtime.redact import Redactor
from brace.runtime.reload import Reloader
from brace.runtime.secrets import Secrets
from brace.runtime.tracebacks import cut_traceback
from brace.runtime.usercode import UserCode

log = logging.getLogger("brace.runtime")

EXIT_LOAD_FAILED = 1
EXIT_BIND_FAILED = 3  # uvicorn's own code for a startup failure
# Threads for sync methods and sync generators. Like anyio's default (40), and never
# fewer than predict_concurrency allows to run at once plus pre/postprocess.
MIN_THREADS = 40


@dataclass(frozen=True)
class Options:
    truss: Path
    uds: Path | None = None
    host: str = "127.0.0.1"
    port: int | None = None
    access_log: bool = False

    @property
    def address(self) -> str:
        if self.uds is not None:
            return f"unix:{self.uds}"
        return f"http://{self.host}:{self.port}"


class _Server(uvicorn.Server):
    """uvicorn's server, telling us once its socket is listening."""

    def __init__(
        self,
        config: uvicorn.Config,
        on_listening: Callable[[uvicorn.Server, asyncio.AbstractEventLoop], None],
    ) -> None:
        super().__init__(config)
        self._on_listening = on_listening

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and not self.should_exit:
            self._on_listening(self, asyncio.get_running_loop())


class _FirstLoad:
    """Loads the model in a thread and stops the server if that fails."""

    def __init__(
        self,
        truss: Truss,
        layout: ModelLayout,
        holder: ModelHolder,
        secrets: Secrets,
        environment: EnvironmentState,
        notifier: ReadyNotifier,
    ) -> None:
        self.truss = truss
        self.layout = layout
        self.holder = holder
        self.secrets = secrets
        self.environment = environment
        self.notifier = notifier
        self.exit_code = 0

    def start(self, server: uvicorn.Server, loop: asyncio.AbstractEventLoop) -> None:
        thread = threading.Thread(
            target=self._run, args=(server, loop), name="brace-load", daemon=True
        )
        thread.start()

    def _run(self, server: uvicorn.Server, loop: asyncio.AbstractEventLoop) -> None:
        try:
            # What the model is built from, so a reload can tell that nothing changed.
            sources = UserCode.of(self.layout).fingerprint()
            model = load_model(
                self.truss,
                self.layout,
                self.secrets,
                environment=self.environment.current,
                loop=loop,
            )
        except LoadError as exc:
            cause = exc.__cause__ or exc
            if isinstance(cause, BraceError):  # brace's own verdict: message and hint
                hint = f"\n{cause.hint}" if cause.hint else ""
                log.error("%s: %s%s", exc, cause.message, hint)
            else:
                log.error("%s:\n%s", exc, cut_traceback(cause, self.layout.user_roots))
        except BaseException:
            log.exception("Loading the model failed (a bug in brace)")
        else:
            current = self.holder.swap(model, sources)
            log.info("Model loaded in %d ms (version %d)", model.load_ms, current.version)
            self.notifier.ready()
            return
        self.holder.mark_failed()
        self.exit_code = EXIT_LOAD_FAILED
        loop.call_soon_threadsafe(setattr, server, "should_exit", True)


def _ignore_signal(signum: int, frame: object) -> None:
    """Stands in for the default TERM/INT handlers while uvicorn runs.

    uvicorn re-raises the signal that stopped it once it has shut down, with the
    previous handler back in place. With the default handler that would kill the
    process before it can clean up and exit with status 0.
    """


def serve(options: Options, redactor: Redactor | None = None) -> int:
    """Serve until stopped; the exit status. `redactor` hears every secret value the
    model can see (main.py sends the process's output through it)."""
    redactor = redactor or Redactor()
    notifier = ReadyNotifier.from_environment(os.environ)  # before any user code
    secret = take_secret(os.environ)
    try:
        truss = read_truss(options.truss)
        environment = EnvironmentState(read_environment(os.environ))
    except BraceError as exc:
        log.error("%s%s", exc.message, f"\n{exc.hint}" if exc.hint else "")
        return int(exc.exit_code)
    layout = layout_of(truss)
    # Before any user code, on this thread: config environment variables, import roots.
    prepare_process(truss, layout)
    concurrency = truss.config.runtime.predict_concurrency
    executor = ThreadPoolExecutor(
        max_workers=max(MIN_THREADS, 2 * concurrency), thread_name_prefix="brace-model"
    )
    holder = ModelHolder()
    home = os.environ.get("BRACE_HOME")
    secrets = Secrets(
        truss.config.secrets, Path(home).expanduser() if home else None, on_value=redactor.add
    )
    secrets.resolve_all()  # known before any user code runs, so redacted from the start
    pipeline = Pipeline(concurrency, executor, layout.user_roots)
    reloader = Reloader(truss, layout, holder, secrets, environment=environment, redact=redactor)
    updater = EnvironmentUpdater(
        holder, environment, executor, reloader.lock, on_error=pipeline.log_model_error
    )
    replica = Replica(holder, pipeline, executor, reloader, updater)
    first_load = _FirstLoad(truss, layout, holder, secrets, environment, notifier)
    config = _uvicorn_config(guarded(build_app(replica), secret), options)

    def on_listening(server: uvicorn.Server, loop: asyncio.AbstractEventLoop) -> None:
        bound = _bound(server, options)
        log.info("Serving %s on %s (pid %d)", truss.path, bound, os.getpid())
        if options.uds is None:
            notifier.listening(bound.removeprefix("http://"))
        first_load.start(server, loop)

    server = _Server(config, on_listening)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _ignore_signal)
        signal.signal(signal.SIGINT, _ignore_signal)
    try:
        server.run()
    except OSError as exc:
        log.error("Cannot listen on %s: %s", options.address, exc)
        return EXIT_BIND_FAILED
    finally:
        _remove_socket(options.uds)
    return _finish(executor, first_load.exit_code)


def _uvicorn_config(app: ASGIApp, options: Options) -> uvicorn.Config:
    """uvicorn's settings for a replica: the fast loop and parser, no websockets or
    lifespan, brace's own logging."""
    return uvicorn.Config(
        app,
        uds=str(options.uds) if options.uds is not None else None,
        host=options.host,
        port=options.port if options.port is not None else 8000,
        loop="uvloop",
        http="httptools",
        ws="none",  # no websocket library imports on the start path
        lifespan="off",
        interface="asgi3",
        log_config=None,  # our own plain-line logging (main.py)
        access_log=options.access_log,
    )


def _bound(server: uvicorn.Server, options: Options) -> str:
    """The address actually listened on (`--port 0` picks a free port)."""
    if options.uds is None:
        for listener in server.servers:
            for sock in listener.sockets:
                host, port = sock.getsockname()[:2]
                return f"http://{host}:{port}"
    return options.address


def _remove_socket(path: Path | None) -> None:
    with contextlib.suppress(OSError):
        if path is not None and stat.S_ISSOCK(path.stat().st_mode):
            path.unlink()


def _finish(executor: ThreadPoolExecutor, code: int) -> int:
    """Return `code`, or exit with it at once if threads would keep the process alive.

    A failed load() may have started threads that never end, and so may a predict that
    never returns; the interpreter would wait for them forever. The process must end.
    """
    executor.shutdown(wait=False, cancel_futures=True)
    if code != EXIT_LOAD_FAILED:
        deadline = time.monotonic() + 1.0
        for thread in _non_daemon_threads():
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        if not _non_daemon_threads():
            return code
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _non_daemon_threads() -> list[threading.Thread]:
    main = threading.main_thread()
    return [t for t in threading.enumerate() if t is not main and not t.daemon and t.is_alive()]
