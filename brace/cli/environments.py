"""`brace environments list | show | create | update | delete`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from brace.cli import render
from brace.cli.common import ModelOpt, Output, OutputOpt, YesOpt, confirm, emit, open_store
from brace.ranges import allowed
from brace.store.statuses import CleanupStrategy

if TYPE_CHECKING:
    from brace.cli.render import PromotionFacts
    from brace.store import Environment, Tx

app = typer.Typer(
    help="Environments (production, staging, ...) and their promotion settings.",
    no_args_is_help=True,
)

EnvironmentArg = Annotated[str, typer.Argument(help="Environment name.")]


def environment_view(tx: Tx, environment: Environment) -> tuple[dict[str, Any], PromotionFacts]:
    """The API's environment object, and what its text view adds (names, pending action)."""
    import time

    from brace.rollout.view import rollout_view
    from brace.services import views

    model = tx.model(environment.model_id)
    promotion = tx.latest_promotion(environment.model_id, environment.name)
    candidate = tx.deployment(promotion.candidate_id) if promotion is not None else None
    previous = (
        tx.deployment(promotion.previous_id)
        if promotion is not None and promotion.previous_id is not None
        else None
    )
    facts = render.PromotionFacts(
        model_name=model.name if model is not None else environment.model_id,
        candidate=f"{candidate.name} ({candidate.id})" if candidate is not None else None,
        pending=promotion.requested_action.value
        if promotion is not None and promotion.requested_action is not None
        else None,
        rollout=rollout_view(promotion, time.time()) if promotion is not None else None,
        previous_ready=previous.active_replica_count if previous is not None else 0,
        candidate_ready=candidate.active_replica_count if candidate is not None else 0,
    )
    return views.environment_json(tx, environment), facts


@app.command("list")
def list_environments(model: ModelOpt = None, output: OutputOpt = Output.text) -> None:
    """List a model's environments.

    Example:

    \b
      brace environments list -m hello
    """
    from brace.services import views
    from brace.services.lookup import find_model

    with open_store() as store, store.read() as tx:
        found = find_model(tx, model)
        data = {"environments": [views.environment_json(tx, e) for e in tx.environments(found.id)]}
    emit(data, lambda: render.environments(data["environments"]))


@app.command("show")
def show(name: EnvironmentArg, model: ModelOpt = None, output: OutputOpt = Output.text) -> None:
    """Show an environment: its current deployment, promotion and settings.

    Example:

    \b
      brace environments show production -m hello
    """
    from brace.services.lookup import find_environment, find_model

    with open_store() as store, store.read() as tx:
        data, facts = environment_view(tx, find_environment(tx, find_model(tx, model), name))
    emit(data, lambda: render.environment(data, facts))


RollingDeployOpt = Annotated[
    bool | None,
    typer.Option("--rolling-deploy/--no-rolling-deploy", help="Promote with a rolling deployment."),
]
MaxSurgeOpt = Annotated[
    int | None,
    typer.Option(
        help=f"Surge mode: extra replicas per step, {allowed('max_surge_percent')} %. "
        "A non-zero value alone sets --max-unavailable-percent to 0."
    ),
]
MaxUnavailableOpt = Annotated[
    int | None,
    typer.Option(
        help="Unavailable mode: replicas replaced per step, "
        f"{allowed('max_unavailable_percent')} %. A non-zero value alone sets "
        "--max-surge-percent to 0."
    ),
]
StabilizationOpt = Annotated[
    int | None,
    typer.Option(help=f"Wait after each traffic shift, {allowed('stabilization_time_seconds')} s."),
]
OverheadOpt = Annotated[
    int | None,
    typer.Option(
        help="Extra replicas for the current deployment before the rollout, "
        f"{allowed('replica_overhead_percent')} %."
    ),
]
CleanupOpt = Annotated[
    CleanupStrategy | None,
    typer.Option(help="What happens to the previous deployment after a rollout."),
]
RollbackOpt = Annotated[
    bool | None,
    typer.Option(
        "--automatic-rollback/--no-automatic-rollback",
        help="Fail a rolling promotion whose candidate errs (brace's extension).",
    ),
]
RollbackErrorRateOpt = Annotated[
    int | None,
    typer.Option(
        help="Automatic rollback: the candidate's 5xx share that fails it, "
        f"{allowed('max_error_rate_percent')} %."
    ),
]
RollbackMinRequestsOpt = Annotated[
    int | None,
    typer.Option(
        help="Automatic rollback: requests seen in a step before judging it, "
        f"{allowed('min_requests')}."
    ),
]
RollbackP99RatioOpt = Annotated[
    float | None,
    typer.Option(
        help="Automatic rollback: the candidate's p99 latency over the previous "
        f"deployment's that fails it, {allowed('max_p99_latency_ratio')}."
    ),
]


