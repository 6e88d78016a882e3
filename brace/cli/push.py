"""`brace push` and `brace watch` (also `brace push --watch`).

`watch` pushes the development deployment, makes sure the server runs, waits until the
deployment serves, then hands over to brace.devserver's `Watcher`, which applies every
saved change and reports it: one line per event on stdout (one JSON object per line
with `-o json`), the deployment's log lines in between (each event after the lines
written before it). Ctrl-C stops watching at once (exit 130), even while a change is
being applied; the development deployment keeps running.
"""

from __future__ import annotations

import functools
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from brace.cli.common import (
    Output,
    OutputOpt,
    emit,
    line,
    note,
    open_store,
    session,
    wait_and_report,
    warn,
)
from brace.cli.server import HostOpt, PortOpt, start_to_run
from brace.errors import UsageError

if TYPE_CHECKING:
    from brace.devserver.events import Event
    from brace.services.push import PushResult
    from brace.store import Store

DirectoryArg = Annotated[Path, typer.Argument(help="The Truss model directory.")]
ModelNameOpt = Annotated[
    str | None, typer.Option(help="Model name, overriding config.yaml's model_name.")
]
MAX_WAIT = 7 * 86400
"""Longest wait a command accepts, in seconds (a week): a bound on a number read."""
TimeoutOpt = Annotated[
    int, typer.Option(help="How long to wait for a deployment.", min=1, max=MAX_WAIT)
]


def push_command(
    directory: DirectoryArg = Path("."),
    model_name: ModelNameOpt = None,
    publish: Annotated[bool, typer.Option(help="Create a new published deployment.")] = False,
    promote: Annotated[
        bool, typer.Option(help="Publish and promote the new deployment to production.")
    ] = False,
    environment: Annotated[
        str | None, typer.Option(help="Publish and promote the new deployment to this environment.")
    ] = None,
    deployment_name: Annotated[
        str | None, typer.Option(help="Name of the published deployment.")
    ] = None,
    wait: Annotated[bool, typer.Option(help="Wait until the deployment is ACTIVE.")] = False,
    watch: Annotated[
        bool,
        typer.Option(
            "--watch", help="Then watch the directory and apply every saved change (brace watch)."
        ),
    ] = False,
    timeout_seconds: Annotated[
        int, typer.Option(help="How long --wait waits.", min=1, max=MAX_WAIT)
    ] = 1800,
    output: OutputOpt = Output.text,
) -> None:
    """Create or update the development deployment, or publish a new deployment.

    Examples:

    \b
      brace push examples/hello                 # development deployment, live code
      brace push examples/hello --watch         # ... then live reload (brace watch)
      brace push examples/hello --publish       # new published deployment (a snapshot)
      brace push examples/hello --promote       # publish and promote to production
    """
    from brace.services import views
    from brace.services.push import push

    _refuse_conflicts(watch, publish, promote, environment, deployment_name)
    if watch:
        _watch(directory, model_name, timeout_seconds)
        return
    with open_store() as store:
        result = push(
            store,
            directory,
            model_name=model_name,
            publish=publish,
            promote=promote,
            environment=environment,
            deployment_name=deployment_name,
        )
        for notice in result.notices:
            warn(notice.message)
        if result.model_created and session.output is Output.text:
            note(f"Created model {result.model.name} ({result.model.id}).")
        start_to_run(f"deployment {result.deployment.name} ({result.deployment.id})")
        if wait:
            result = _wait(store, result, timeout_seconds)
        emit(
            {
                "model": views.read(store, views.model_json, result.model),
                "deployment": views.read(store, views.deployment_json, result.deployment),
            },
            lambda: _describe(result),
        )


def _refuse_conflicts(
    watch: bool,
    publish: bool,
    promote: bool,
    environment: str | None,
    deployment_name: str | None,
) -> None:
    """Refuse the flags that do not go together, before anything is done."""
    from brace.services.lookup import PRODUCTION

    if watch:
        if publish or promote or environment is not None or deployment_name is not None:
            raise UsageError(
                "--watch follows the development deployment; it does not go with "
                "--publish, --promote, --environment or --deployment-name",
                "Publish once you are done: `brace push DIR --publish`.",
            )
        return
    if promote and environment not in (None, PRODUCTION):
        raise UsageError(
            f"--promote promotes to production, --environment {environment} to {environment}",
            "Use one of them.",
        )
    if deployment_name is not None and not (publish or promote or environment is not None):
        raise UsageError(
            "--deployment-name names a published deployment; the development deployment "
            "is always named 'development'",
            "Add --publish (or --promote) to create a published deployment.",
        )


def _wait(store: Store, result: PushResult, timeout: float) -> PushResult:
    """Wait for the deployment (and its promotion); the result as it is now."""
    from brace.cli.server import ensure_server
    from brace.services.wait import wait_for_deployment, wait_for_promotion

    ensure_server()
    deployment, promotion = result.deployment, result.promotion
    note(f"Waiting for {deployment.name} ({deployment.id}):")
    wait_and_report(
        lambda report: wait_for_deployment(store, deployment.id, timeout, report), deployment.id
    )
    if promotion is not None and not promotion.status.finished:
        note(f"Waiting for the promotion to {promotion.environment}:")
        wait_and_report(
            lambda report: wait_for_promotion(store, promotion.id, timeout, report),
            deployment.id,
        )
    with store.read() as tx:
        fresh = tx.deployment(deployment.id)
        settled = tx.promotion(promotion.id) if promotion is not None else None
    assert fresh is not None
    return replace(result, deployment=fresh, promotion=settled)


