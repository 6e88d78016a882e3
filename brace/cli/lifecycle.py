"""Deployment lifecycle commands: promote, activate, deactivate, delete, rename."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from brace.cli import render
from brace.cli.common import (
    ModelOpt,
    Output,
    OutputOpt,
    YesOpt,
    confirm,
    emit,
    note,
    open_store,
    wait_and_report,
    warn,
)
from brace.cli.server import HostOpt, PortOpt, ensure_server, start_to_run
from brace.store.statuses import PRODUCTION

if TYPE_CHECKING:
    from brace.store import Deployment, Tx

DeploymentArg = Annotated[
    str,
    typer.Argument(
        help="Deployment id or name; `development` and `production` name those deployments."
    ),
]


def promote_command(
    deployment: DeploymentArg,
    environment: Annotated[
        str, typer.Option("-e", "--environment", help="Environment to promote to.")
    ] = PRODUCTION,
    model: ModelOpt = None,
    wait: Annotated[bool, typer.Option(help="Wait until the promotion finishes.")] = False,
    output: OutputOpt = Output.text,
) -> None:
    """Promote a deployment to production (or another environment).

    Promoting `development` publishes its current code as a new deployment first, with
    the autoscaling settings of the environment's current deployment. A published
    deployment keeps its own settings (Baseten's rule); when they differ from the
    current deployment's, promote says so and prints the command that copies them.

    Examples:

    \b
      brace promote deployment-2
      brace promote development --environment staging
    """
    from brace.services import views
    from brace.services.lookup import model_name
    from brace.services.promote import promote

    with open_store() as store:
        result = promote(store, deployment, model_ref=model, environment=environment)
        promotion = result.promotion
        start_to_run(f"the promotion of {result.deployment.name} ({result.deployment.id})")
        if wait and not promotion.status.finished:
            from brace.cli.server import ensure_server
            from brace.services.wait import wait_for_promotion

            ensure_server()
            note(f"Waiting for the promotion to {environment}:")
            wait_and_report(
                lambda report: wait_for_promotion(store, promotion.id, 1800, report),
                result.deployment.id,
            )
        data = views.read(store, views.deployment_json, result.deployment)
        with store.read() as tx:
            owner = model_name(tx, result.deployment.model_id)
    change = result.autoscaling_change
    if change is not None:
        data["autoscaling_settings_change"] = change.to_json()
        warn(render.autoscaling_change(change, environment, owner))
    name = f"{result.deployment.name} ({result.deployment.id})"
    if data["environment"] == environment or wait:
        text = f"Promoted {name} to {environment}."
    else:
        kind = "Rolling promotion" if promotion.rolling else "Promotion"
        text = (
            f"{kind} of {name} to {environment} started; {environment} switches once it is "
            f"ACTIVE. Follow it with `brace rollout status -m {owner} "
            f"-e {environment}`."
        )
    emit(data, text)


def activate_command(
    deployment: DeploymentArg, model: ModelOpt = None, output: OutputOpt = Output.text
) -> None:
    """Activate a deactivated deployment.

    Example:

    \b
      brace activate deployment-1
    """
    from brace.services import deployments

    with open_store() as store:
        result = deployments.activate(store, deployment, model)
    start_to_run(f"deployment {result.name} ({result.id})")
    emit({"success": True}, f"Activated {result.name} ({result.id}): {result.status.value}.")


def wake_command(
    deployment: DeploymentArg,
    model: ModelOpt = None,
    wait: Annotated[bool, typer.Option(help="Wait until it serves.")] = False,
    timeout_seconds: Annotated[
        int, typer.Option(help="How long --wait waits, in seconds.", min=1)
    ] = 1800,
    host: HostOpt = None,
    port: PortOpt = None,
    output: OutputOpt = Output.text,
) -> None:
    """Wake a deployment that scaled to zero: it starts a replica, as a request would.

    Baseten's advice before promoting a sleeping deployment: wake it first, so the
    promotion does not wait for its cold start. Calls the gateway's wake path
    (`POST /model/{model_id}/deployment/{deployment_id}/wake`, answered 202).

    Example:

    \b
      brace wake deployment-2 -m hello --wait
    """
    from brace.apikey import api_key
    from brace.client import post
    from brace.errors import ServerError
    from brace.home import brace_home
    from brace.services import views
    from brace.services.lookup import model_name
    from brace.services.wait import wait_for_deployment
    from brace.services.wake import find_wakeable

    with open_store() as store:
        found = find_wakeable(store, deployment, model)
        where = ensure_server(host, port)
        path = f"/model/{found.model_id}/deployment/{found.id}/wake"
        answered = post(where, path, b"", lambda status, chunk: None, 30.0, api_key(brace_home()))
        if answered != 202:
            raise ServerError(f"the brace server answered {answered} to POST {path}")
        if wait:
            note(f"Waiting for {found.name} ({found.id}):")
            wait_and_report(
                lambda report: wait_for_deployment(
                    store, found.id, timeout_seconds, report, awake=True
                ),
                found.id,
            )
        data = views.read(store, views.deployment_json, views.read(store, _reread, found.id))
        with store.read() as tx:
            owner = model_name(tx, found.model_id)
    name = f"{found.name} ({found.id}) of model {owner}"
    emit(data, f"Woke {name}: {data['status']}." if wait else f"Waking {name}.")


def _reread(tx: Tx, deployment_id: str) -> Deployment:
    found = tx.deployment(deployment_id)
    assert found is not None
    return found


def deactivate_command(
    deployment: DeploymentArg, model: ModelOpt = None, output: OutputOpt = Output.text
) -> None:
    """Deactivate a deployment: its replicas stop and its URLs answer 404.

    Example:

    \b
      brace deactivate deployment-1
    """
    from brace.services import deployments

    with open_store() as store:
        result = deployments.deactivate(store, deployment, model)
    emit({"success": True}, f"Deactivated {result.name} ({result.id}).")


def delete_command(
    deployment: DeploymentArg,
    model: ModelOpt = None,
    yes: YesOpt = False,
    output: OutputOpt = Output.text,
) -> None:
    """Delete a deployment for good (not an environment's current one).

    Asks first on a terminal; scripts (and -o json) pass --yes.

    Example:

    \b
      brace delete deployment-1 --yes
    """
    from brace.services import deployments

    with open_store() as store:
        target = deployments.find_deletable(store, deployment, model)
        with store.read() as tx:
            owner = tx.model(target.model_id)
        owner_name = owner.name if owner is not None else target.model_id
        confirm(f"deployment {target.name} ({target.id}) of model {owner_name}", yes)
        result = deployments.delete(store, target.id)
    emit(
        {"id": result.id, "deleted": True, "model_id": result.model_id},
        f"Deleted {result.name} ({result.id}).",
    )


def rename_command(
    deployment: DeploymentArg,
    new_name: Annotated[str, typer.Argument(help="The new name.")],
    model: ModelOpt = None,
    output: OutputOpt = Output.text,
) -> None:
    """Rename a published deployment.

    Example:

    \b
      brace rename deployment-3 v2-int8
    """
    from brace.services import deployments, views

    with open_store() as store:
        result = deployments.rename(store, deployment, new_name, model)
        data = views.read(store, views.deployment_json, result)
    emit(data, f"Renamed deployment {result.id} to {result.name}.")
