"""`brace push` and `brace watch`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from brace.cli.common import (
    Output,
    OutputOpt,
    emit,
    line,
    not_available,
    note,
    open_store,
    wait_and_report,
    warn,
)

if TYPE_CHECKING:
    from brace.services.push import PushResult
    from brace.store import Store


def push_command(
    directory: Annotated[Path, typer.Argument(help="The Truss model directory.")] = Path("."),
    model_name: Annotated[
        str | None, typer.Option(help="Model name, overriding config.yaml's model_name.")
    ] = None,
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
    timeout_seconds: Annotated[int, typer.Option(help="How long --wait waits.", min=1)] = 1800,
    output: OutputOpt = Output.text,
) -> None:
    """Create or update the development deployment, or publish a new deployment.

    Examples:

    \b
      brace push examples/hello                 # development deployment, live code
      brace push examples/hello --publish       # new published deployment (a snapshot)
      brace push examples/hello --promote       # publish and promote to production
    """
    from brace.services import views
    from brace.services.push import push

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
        if wait:
            _wait(store, result, timeout_seconds)
        emit(
            {
                "model": views.read(store, views.model_json, result.model),
                "deployment": views.read(store, views.deployment_json, result.deployment),
            },
            lambda: _describe(result),
        )


def _wait(store: Store, result: PushResult, timeout: float) -> None:
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


def _describe(result: PushResult) -> None:
    model, deployment = result.model, result.deployment
    if result.model_created:
        note(f"Created model {model.name} ({model.id}).")
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
                "switches once the deployment is ACTIVE. Follow it with `brace rollout status`."
            )


def watch_command(
    directory: Annotated[Path, typer.Argument(help="The Truss model directory.")] = Path("."),
    output: OutputOpt = Output.text,
) -> None:
    """Run the development deployment with live reload of every saved change.

    Example:

    \b
      brace watch examples/hello
    """
    raise not_available("watch")