def _describe(result: PushResult) -> None:
    model, deployment = result.model, result.deployment
    kind = "Development deployment" if deployment.is_development else "Published deployment"
    line(
        f"{kind} {deployment.name} ({deployment.id}) of model {model.name}: "
        f"{deployment.status.value}"
    )
    promotion = result.promotion
    if promotion is not None:
        if promotion.status.finished:
            line(f"Promoted to {promotion.environment}.")
        else:
            kind = "Rolling promotion" if promotion.rolling else "Promotion"
            line(
                f"{kind} to {promotion.environment} started ({promotion.status.value}); it "
                "switches once the deployment is ACTIVE. Follow it with "
                f"`brace rollout status -m {model.name} -e {promotion.environment}`."
            )


def watch_command(
    directory: DirectoryArg = Path("."),
    model_name: ModelNameOpt = None,
    timeout_seconds: TimeoutOpt = 1800,
    host: HostOpt = None,
    port: PortOpt = None,
    output: OutputOpt = Output.text,
) -> None:
    """Run the development deployment with live reload of every saved change.

    Pushes the development deployment, starts the server if needed, waits until the
    deployment serves, then applies each saved change: code, packages and data/ are
    reloaded in the running replica (a broken save keeps the last good code serving);
    config.yaml changes that need a new process (environment_variables, secrets,
    runtime, resources, requirements) start a new replica beside the old one. One line
    per change on stdout (one JSON object per line with -o json), with the deployment's
    log lines. Ctrl-C stops watching; the deployment keeps running.

    Example:

    \b
      brace watch examples/hello
    """
    _watch(directory, model_name, timeout_seconds, host, port)


class _Printer:
    """Prints the watch's events from the loop and the log follower, one at a time.

    Before an event of the loop, the log lines written so far are printed (`drain`):
    an event such as "not applied ... (its log lines above say why)" refers to them.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.drain: Callable[[], None] = lambda: None

    def __call__(self, event: Event) -> None:
        from brace.devserver.events import EventKind, to_json, to_text

        if event.kind is not EventKind.LOG:
            self.drain()
        with self._lock:
            if session.output is Output.json:
                emit(to_json(event), "", stream=True)
            else:  # plain text: log lines are the user's own, not Rich markup or emoji codes
                sys.stdout.write(to_text(event) + "\n")
                sys.stdout.flush()


def _watch(
    directory: Path,
    model_name: str | None,
    timeout: float,
    host: str | None = None,
    port: int | None = None,
) -> None:
    from brace.cli.failures import Interrupted
    from brace.cli.server import ensure_server
    from brace.config import load_truss
    from brace.devserver.events import Event, EventKind
    from brace.devserver.keepawake import KeepAwake
    from brace.devserver.logtail import LogFollower
    from brace.devserver.target import DevelopmentTarget
    from brace.devserver.watcher import Watcher, read_config
    from brace.services.push import push
    from brace.services.secrets import saved_since

    printer = _Printer()
    load_truss(directory)  # a directory that is no Truss is said first
    where = ensure_server(host, port)  # then, before anything is recorded: watching needs it
    with open_store() as store:
        result = push(store, directory, model_name=model_name)
        _announce(store, result)
        deployment = result.deployment
        target = DevelopmentTarget(
            store, directory, result.model.name, deployment.id, timeout=timeout
        )
        watcher = Watcher(
            read_config(directory),
            target,
            printer,
            model_name=result.model.name,
            secrets_saved=functools.partial(saved_since, store.home),
        )
        # From the log's end now: the lines of the replica this push starts are relayed.
        follower = LogFollower(
            lambda: target.log_file,
            lambda text: printer(Event(EventKind.LOG, time.time(), message=text)),
        )
        printer.drain = follower.drain
        ensure_server(where.host, where.port)  # still running (it may have been stopped)
        note(f"Waiting for {deployment.name} ({deployment.id}):")
        try:
            with follower, KeepAwake(store.home, lambda: target.deployment_id):
                watcher.run(deployment.revision, on_status=lambda status: note(f"  {status}"))
        except (KeyboardInterrupt, Interrupted):
            # At once, even in the middle of applying a change: the server carries on
            # with what it was asked (the serving replica keeps serving).
            printer.drain = lambda: None
            printer(Event(EventKind.STOPPED, time.time()))
            raise Interrupted(reported=True) from None


def _announce(store: Store, result: PushResult) -> None:
    """The push's notices, then the watch's first event: `pushed`."""
    from brace.services import views

    for notice in result.notices:
        warn(notice.message)
    emit(
        {
            "event": "pushed",
            "model": views.read(store, views.model_json, result.model),
            "deployment": views.read(store, views.deployment_json, result.deployment),
        },
        lambda: _describe(result),
        stream=True,
    )
