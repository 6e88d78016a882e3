"""Finding models and deployments by what users type: ids, names, development, production."""

from __future__ import annotations

from pathlib import Path

import pytest

from brace.cli.hints import hint_for
from brace.errors import NotFoundError, UsageError
from brace.services.lookup import find_deployment, find_model
from brace.services.push import push
from brace.store import Deployment, Model, Store
from tests.conftest import MakeTruss
from tests.services.conftest import become_active


@pytest.fixture
def pushed(store: Store, truss_dir: Path) -> dict[str, Deployment]:
    """`hello` with a development deployment, deployment-1 (production) and deployment-2."""
    return {
        "development": push(store, truss_dir).deployment,
        "deployment-1": become_active(store, push(store, truss_dir, promote=True).deployment.id),
        "deployment-2": push(store, truss_dir, publish=True).deployment,
    }


def lookup(store: Store, ref: str, model_ref: str | None = None) -> Deployment:
    with store.read() as tx:
        return find_deployment(tx, ref, model_ref)


def model(store: Store, ref: str | None) -> Model:
    with store.read() as tx:
        return find_model(tx, ref)


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        pytest.param("development", "development", id="development"),
        pytest.param("production", "deployment-1", id="production"),
        pytest.param("deployment-2", "deployment-2", id="by-name"),
    ],
)
def test_deployment_by_name(
    store: Store, pushed: dict[str, Deployment], ref: str, expected: str
) -> None:
    assert lookup(store, ref) == pushed[expected]
    assert lookup(store, ref, "hello") == pushed[expected]


def test_deployment_by_id(store: Store, pushed: dict[str, Deployment]) -> None:
    for expected in pushed.values():
        assert lookup(store, expected.id) == expected
        assert lookup(store, expected.id, expected.model_id) == expected


def test_missing_deployment_is_not_found(store: Store, pushed: dict[str, Deployment]) -> None:
    with pytest.raises(NotFoundError) as caught:
        lookup(store, "deployment-7", "hello")

    assert caught.value.message == "no deployment 'deployment-7' in model 'hello'"
    assert hint_for(caught.value) == "List them with `brace deployments list`."


def test_id_of_another_models_deployment_is_not_found(
    store: Store, pushed: dict[str, Deployment], make_truss: MakeTruss
) -> None:
    push(store, make_truss("other"))

    with pytest.raises(NotFoundError):
        lookup(store, pushed["deployment-2"].id, "other")


def test_production_without_a_current_deployment_is_not_found(
    store: Store, truss_dir: Path
) -> None:
    push(store, truss_dir)

    with pytest.raises(NotFoundError) as caught:
        lookup(store, "production")

    assert caught.value.message == "model 'hello' has no production deployment"
    assert hint_for(caught.value) is not None
    assert "brace promote" in hint_for(caught.value)


def test_development_without_one_is_not_found(store: Store, truss_dir: Path) -> None:
    push(store, truss_dir, publish=True)

    with pytest.raises(NotFoundError) as caught:
        lookup(store, "development")

    assert caught.value.message == "model 'hello' has no development deployment"
    assert hint_for(caught.value) == "Create it with `brace push DIR`."


def test_name_shared_by_two_models_needs_a_model(store: Store, make_truss: MakeTruss) -> None:
    one = push(store, make_truss("one"), publish=True).deployment
    two = push(store, make_truss("two"), publish=True).deployment

    with pytest.raises(UsageError) as caught:
        lookup(store, "deployment-1")

    assert caught.value.message == "several models have a deployment named 'deployment-1'"
    assert hint_for(caught.value) == "Pass -m MODEL, one of: one, two."
    assert lookup(store, "deployment-1", "one") == one
    assert lookup(store, "deployment-1", "two") == two


def test_no_model_is_not_found(store: Store) -> None:
    with pytest.raises(NotFoundError) as caught:
        model(store, None)

    assert caught.value.message == "there are no models yet"
    with pytest.raises(NotFoundError):
        lookup(store, "development")


def test_several_models_need_a_choice(store: Store, make_truss: MakeTruss) -> None:
    push(store, make_truss("one"))
    push(store, make_truss("two"))

    with pytest.raises(UsageError) as caught:
        model(store, None)

    assert caught.value.message == "there are several models; say which one"
    assert hint_for(caught.value) == "Pass -m MODEL, one of: one, two."
    with pytest.raises(UsageError):
        lookup(store, "development")


def test_model_by_name_or_id(store: Store, truss_dir: Path) -> None:
    created = push(store, truss_dir).model

    assert model(store, None) == created
    assert model(store, "hello") == created
    assert model(store, created.id) == created


def test_unknown_model_lists_the_known_ones(store: Store, truss_dir: Path) -> None:
    push(store, truss_dir)

    with pytest.raises(NotFoundError) as caught:
        model(store, "nope")

    assert caught.value.message == "no model named 'nope'"
    assert hint_for(caught.value) == "Models: hello."
