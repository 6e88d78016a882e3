"""Published deployments are snapshots: copied once per content, removed when unused."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from brace.config import load_truss
from brace.errors import BraceError, ConfigError, NotFoundError, RefusedError
from brace.processes import process_started
from brace.services import deployments
from brace.services.promote import promote
from brace.services.push import push
from brace.services.snapshots import (
    MANIFEST,
    SNAPSHOTS,
    STAGING,
    discard,
    is_stale,
    retire_unused,
    snapshot_path,
    staging_owner,
    take_snapshot,
)
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


# Reading the model directory safely (docs/security.md, "Publishing reads safely")


def test_a_symlinked_folder_inside_is_published(store: Store, home: Path, truss_dir: Path) -> None:
    (truss_dir / "weights" / "v2").mkdir(parents=True)
    (truss_dir / "weights" / "v2" / "w.txt").write_text("weights v2")
    (truss_dir / "data").symlink_to("weights/v2")
    (truss_dir / "model" / "alias.py").symlink_to("model.py")

    copy = snapshot_of(home, push(store, truss_dir, publish=True).deployment)

    assert (copy / "data" / "w.txt").read_text() == "weights v2"
    assert not (copy / "data").is_symlink()
    assert (copy / "model" / "alias.py").read_text() == ECHO_MODEL
    assert not (copy / "model" / "alias.py").is_symlink()


def test_a_link_out_of_the_model_directory_is_refused(
    store: Store, home: Path, truss_dir: Path, tmp_path: Path
) -> None:
    private = tmp_path / "shadow"
    private.write_text("root:$6$not-for-a-snapshot")
    (truss_dir / "data").mkdir()
    (truss_dir / "data" / "users").symlink_to(private)

    with pytest.raises(ConfigError) as caught:
        push(store, truss_dir, publish=True)

    link = truss_dir / "data" / "users"
    assert caught.value.message == f"{link}: a symlink to {private}, outside {truss_dir}"
    assert snapshot_dirs(home) == set()
    with store.read() as tx:
        assert tx.models() == []


def test_a_large_file_is_hashed_and_copied_in_bounded_memory(
    home: Path, truss_dir: Path, tmp_path: Path
) -> None:
    """Publishing a 128 MiB data file must not hold it in memory (it used to need the
    whole file, plus its copy, in RAM). Measured in a fresh process: peak RSS growth."""
    size = 128 * 1024 * 1024
    (truss_dir / "data").mkdir()
    with open(truss_dir / "data" / "weights.bin", "wb") as file:
        file.truncate(size)  # sparse: instant to make, still read byte by byte
    script = (
        "import resource, sys\n"
        "from pathlib import Path\n"
        "from brace.config import load_truss\n"
        "from brace.services.snapshots import take_snapshot\n"
        "truss = load_truss(sys.argv[1])\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "take_snapshot(Path(sys.argv[2]), truss)\n"
        "after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "print(after - before)\n"
    )
    home.mkdir()
    done = subprocess.run(
        [sys.executable, "-c", script, str(truss_dir), str(home)],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 0, done.stderr
    growth_kib = int(done.stdout)
    assert growth_kib < 32 * 1024, f"peak RSS grew by {growth_kib} KiB"
    (copy,) = (home / SNAPSHOTS).iterdir()
    assert (copy / "data" / "weights.bin").stat().st_size == size


# Staging left by a publish that was killed


def test_staging_left_by_a_killed_publish_is_removed_by_the_next(
    home: Path, truss_dir: Path, tmp_path: Path
) -> None:
    (truss_dir / "data").mkdir()
    with open(truss_dir / "data" / "weights.bin", "wb") as file:
        file.truncate(512 * 1024 * 1024)
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from brace.config import load_truss\n"
        "from brace.services.snapshots import take_snapshot\n"
        "take_snapshot(Path(sys.argv[2]), load_truss(sys.argv[1]))\n"
    )
    home.mkdir()
    root = home / SNAPSHOTS
    publisher = subprocess.Popen([sys.executable, "-c", script, str(truss_dir), str(home)])
    try:
        deadline = time.monotonic() + 30
        while not (root.is_dir() and any(root.iterdir())):
            assert publisher.poll() is None, "the publish ended before it could be killed"
            assert time.monotonic() < deadline, "no staging directory appeared"
            time.sleep(0.002)
        publisher.kill()  # SIGKILL, mid-copy
    finally:
        publisher.kill()
        publisher.wait()
    (left,) = root.iterdir()
    assert left.name.startswith(STAGING)
    (truss_dir / "data" / "weights.bin").unlink()

    taken = take_snapshot(home, load_truss(truss_dir))

    assert snapshot_dirs(home) == {taken}


def test_staging_of_a_running_publish_is_left_alone(
    store: Store, home: Path, truss_dir: Path
) -> None:
    """Concurrent publishes share the snapshots folder: only a gone process's staging
    is removed, never one that is still copying."""
    root = home / SNAPSHOTS
    root.mkdir(parents=True)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        started = process_started(sleeper.pid)
        running = root / f"{STAGING}{sleeper.pid}-{round(started * 1000)}-abc123"
        running.mkdir()
        gone = subprocess.run(
            [sys.executable, "-c", "import os; print(os.getpid())"],
            capture_output=True,
            text=True,
            check=True,
        )
        dead = root / f"{STAGING}{int(gone.stdout)}-{round(time.time() * 1000)}-def456"
        dead.mkdir()
        (dead / "half-copied.bin").write_text("x")

        published = push(store, truss_dir, publish=True).deployment

        assert snapshot_dirs(home) == {published.snapshot, running.name}
    finally:
        sleeper.kill()
        sleeper.wait()


@pytest.mark.parametrize(
    ("name", "age", "alive", "stale"),
    [
        pytest.param(".staging-123-1700000000000-x1", 0, True, False, id="running"),
        pytest.param(".staging-123-1700000000000-x1", 0, False, True, id="gone"),
        pytest.param(".staging-abc123", 3600, True, False, id="legacy-recent"),
        pytest.param(".staging-abc123", 2 * 86400, True, True, id="legacy-old"),
        pytest.param(".staging-12-x-y", 2 * 86400, False, True, id="unparsable-old"),
    ],
)
def test_is_stale(name: str, age: float, alive: bool, stale: bool) -> None:
    assert is_stale(name, age, lambda pid, started: alive) is stale


def test_staging_owner() -> None:
    assert staging_owner(".staging-123-1700000000123-x_Y9") == (123, 1700000000.123)
    assert staging_owner(".staging-x9a8b7") is None
    assert staging_owner("0123456789abcdef01234567") is None
