"""Waking a deployment: what `brace wake` may ask the gateway's wake path for.

Baseten's documentation says to wake a deployment that scaled to zero before
promoting it, so the promotion does not wait for a cold start; the wake itself is the
gateway's `.../wake` path (202, one replica starts), which the CLI calls. Only a
deployment the controller runs can wake: an inactive one is activated instead, and
one that failed stays failed until it is pushed again or activated.
"""

from __future__ import annotations

from brace.errors import RefusedError
from brace.services.lookup import find_deployment, model_name
from brace.store import Deployment, Store


def find_wakeable(store: Store, ref: str, model_ref: str | None = None) -> Deployment:
    """The deployment `ref` names, or RefusedError (CANNOT_WAKE) when it is inactive or
    failed: facts `model`, `deployment` (its id) and `status`."""
    with store.read() as tx:
        deployment = find_deployment(tx, ref, model_ref)
        owner = model_name(tx, deployment.model_id)
    status = deployment.status
    if status.inactive or status.failed:
        raise RefusedError(
            f"deployment {deployment.name} ({deployment.id}) is {status.value} and cannot wake",
            code="CANNOT_WAKE",
            facts={"model": owner, "deployment": deployment.id, "status": status.value},
        )
    return deployment
