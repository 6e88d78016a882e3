"""Published deployments are snapshots: copied once per content, removed when unused."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from brace.errors import BraceError, NotFoundError, RefusedError
from brace.services import deployments
from brace.services.promote import promote
from brace.services.push import push
from brace.services.snapshots import MANIFEST, SNAPSHOTS, discard, retire_unused, snapshot_path
from brace.store import Deployment, Store
from tests.conftest import ECHO_MODEL, MakeTruss
from tests.services.conftest import become_active, enable_rolling

EDITED_MODEL = ECHO_MODEL.replace('{"echo": model_input}', '{"edited": model_input}')


def snapshot_of(home: Path, published: Deployment) -> Path:
    assert published.snapshot is not None
    return snapshot_path(home, published.snapshot)


def snapshot_dirs(home: Path) -> set[str]:
    root = home / SNAPSHOTS
    return {p.name for p in root.iterdir()} if root.is_dir() else set()


def test_published_deployment_is_a_copy(store: Store, home: Path, truss_dir: Path) -> None:
    published = push(store, truss_dir, publish=True).deployment

    (truss_dir / "model" / "model.py").write_text(EDITED_MODEL)

    copy = snapshot_of(home, published)
    assert copy.parent == home / "snapshots"
    assert (copy / "model" / "model.py").read_text() == ECHO_MODEL
    assert (copy / "config.yaml").read_text() == "model_name: hello\n"
    assert json.loads((copy / MANIFEST).read_text()) == {"external_package_dirs": {}}


def test_edited_code_gets_a_new_snapshot(store: Store, home: Path, truss_dir: Path) -> None:
    first = push(store, truss_dir, publish=True).deployment
    (truss_dir / "model" / "model.py").write_text(EDITED_MODEL)

    second = push(store, truss_dir, publish=True).deployment

    assert first.snapshot != second.snapshot
    assert (snapshot_of(home, second) / "model" / "model.py").read_text() == EDITED_MODEL
    assert (snapshot_of(home, first) / "model" / "model.py").read_text() == ECHO_MODEL


def test_identical_pushes_share_one_snapshot(store: Store, home: Path, truss_dir: Path) -> None:
    first = push(store, truss_dir, publish=True).deployment
    second = push(store, truss_dir, publish=True).deployment

    assert first.snapshot == second.snapshot
    assert snapshot_dirs(home) == {first.snapshot}


def test_promoting_development_snapshots_the_live_directory(
    store: Store, home: Path, truss_dir: Path
) -> None:
    push(store, truss_dir)
    (truss_dir / "model" / "model.py").write_text(EDITED_MODEL)

    promoted = promote(store, "development").deployment
    (truss_dir / "model" / "model.py").write_text("# edited after promotion\n")

    assert (snapshot_of(home, promoted) / "model" / "model.py").read_text() == EDITED_MODEL


def test_caches_and_bytecode_are_not_copied(
    store: Store, home: Path, make_truss: MakeTruss
) -> None:
    clean = push(store, make_truss("hello"), publish=True).deployment
    directory = make_truss(
        "hello",
        files={
            "model/__pycache__/model.cpython-311.pyc": "bytecode",
            "model/stray.pyc": "bytecode",
            ".git/HEAD": "ref: refs/heads/main",
            "data/weights.txt": "weights",
        },
    )

    published = push(store, directory, publish=True).deployment

    copy = snapshot_of(home, published)
    assert (copy / "data" / "weights.txt").read_text() == "weights"
    assert not (copy / "model" / "__pycache__").exists()
    assert not (copy / "model" / "stray.pyc").exists()
    assert not (copy / ".git").exists()
    assert not list(copy.rglob("*.pyc"))
    (directory / "data" / "weights.txt").unlink()
    (directory / "data").rmdir()
    again = push(store, directory, publish=True).deployment
    assert again.snapshot == clean.snapshot


def test_external_package_dirs_are_copied(
    store: Store, home: Path, make_truss: MakeTruss, tmp_path: Path
) -> None:
    shared = tmp_path / "shared-lib"
    (shared / "helpers").mkdir(parents=True)
    (shared / "helpers" / "__init__.py").write_text("VALUE = 1\n")
    directory = make_truss(
        "ext", config="model_name: ext\nexternal_package_dirs:\n  - ../../shared-lib\n"
    )

    published = push(store, directory, publish=True).deployment

    copy = snapshot_of(home, published)
    assert (copy / "__external__" / "0" / "helpers" / "__init__.py").read_text() == "VALUE = 1\n"
    assert json.loads((copy / MANIFEST).read_text()) == {
        "external_package_dirs": {"../../shared-lib": "__external__/0"}
    }
    (shared / "helpers" / "__init__.py").write_text("VALUE = 2\n")
    changed = push(store, directory, publish=True).deployment
    assert changed.snapshot != published.snapshot
    assert (copy / "__external__" / "0" / "helpers" / "__init__.py").read_text() == "VALUE = 1\n"


def test_deleting_the_last_user_removes_the_snapshot(
    store: Store, home: Path, truss_dir: Path
) -> None:
    published = push(store, truss_dir, publish=True).deployment
    assert snapshot_of(home, published).is_dir()

    deployments.delete(store, published.id)

    assert not snapshot_of(home, published).exists()
    assert snapshot_dirs(home) == set()


def test_retiring_renames_and_discarding_deletes(store: Store, home: Path, truss_dir: Path) -> None:
    """Inside the write transaction an unused snapshot is only renamed; the copy is
    deleted after the commit. A leftover of a process killed in between is collected."""
    published = push(store, truss_dir, publish=True).deployment
    assert published.snapshot is not None
    leftover = home / SNAPSHOTS / ".trash-0123-1-abcd"
    (leftover / "model").mkdir(parents=True)

    retired = retire_unused(home, set())

    assert not snapshot_of(home, published).exists()
    assert leftover in retired
    assert all(p.name.startswith(".trash-") and p.is_dir() for p in retired)
    discard(retired)
    assert snapshot_dirs(home) == set()


def test_retiring_keeps_snapshots_in_use(store: Store, home: Path, truss_dir: Path) -> None:
    published = push(store, truss_dir, publish=True).deployment
    assert published.snapshot is not None
    assert retire_unused(home, {published.snapshot}) == []
    assert snapshot_of(home, published).is_dir()


def test_shared_snapshot_survives_deleting_one_user(
    store: Store, home: Path, truss_dir: Path
) -> None:
    first = push(store, truss_dir, publish=True).deployment
    second = push(store, truss_dir, publish=True).deployment

    deployments.delete(store, first.id)

    assert (snapshot_of(home, second) / "model" / "model.py").read_text() == ECHO_MODEL
    deployments.delete(store, second.id)
    assert snapshot_dirs(home) == set()


def test_deleting_development_keeps_published_snapshots(
    store: Store, home: Path, truss_dir: Path
) -> None:
    push(store, truss_dir)
    published = push(store, truss_dir, publish=True).deployment

    deployments.delete(store, "development")

    assert snapshot_dirs(home) == {published.snapshot}


@pytest.mark.parametrize(
    ("refused", "error"),
    [
        pytest.param(
            lambda store, d: push(store, d, publish=True, deployment_name="v1"),
            RefusedError,
            id="duplicate-name",
        ),
        pytest.param(
            lambda store, d: push(store, d, environment="staging"),
            NotFoundError,
            id="missing-environment",
        ),
        pytest.param(
            lambda store, d: push(store, d, promote=True),
            RefusedError,
            id="push-during-promotion",
        ),
        pytest.param(
            lambda store, d: promote(store, "development"),
            RefusedError,
            id="promote-during-promotion",
        ),
    ],
)
def test_refused_publish_leaves_no_snapshot(
    store: Store,
    home: Path,
    truss_dir: Path,
    refused: Callable[[Store, Path], object],
    error: type[BraceError],
) -> None:
    push(store, truss_dir)
    kept = push(store, truss_dir, promote=True, deployment_name="v1").deployment
    become_active(store, kept.id)
    enable_rolling(store)
    push(store, truss_dir, promote=True)
    (truss_dir / "model" / "model.py").write_text(EDITED_MODEL)

    with pytest.raises(error):
        refused(store, truss_dir)

    assert snapshot_dirs(home) == {kept.snapshot}
