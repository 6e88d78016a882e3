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
    needs_server,
    note,
    open_store,
    warn,
)

if TYPE_CHECKING:
    from brace.services.push import PushResult


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
    if wait:
        raise needs_server("push --wait")
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
        emit(
            {
                "model": views.read(store, views.model_json, result.model),
                "deployment": views.read(store, views.deployment_json, result.deployment),
            },
            lambda: _describe(result),
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
            line(
                f"Rolling promotion to {promotion.environment} started "
                f"({promotion.status.value}); follow it with `brace rollout status`."
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
    raise needs_server("watch")
