"""`brace rollout status | pause | resume | cancel | force-cancel | force-roll-forward`."""

from __future__ import annotations

import contextlib
import io
import sys
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Annotated, Any

import typer

from brace.cli import render
from brace.cli.common import (
    EnvironmentOpt,
    ModelOpt,
    Output,
    OutputOpt,
    emit,
    finite,
    line,
    open_store,
    session,
)
from brace.errors import BraceError
from brace.store.statuses import PRODUCTION, PromotionStatus, RolloutAction

if TYPE_CHECKING:
    from brace.cli.render import PromotionFacts
    from brace.store import Promotion, Store

app = typer.Typer(help="Follow and steer an environment's promotion.", no_args_is_help=True)


def _environment_view(
    store: Store, model: str | None, environment: str
) -> tuple[dict[str, Any], PromotionFacts]:
    from brace.cli.environments import environment_view
    from brace.services.lookup import find_environment, find_model

    with store.read() as tx:
        data, facts = environment_view(tx, find_environment(tx, find_model(tx, model), environment))
        promotion = tx.latest_promotion(str(data["model_id"]), environment)
    if facts.rollout is None or promotion is None or promotion.previous_id is None:
        return data, facts
    return data, replace(facts, step_traffic=_step_traffic(promotion))


def _step_traffic(promotion: Promotion) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """Both sides' requests since the current step began, from the running server's
    counters; None when no server answers."""
    from brace.apikey import api_key
    from brace.client import request_stats
    from brace.errors import BraceError
    from brace.home import brace_home
    from brace.server.paths import ServerPaths
    from brace.server.record import read_record

    home = brace_home()
    if read_record(ServerPaths(home)) is None:
        return None
    since = promotion.step_settled_at or promotion.step_applied_at
    window = min(600.0, max(1.0, time.time() - since))
    key = api_key(home)
    try:
        assert promotion.previous_id is not None
        return (
            request_stats(home, key, promotion.previous_id, window),
            request_stats(home, key, promotion.candidate_id, window),
        )
    except BraceError:
        return None


@app.command("status")
def status(
    model: ModelOpt = None,
    environment: EnvironmentOpt = PRODUCTION,
    watch: Annotated[
        bool,
        typer.Option(help="Follow the promotion until it ends; exit 0 only if it SUCCEEDED."),
    ] = False,
    interval: Annotated[
        float,
        typer.Option(help="Seconds between updates with --watch.", min=0.01, callback=finite),
    ] = 1.0,
    output: OutputOpt = Output.text,
) -> None:
    """Show the environment's promotion: status, step, replicas of both deployments, the
    traffic split, and the time to the next step.

    With --watch on a terminal the view is redrawn in place; into a pipe or a file,
    one line is printed per change (one JSON object per change with -o json).

    Example:

    \b
      brace rollout status -m hello --watch
    """
    with open_store() as store:
        if watch and session.output is Output.text and sys.stdout.isatty():
            data = _follow_live(store, model, environment, interval)
        elif not watch:
            data, facts = _environment_view(store, model, environment)
            emit(data, lambda: render.environment(data, facts))
        else:
            data = _follow_lines(store, model, environment, interval)
    promotion = data["in_progress_promotion"]
    if watch and promotion is not None and promotion["status"] != "SUCCEEDED":
        raise BraceError(
            f"the promotion to {environment} ended {promotion['status']}",
            promotion["error_message"],
        )


def _ended(data: dict[str, Any]) -> bool:
    promotion = data["in_progress_promotion"]
    return promotion is None or PromotionStatus(promotion["status"]).finished


