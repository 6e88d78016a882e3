"""`brace models list | show | delete`."""

from __future__ import annotations

from typing import Annotated

import typer

from brace.cli import render
from brace.cli.common import Output, OutputOpt, YesOpt, confirm, emit, open_store

app = typer.Typer(help="Models: each owns its deployments and environments.", no_args_is_help=True)

ModelArg = Annotated[str, typer.Argument(help="Model name or id.")]


@app.command("list")
def list_models(output: OutputOpt = Output.text) -> None:
    """List models.

    Example:

    \b
      brace models list -o json
    """
    from brace.services import views

    with open_store() as store, store.read() as tx:
        data = {"models": views.models_json(tx, tx.models())}
    emit(data, lambda: render.models(data["models"]))


@app.command("show")
def show(model: ModelArg, output: OutputOpt = Output.text) -> None:
    """Show one model.

    Example:

    \b
      brace models show hello
    """
    from brace.services import views
    from brace.services.lookup import find_model

    with open_store() as store, store.read() as tx:
        data = views.model_json(tx, find_model(tx, model))
    emit(data, lambda: render.model(data))


@app.command("delete")
def delete(model: ModelArg, yes: YesOpt = False, output: OutputOpt = Output.text) -> None:
    """Delete a model with all its deployments and environments.

    Asks first on a terminal; scripts (and -o json) pass --yes.

    Example:

    \b
      brace models delete hello --yes
    """
    from brace.services import models as model_service
    from brace.services.lookup import find_model

    with open_store() as store:
        with store.read() as tx:
            target = find_model(tx, model)
            count = len(tx.deployments(target.id))
        confirm(f"model {target.name} ({target.id}) and its {count} deployment(s)", yes)
        result = model_service.delete(store, target.id)
    emit({"id": result.id, "deleted": True}, f"Deleted model {result.name} ({result.id}).")