def _promotion_settings(
    rolling_deploy: bool | None,
    max_surge_percent: int | None,
    max_unavailable_percent: int | None,
    stabilization_time_seconds: int | None,
    replica_overhead_percent: int | None,
    cleanup_strategy: CleanupStrategy | None,
    automatic_rollback: bool | None,
    rollback_max_error_rate: int | None,
    rollback_min_requests: int | None,
    rollback_max_p99_ratio: float | None,
) -> dict[str, Any]:
    """The options given, as a partial `promotion_settings` body (the API's nesting)."""
    rolling: dict[str, Any] = {
        "max_surge_percent": max_surge_percent,
        "max_unavailable_percent": max_unavailable_percent,
        "stabilization_time_seconds": stabilization_time_seconds,
        "replica_overhead_percent": replica_overhead_percent,
    }
    rollback = {
        key: value
        for key, value in {
            "enabled": automatic_rollback,
            "max_error_rate_percent": rollback_max_error_rate,
            "min_requests": rollback_min_requests,
            "max_p99_latency_ratio": rollback_max_p99_ratio,
        }.items()
        if value is not None
    }
    return {
        "rolling_deploy": rolling_deploy,
        "promotion_cleanup_strategy": cleanup_strategy,
        "rolling_deploy_config": rolling if any(v is not None for v in rolling.values()) else None,
        "automatic_rollback": rollback or None,
    }


@app.command("create")
def create(
    name: EnvironmentArg,
    model: ModelOpt = None,
    rolling_deploy: RollingDeployOpt = None,
    max_surge_percent: MaxSurgeOpt = None,
    max_unavailable_percent: MaxUnavailableOpt = None,
    stabilization_time_seconds: StabilizationOpt = None,
    replica_overhead_percent: OverheadOpt = None,
    cleanup_strategy: CleanupOpt = None,
    automatic_rollback: RollbackOpt = None,
    rollback_max_error_rate: RollbackErrorRateOpt = None,
    rollback_min_requests: RollbackMinRequestsOpt = None,
    rollback_max_p99_ratio: RollbackP99RatioOpt = None,
    output: OutputOpt = Output.text,
) -> None:
    """Create an environment (it has no deployment until one is promoted to it).

    It takes the promotion settings `environments update` takes; the others keep
    their defaults.

    Example:

    \b
      brace environments create staging -m hello
      brace environments create canary --rolling-deploy --max-unavailable-percent 20
    """
    from brace.services import environments, views

    settings = _promotion_settings(
        rolling_deploy,
        max_surge_percent,
        max_unavailable_percent,
        stabilization_time_seconds,
        replica_overhead_percent,
        cleanup_strategy,
        automatic_rollback,
        rollback_max_error_rate,
        rollback_min_requests,
        rollback_max_p99_ratio,
    )
    with open_store() as store:
        result = environments.create(store, name, model, promotion_settings=settings)
        data = views.read(store, views.environment_json, result)
    emit(data, f"Created environment {result.name}.")


@app.command("update")
def update(
    name: EnvironmentArg,
    model: ModelOpt = None,
    rolling_deploy: RollingDeployOpt = None,
    max_surge_percent: MaxSurgeOpt = None,
    max_unavailable_percent: MaxUnavailableOpt = None,
    stabilization_time_seconds: StabilizationOpt = None,
    replica_overhead_percent: OverheadOpt = None,
    cleanup_strategy: CleanupOpt = None,
    automatic_rollback: RollbackOpt = None,
    rollback_max_error_rate: RollbackErrorRateOpt = None,
    rollback_min_requests: RollbackMinRequestsOpt = None,
    rollback_max_p99_ratio: RollbackP99RatioOpt = None,
    output: OutputOpt = Output.text,
) -> None:
    """Change an environment's promotion settings (only the ones given).

    Exactly one of --max-surge-percent and --max-unavailable-percent is non-zero;
    setting one of them non-zero alone sets the other to 0 (switching modes).

    Example:

    \b
      brace environments update production --rolling-deploy --max-surge-percent 25
    """
    from brace.services import environments

    settings = _promotion_settings(
        rolling_deploy,
        max_surge_percent,
        max_unavailable_percent,
        stabilization_time_seconds,
        replica_overhead_percent,
        cleanup_strategy,
        automatic_rollback,
        rollback_max_error_rate,
        rollback_min_requests,
        rollback_max_p99_ratio,
    )
    with open_store() as store:
        result, changed = environments.update(store, name, model, promotion_settings=settings)
    message = (
        f"Settings of environment {result.name} updated."
        if changed
        else f"Settings of environment {result.name} are unchanged."
    )
    emit({"status": "ACCEPTED" if changed else "UNCHANGED", "message": message}, message)


@app.command("delete")
def delete(
    name: EnvironmentArg,
    model: ModelOpt = None,
    yes: YesOpt = False,
    output: OutputOpt = Output.text,
) -> None:
    """Delete an environment (not production). Its deployments stay.

    Asks first on a terminal; scripts (and -o json) pass --yes.

    Example:

    \b
      brace environments delete staging -m hello --yes
    """
    from brace.services import environments

    with open_store() as store:
        target = environments.find_deletable(store, name, model)
        with store.read() as tx:
            owner = tx.model(target.model_id)
        owner_name = owner.name if owner is not None else target.model_id
        confirm(f"environment {target.name} of model {owner_name}", yes)
        result = environments.delete(store, target.name, target.model_id)
    emit(
        {"name": result.name, "model_id": result.model_id, "deleted": True},
        f"Deleted environment {result.name}.",
    )
