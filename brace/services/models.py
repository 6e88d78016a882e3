"""Models as a whole: list, show, delete (with every deployment and environment)."""

from __future__ import annotations

from brace.services.lookup import find_model
from brace.services.snapshots import discard, retire_unused
from brace.store import Model, Store


def delete(store: Store, ref: str) -> Model:
    with store.transaction() as tx:
        model = find_model(tx, ref)
        tx.delete_model(model.id)
        retired = retire_unused(store.home, tx.snapshots_in_use())
    discard(retired)
    return model
