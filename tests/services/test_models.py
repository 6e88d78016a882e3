"""Deleting a model removes its deployments, environments, promotions and snapshots."""

from __future__ import annotations

from pathlib import Path

import pytest

from brace.errors import NotFoundError
from brace.services import environments, models
from brace.services.push import push
from brace.services.snapshots import snapshot_path
from brace.store import Store
from tests.conftest import MakeTruss
from tests.services.conftest import become_active, enable_rolling


def test_delete_removes_everything(
    store: Store, home: Path, truss_dir: Path, make_truss: MakeTruss
) -> None:
    push(store, truss_dir)
    first = become_active(store, push(store, truss_dir, promote=True).deployment.id)
    environments.create(store, "staging")
    enable_rolling(store)
    rolling = push(store, truss_dir, promote=True)
    assert rolling.promotion is not None and not rolling.promotion.status.finished
    other = push(store, make_truss("other"), publish=True).deployment
    assert first.snapshot is not None and other.snapshot is not None

    deleted = models.delete(store, "hello")

    assert deleted.name == "hello"
    with store.read() as tx:
        assert [m.name for m in tx.models()] == ["other"]
        assert tx.deployments(deleted.id) == []
        assert tx.environments(deleted.id) == []
        assert tx.latest_promotion(deleted.id, "production") is None
        assert tx.active_promotions() == []
        assert [d.id for d in tx.deployments()] == [other.id]
    assert not snapshot_path(home, first.snapshot).exists()
    assert snapshot_path(home, other.snapshot).is_dir()


def test_delete_by_id(store: Store, truss_dir: Path) -> None:
    created = push(store, truss_dir).model

    assert models.delete(store, created.id) == created
    with store.read() as tx:
        assert tx.models() == []


def test_delete_missing_model_is_not_found(store: Store, truss_dir: Path) -> None:
    push(store, truss_dir)

    with pytest.raises(NotFoundError) as caught:
        models.delete(store, "nope")

    assert caught.value.message == "no model named 'nope'"


def test_model_can_be_pushed_again_after_delete(store: Store, truss_dir: Path) -> None:
    push(store, truss_dir, publish=True)
    models.delete(store, "hello")

    again = push(store, truss_dir, publish=True)

    assert again.model_created
    assert again.deployment.name == "deployment-1"
