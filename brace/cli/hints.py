"""What to do next, worded for the command line.

A refusal from `brace.services` carries its kind (`code`) and the facts; the CLI says
what to do with flags and commands, the management API answers the code and facts as
JSON (`brace.server.api.errors`). A hint a service gave itself (front-end neutral) is
kept.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from brace.errors import BraceError

Facts = Mapping[str, str]


def _model(facts: Facts) -> str:
    """` -m MODEL` when the facts name the model: a hint runs as printed even when
    there are several models and the command runs outside the model's folder."""
    return f" -m {facts['model']}" if "model" in facts else ""


HINTS: dict[str, Callable[[Facts], str]] = {
    "NO_MODELS": lambda f: "Push one with `brace push DIR`.",
    "MODEL_NOT_FOUND": lambda f: (
        f"Models: {f['models']}."
        if f.get("models")
        else "There are no models yet; push one with `brace push DIR`."
    ),
    "MODEL_AMBIGUOUS": lambda f: f"Pass -m MODEL, one of: {f['models']}.",
    "DEPLOYMENT_AMBIGUOUS": lambda f: f"Pass -m MODEL, one of: {f['models']}.",
    "DEPLOYMENT_NOT_FOUND": lambda f: "List them with `brace deployments list`.",
    "SECRET_NOT_FOUND": lambda f: "List them with `brace secrets list`.",
    "ENVIRONMENT_NOT_FOUND": lambda f: (
        f"Environments: {f['environments']}. "
        f"Create one with `brace environments create {f['environment']} -m {f['model']}`."
    ),
    "ENVIRONMENT_EXISTS": lambda f: (
        f"Change its settings with `brace environments update {f['environment']} "
        f"-m {f['model']}`, or choose another name."
    ),
    "NO_DEVELOPMENT": lambda f: "Create it with `brace push DIR`.",
    "PRODUCTION_PENDING": lambda f: (
        "It becomes production once it is ACTIVE; follow it with "
        f"`brace rollout status -m {f['model']}`."
    ),
    "NO_PRODUCTION": lambda f: (
        f"Promote one with `brace promote DEPLOYMENT -m {f['model']}` "
        "or `brace push DIR --promote`."
    ),
    "PROMOTION_IN_PROGRESS": lambda f: (
        "Wait for it to finish, or stop it with "
        f"`brace rollout cancel -m {f['model']} -e {f['environment']}`."
    ),
    "DEPLOYMENT_INACTIVE": lambda f: (
        f"Activate it first: `brace activate {f['deployment']}`, then promote it once it is up."
    ),
    "CANNOT_WAKE": lambda f: (
        f"Activate it instead: `brace activate {f['deployment']}`."
        if f["status"] in ("INACTIVE", "DEACTIVATING")
        else f"See why in its log: `brace logs {f['deployment']}`; push or activate it again."
    ),
    "NO_PROMOTION": lambda f: (
        f"See the last one with `brace rollout status -m {f['model']} -e {f['environment']}`."
    ),
    "NOT_ROLLING": lambda f: (
        "Enable rolling deployments on the environment (`brace environments update "
        f"{f.get('environment', 'ENV')}{_model(f)} --rolling-deploy`) before promoting."
    ),
    "DEVELOPMENT_REPLICAS": lambda f: (
        "Publish the model (`brace push DIR --publish`) to choose its replica counts."
    ),
    "NO_MODEL_NAME": lambda f: "Set model_name in config.yaml, or pass --model-name NAME.",
    "IN_PROMOTION": lambda f: (
        f"Cancel it first: `brace rollout cancel -m {f['model']} -e {f['environment']}`."
    ),
    "CURRENT_DEPLOYMENT": lambda f: (
        f"Promote another deployment to {f['environment']} first "
        f"(`brace promote DEPLOYMENT -m {f['model']} --environment {f['environment']}`), "
        f"or delete the whole model (`brace models delete {f['model']}`)."
    ),
    "RENAME_DEVELOPMENT": lambda f: (
        "Publish it (`brace push DIR --publish --deployment-name NAME`) to name a version."
    ),
    "ENVIRONMENT_PENDING": lambda f: (
        "It serves once it is ACTIVE; follow it with "
        f"`brace rollout status -m {f['model']} -e {f['environment']}`."
    ),
    "NO_ENVIRONMENT_DEPLOYMENT": lambda f: (
        f"Promote one: `brace promote DEPLOYMENT -m {f['model']} -e {f['environment']}`."
    ),
    "SURGE_OR_UNAVAILABLE": lambda f: (
        "Set only the one you use (the other becomes 0), e.g. --max-unavailable-percent 20."
    ),
    "DELETE_PRODUCTION": lambda f: (
        f"Delete the whole model with `brace models delete {f['model']}` instead."
    ),
}


def hint_for(error: BraceError) -> str | None:
    """The error's own hint, else the command line's for its kind, else None."""
    if error.hint:
        return error.hint
    wording = HINTS.get(error.code)
    return wording(error.facts) if wording else None
