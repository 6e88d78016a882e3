"""`brace deployments list | show | autoscaling`."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from brace.cli import render
from brace.cli.common import (
    ModelFilterOpt,
    ModelOpt,
    Output,
    OutputOpt,
    emit,
    open_store,
    server_running,
    session,
    without_server,
)
from brace.cli.lifecycle import DeploymentArg
from brace.ranges import allowed

app = typer.Typer(help="Deployments of a model.", no_args_is_help=True)


@app.command("list")
def list_deployments(model: ModelFilterOpt = None, output: OutputOpt = Output.text) -> None:
    """List deployments (of every model, or of -m MODEL).

    Example:

    \b
      brace deployments list -m hello
    """
    from brace.services import views
    from brace.services.lookup import find_model

    with open_store() as store, store.read() as tx:
        model_id = find_model(tx, model).id if model is not None else None
        found = tx.deployments(model_id)
        data = views.deployments_json(tx, found)
        names = {m.id: m.name for m in tx.models()}
    wanted = {d.id: d.recommended_replicas for d in found}
    if not server_running():
        without_server(data["deployments"])
        wanted = dict.fromkeys(wanted, 0)
    emit(data, lambda: render.deployments(data["deployments"], names, wanted))


@app.command("show")
def show(
    deployment: DeploymentArg, model: ModelOpt = None, output: OutputOpt = Output.text
) -> None:
    """Show one deployment; in text, also its requests over the last minute (rate,
    5xx share, p50/p99 latency) while the server runs.

    Example:

    \b
      brace deployments show production -m hello
    """
    from brace.services import views
    from brace.services.lookup import find_deployment

    with open_store() as store, store.read() as tx:
        found = find_deployment(tx, deployment, model)
        data = views.deployment_json(tx, found)
    wanted = found.recommended_replicas
    running = server_running()
    if not running:
        without_server([data])
        wanted = 0
    if session.output is Output.json:
        emit(data, "")
        return
    traffic = _traffic(found.id) if running else "not measured: the server is not running"
    render.deployment(data, wanted, traffic)


def _traffic(deployment_id: str) -> dict[str, Any] | str:
    """The deployment's requests over the last minute, or why they are not known."""
    from brace.apikey import api_key
    from brace.client import request_stats
    from brace.errors import BraceError
    from brace.home import brace_home

    home = brace_home()
    try:
        stats: dict[str, Any] = request_stats(home, api_key(home), deployment_id)
    except BraceError as error:
        return f"unavailable: {error.message}"
    return stats


@app.command("autoscaling")
def autoscaling(
    deployment: DeploymentArg,
    model: ModelOpt = None,
    min_replica: Annotated[
        int | None,
        typer.Option(help=f"Fewest replicas, {allowed('min_replica')} (0 allows scale to zero)."),
    ] = None,
    max_replica: Annotated[
        int | None, typer.Option(help=f"Most replicas, {allowed('max_replica')}.")
    ] = None,
    autoscaling_window: Annotated[
        int | None,
        typer.Option(
            help="Seconds of traffic averaged to size the deployment, "
            f"{allowed('autoscaling_window')}."
        ),
    ] = None,
    scale_down_delay: Annotated[
        int | None,
        typer.Option(
            help="Seconds demand must stay lower before scaling down, "
            f"{allowed('scale_down_delay')}."
        ),
    ] = None,
    concurrency_target: Annotated[
        int | None,
        typer.Option(help=f"In-flight requests per replica, {allowed('concurrency_target')}."),
    ] = None,
    target_utilization_percentage: Annotated[
        int | None,
        typer.Option(
            help="Share of the concurrency target to aim for, "
            f"{allowed('target_utilization_percentage')} %."
        ),
    ] = None,
    output: OutputOpt = Output.text,
) -> None:
    """Change a deployment's autoscaling settings (only the ones given).

    Example:

    \b
      brace deployments autoscaling production -m hello --min-replica 1 --max-replica 3
    """
    changes = {
        "min_replica": min_replica,
        "max_replica": max_replica,
        "autoscaling_window": autoscaling_window,
        "scale_down_delay": scale_down_delay,
        "concurrency_target": concurrency_target,
        "target_utilization_percentage": target_utilization_percentage,
    }
    from brace.services import deployments

    with open_store() as store:
        result, changed = deployments.set_autoscaling(store, deployment, changes, model)
    status = "ACCEPTED" if changed else "UNCHANGED"
    message = (
        f"Autoscaling settings of {result.name} ({result.id}) updated."
        if changed
        else f"Autoscaling settings of {result.name} ({result.id}) are unchanged."
    )
    emit({"status": status, "message": message}, message)
