"""The management API in process: the real app, a real store, Starlette's test client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from starlette.testclient import TestClient

from brace.server.api.schemas import SCHEMAS
from brace.server.app import internal_app
from brace.server.storeworker import StoreWorker
from brace.store import Store
from tests.services.conftest import production, truss_dir  # noqa: F401  (fixtures)

KEY = "test-key-0123456789"
AUTH = {"Authorization": f"Api-Key {KEY}"}


@pytest.fixture
def api(home: Path, store: Store) -> Iterator[TestClient]:
    """A client that sends the key; `store` is open on the same home for the setup."""
    worker = StoreWorker(home)
    try:
        with TestClient(internal_app("test-server", KEY, worker), headers=AUTH) as client:
            yield client
    finally:
        worker.close()


def conforms(data: Any, schema: str) -> None:
    """Fail unless `data` matches the spec's component schema `schema`."""
    document = {"$ref": f"#/components/schemas/{schema}", "components": {"schemas": SCHEMAS}}
    errors = sorted(Draft202012Validator(document).iter_errors(data), key=str)
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)
