"""What every command shares: the -o/--output option, the store, printing, confirming.

stdout carries the result (JSON with `-o json`, text for people otherwise); notes,
warnings and errors go to stderr, so `brace ... -o json | jq` always sees clean JSON.

Destructive commands (`delete`, `models delete`, `environments delete`) first check
that the target exists and may be deleted, then confirm: on a terminal they ask; when
stdin is not a terminal, or with `-o json`, they never ask and need `--yes` (the
`baseten` CLI's convention), failing with exit code 2 otherwise.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable
from enum import Enum, StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from brace.cli import text as _text
from brace.errors import BraceError, UsageError
from brace.home import brace_home

if TYPE_CHECKING:
    from brace.store import Store


class Output(StrEnum):
    text = "text"
    json = "json"


class _Session:
    """The output mode of the running command, known before any error can occur."""

    output: Output = Output.text


session = _Session()


def _remember_output(value: Output) -> Output:
    session.output = value
    return value


OutputOpt = Annotated[
    Output,
    typer.Option(
        "-o",
        "--output",
        callback=_remember_output,
        is_eager=True,
        help="text for people, or json (the management API's shapes) for scripts.",
    ),
]


def _folder_model(ctx: typer.Context, value: str | None) -> str | None:
    """-m as given, else the model of ./config.yaml (said on stderr), else None.

    Run in a model's folder, a command is about that model, as `brace push` there is
    and as `truss predict` does. Not while the shell completes a command line.
    """
    if value is not None or ctx.resilient_parsing:
        return value
    from pathlib import Path

    from brace.config import folder_model_name
    from brace.services.lookup import FolderModel

    name = folder_model_name(Path.cwd())
    if name is None:
        return None
    note(f"Model {name} (from ./config.yaml; -m MODEL names another).")
    return FolderModel(name)


ModelOpt = Annotated[
    str | None,
    typer.Option(
        "-m",
        "--model",
        callback=_folder_model,
        help="Model name or id. Default: the model of ./config.yaml when there is one, "
        "else the only model.",
    ),
]
# For listings, where no -m means every model (the folder does not narrow them).
ModelFilterOpt = Annotated[
    str | None,
    typer.Option("-m", "--model", help="Only this model's (name or id)."),
]
EnvironmentOpt = Annotated[str, typer.Option("-e", "--environment", help="Environment name.")]
YesOpt = Annotated[
    bool,
    typer.Option(
        "--yes", "-y", help="Do not ask for confirmation (needed when stdin is not a terminal)."
    ),
]


class Confirmation(Enum):
    PROCEED = "proceed"  # --yes
    ASK = "ask"  # a person at a terminal
    REFUSE = "refuse"  # a script: nobody to ask


def confirmation(yes: bool, interactive: bool, output: Output) -> Confirmation:
    """Whether a destructive command proceeds, asks, or needs --yes."""
    if yes:
        return Confirmation.PROCEED
    if interactive and output is Output.text:
        return Confirmation.ASK
    return Confirmation.REFUSE


def confirm(what: str, yes: bool) -> None:
    """Go ahead with destroying `what` ("deployment deployment-1 (abc) of model hello"),
    or raise: UsageError when nobody can be asked, BraceError when the answer is no."""
    decision = confirmation(yes, sys.stdin.isatty(), session.output)
    if decision is Confirmation.PROCEED:
        return
    if decision is Confirmation.REFUSE:
        why = "-o json never asks" if session.output is Output.json else "stdin is not a terminal"
        raise UsageError(
            f"not deleting {what} without confirmation: {why}",
            "Pass --yes to delete it without being asked.",
        )
    if not typer.confirm(f"Delete {what}?", err=True):
        raise BraceError("nothing was deleted")


def finite(value: float | None) -> float | None:
    """A Typer callback for float options: NaN and the infinities pass every `min=`
    check (they compare false), so they are refused here by name."""
    if value is not None and not math.isfinite(value):
        raise typer.BadParameter(f"{value} is not a finite number")
    return value


def server_running() -> bool:
    """Whether a brace server runs for this home (its record names a live process)."""
    from brace.server.paths import ServerPaths
    from brace.server.record import read_record

    return read_record(ServerPaths(brace_home())) is not None


def without_server(deployments: list[dict[str, Any]]) -> None:
    """No server runs, so nothing serves: no replica counts (DESIGN.md, Autoscaling),
    and one line to say so in text mode."""
    for item in deployments:
        item["active_replica_count"] = 0
    if session.output is Output.text:
        note("The brace server is not running: no replica serves (start it with `brace up`).")


def open_store() -> Store:
    from brace.store import Store

    return Store(brace_home())


def emit(data: Any, text: Callable[[], None] | str, *, stream: bool = False) -> None:
    """Print the result: `data` as JSON, or the text rendering for people.

    With `stream`, JSON is one compact object per line, for commands that print a
    series of results (`rollout status --watch`).
    """
    if session.output is Output.json:
        # allow_nan=False: JSON has no NaN; every number was checked, so one is a bug.
        sys.stdout.write(json.dumps(data, indent=None if stream else 2, allow_nan=False) + "\n")
        sys.stdout.flush()
    elif isinstance(text, str):
        _text.out(text)
    else:
        text()


def line(text: str) -> None:
    """One line of text-mode output."""
    _text.out(text)


def note(message: str) -> None:
    _text.err(message)


def warn(message: str) -> None:
    _text.err(f"warning: {message}", "yellow")


def progress(status: str, elapsed: float | None) -> str:
    """One line of `--wait` progress: the status, and on a terminal the time since the
    wait began (`elapsed`, seconds; None when not on a terminal: logs keep their own)."""
    if elapsed is None:
        return f"  {status}"
    return f"  {status} ({elapsed:.1f} s)"


def wait_and_report(
    wait: Callable[[Callable[[str], None]], object],
    deployment_id: str,
    *,
    terminal: bool | None = None,
    clock: Callable[[], float] | None = None,
) -> None:
    """Run a `services.wait` function, printing each status to stderr (with the time
    elapsed when stderr is a terminal); on failure add the deployment's last log lines
    to the error. `terminal` and `clock` default to stderr's and `time.monotonic`."""
    import time

    from brace.logs import tail
    from brace.server.paths import ServerPaths
    from brace.services.wait import DeploymentFailed

    now = clock or time.monotonic
    on_terminal = sys.stderr.isatty() if terminal is None else terminal
    start = now()

    def report(status: str) -> None:
        note(progress(status, now() - start if on_terminal else None))

    try:
        wait(report)
    except DeploymentFailed as error:
        log = ServerPaths(brace_home()).deployment_log(deployment_id)
        lines = tail(log, 15)
        hint = f"Last lines of {log}:\n{lines}" if lines else error.hint
        raise DeploymentFailed(error.message, hint) from None