def _follow_live(
    store: Store, model: str | None, environment: str, interval: float
) -> dict[str, Any]:
    """Redraw the status in place until the promotion ends; its last state."""
    from rich.console import Console
    from rich.live import Live
    from rich.text import Text

    def view(data: dict[str, Any], facts: PromotionFacts) -> Text:
        shown = io.StringIO()
        with contextlib.redirect_stdout(shown):
            render.environment(data, facts)
        return Text(shown.getvalue().rstrip("\n"))

    data, facts = _environment_view(store, model, environment)
    with Live(view(data, facts), console=Console(highlight=False), auto_refresh=False) as live:
        while not _ended(data):
            time.sleep(interval)
            data, facts = _environment_view(store, model, environment)
            live.update(view(data, facts), refresh=True)
    return data


def _follow_lines(
    store: Store, model: str | None, environment: str, interval: float
) -> dict[str, Any]:
    """Print one line (or JSON object) each time the promotion changes, until it ends;
    its last state. For logs and scripts: nothing is repeated while nothing moves."""
    from datetime import datetime

    last: object = None
    while True:
        data, facts = _environment_view(store, model, environment)
        if session.output is Output.json:
            if data != last:
                emit(data, "", stream=True)
            last = data
        else:
            summary = render.rollout_line(data, facts)
            if summary != last:
                line(f"{datetime.now().strftime('%H:%M:%S')} {summary}")
            last = summary
        if _ended(data):
            return data
        time.sleep(interval)


def _act(action: RolloutAction, model: str | None, environment: str) -> None:
    from brace.cli.common import note, server_running
    from brace.services import rollout_actions

    with open_store() as store:
        promotion, leads_to = rollout_actions.request(store, action, model, environment)
        with store.read() as tx:
            candidate = tx.deployment(promotion.candidate_id)
    name = f"{candidate.name} ({candidate.id})" if candidate else promotion.candidate_id
    message = render.action_requested(action, promotion.rolling, leads_to, name, environment)
    if session.output is Output.text and not server_running():
        note(
            "The brace server is not running: the promotion stays as it is until it runs "
            "(`brace up`)."
        )
    if action is RolloutAction.CANCEL:
        emit({"status": leads_to.value, "message": message}, message)
    else:
        emit({"success": True}, message)


@app.command("pause")
def pause(
    model: ModelOpt = None,
    environment: EnvironmentOpt = PRODUCTION,
    output: OutputOpt = Output.text,
) -> None:
    """Pause a rolling promotion at its current traffic split.

    Example:

    \b
      brace rollout pause -m hello
    """
    _act(RolloutAction.PAUSE, model, environment)


@app.command("resume")
def resume(
    model: ModelOpt = None,
    environment: EnvironmentOpt = PRODUCTION,
    output: OutputOpt = Output.text,
) -> None:
    """Resume a paused rolling promotion.

    Example:

    \b
      brace rollout resume -m hello
    """
    _act(RolloutAction.RESUME, model, environment)


@app.command("cancel")
def cancel(
    model: ModelOpt = None,
    environment: EnvironmentOpt = PRODUCTION,
    output: OutputOpt = Output.text,
) -> None:
    """Cancel gracefully: ramp traffic back to the previous deployment.

    Example:

    \b
      brace rollout cancel -m hello
    """
    _act(RolloutAction.CANCEL, model, environment)


@app.command("force-cancel")
def force_cancel(
    model: ModelOpt = None,
    environment: EnvironmentOpt = PRODUCTION,
    output: OutputOpt = Output.text,
) -> None:
    """Cancel at once: all traffic back to the previous deployment.

    Example:

    \b
      brace rollout force-cancel -m hello
    """
    _act(RolloutAction.FORCE_CANCEL, model, environment)


@app.command("force-roll-forward")
def force_roll_forward(
    model: ModelOpt = None,
    environment: EnvironmentOpt = PRODUCTION,
    output: OutputOpt = Output.text,
) -> None:
    """Finish at once: all traffic to the new deployment, even while ramping down.

    Example:

    \b
      brace rollout force-roll-forward -m hello
    """
    _act(RolloutAction.FORCE_ROLL_FORWARD, model, environment)
