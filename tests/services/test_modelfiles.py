"""Which files a snapshot holds: the rule for each kind of entry, and the walk on real files."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path

import pytest

from brace.errors import ConfigError
from brace.files import EntryKind
from brace.services.modelfiles import Facts, Verdict, decide, ignored, model_files

LINK = EntryKind.SYMLINK


@pytest.mark.parametrize(
    ("facts", "verdict"),
    [
        pytest.param(Facts(EntryKind.FILE), Verdict.FILE, id="file"),
        pytest.param(Facts(EntryKind.DIRECTORY), Verdict.DIRECTORY, id="directory"),
        pytest.param(Facts(EntryKind.FIFO), Verdict.SPECIAL, id="fifo"),
        pytest.param(Facts(EntryKind.SOCKET), Verdict.SPECIAL, id="socket"),
        pytest.param(Facts(EntryKind.CHARACTER_DEVICE), Verdict.SPECIAL, id="device"),
        pytest.param(Facts(LINK, EntryKind.FILE), Verdict.FILE, id="link-to-file-inside"),
        pytest.param(Facts(LINK, EntryKind.DIRECTORY), Verdict.DIRECTORY, id="link-to-dir-inside"),
        pytest.param(
            Facts(LINK, EntryKind.DIRECTORY, ancestor=True), Verdict.LOOP, id="link-to-an-ancestor"
        ),
        pytest.param(Facts(LINK, EntryKind.FIFO), Verdict.SPECIAL, id="link-to-fifo-inside"),
        pytest.param(Facts(LINK, EntryKind.FILE, inside=False), Verdict.OUTSIDE, id="link-out"),
        pytest.param(
            Facts(LINK, EntryKind.CHARACTER_DEVICE, inside=False), Verdict.OUTSIDE, id="link-to-dev"
        ),
        pytest.param(Facts(LINK, None), Verdict.SKIP, id="dangling"),
        pytest.param(Facts(LINK, None, inside=False), Verdict.SKIP, id="dangling-out"),
        pytest.param(Facts(LINK, looped=True), Verdict.LOOP, id="loop"),
    ],
)
def test_decide(facts: Facts, verdict: Verdict) -> None:
    assert decide(facts) is verdict


@pytest.mark.parametrize(
    ("name", "facts", "skipped"),
    [
        pytest.param(".git", Facts(EntryKind.DIRECTORY), True, id="vcs"),
        pytest.param(".venv", Facts(LINK, EntryKind.DIRECTORY, inside=False), True, id="venv-link"),
        pytest.param("data", Facts(EntryKind.DIRECTORY), False, id="data"),
        pytest.param("model.pyc", Facts(EntryKind.FILE), True, id="bytecode"),
        pytest.param("model.py~", Facts(LINK, EntryKind.FILE), True, id="backup-link"),
        pytest.param("notes~", Facts(EntryKind.DIRECTORY), False, id="dir-named-like-a-backup"),
        pytest.param(".DS_Store", Facts(EntryKind.FILE), True, id="finder"),
        pytest.param("model.py", Facts(EntryKind.FILE), False, id="code"),
    ],
)
def test_ignored(name: str, facts: Facts, skipped: bool) -> None:
    assert ignored(name, facts) is skipped


def relatives(root: Path) -> list[str]:
    return [file.relative for file in model_files(root)]


@pytest.fixture
def model(tmp_path: Path) -> Path:
    root = tmp_path / "model-dir"
    (root / "model").mkdir(parents=True)
    (root / "model" / "model.py").write_text("class Model: ...\n")
    (root / "config.yaml").write_text("model_name: m\n")
    return root


def test_files_before_subdirectories_each_by_name(model: Path) -> None:
    (model / "data" / "b").mkdir(parents=True)
    (model / "data" / "z.txt").write_text("z")
    (model / "data" / "b" / "a.txt").write_text("a")

    assert relatives(model) == ["config.yaml", "data/z.txt", "data/b/a.txt", "model/model.py"]


def test_links_inside_stand_for_their_targets(model: Path) -> None:
    (model / "weights" / "v2").mkdir(parents=True)
    (model / "weights" / "v2" / "w.bin").write_text("w")
    (model / "data").symlink_to("weights/v2")
    (model / "model" / "helpers.py").symlink_to("model.py")

    files = {file.relative: os.path.realpath(file.source) for file in model_files(model)}

    assert files["data/w.bin"] == str(model / "weights" / "v2" / "w.bin")
    assert files["model/helpers.py"] == str(model / "model" / "model.py")
    assert "weights/v2/w.bin" in files


def test_dangling_links_are_skipped(model: Path) -> None:
    (model / "model" / ".#model.py").symlink_to("someone@host.1234:1700000000")

    assert relatives(model) == ["config.yaml", "model/model.py"]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        pytest.param(
            lambda root, outside: (root / "shadow").symlink_to(outside / "secret.txt"),
            "{root}/shadow: a symlink to {outside}/secret.txt, outside {root}",
            id="link-to-a-file-outside",
        ),
        pytest.param(
            lambda root, outside: (root / "data").symlink_to(outside),
            "{root}/data: a symlink to {outside}, outside {root}",
            id="link-to-a-folder-outside",
        ),
        pytest.param(
            lambda root, outside: (root / "zeros").symlink_to("/dev/zero"),
            "{root}/zeros: a symlink to /dev/zero, outside {root}",
            id="link-to-dev-zero",
        ),
        pytest.param(
            lambda root, outside: os.mkfifo(root / "model" / "pipe"),
            "{root}/model/pipe: a FIFO (named pipe), not a regular file or folder",
            id="fifo",
        ),
        pytest.param(
            lambda root, outside: (
                (root / "zzz").mkdir(),
                os.mkfifo(root / "zzz" / "pipe"),  # walked after model/
                (root / "model" / "feed").symlink_to("../zzz/pipe"),
            ),
            "{root}/model/feed: a symlink to a FIFO (named pipe), not a regular file or folder",
            id="link-to-a-fifo-inside",
        ),
        pytest.param(
            lambda root, outside: (
                (root / "a").symlink_to("b"),
                (root / "b").symlink_to("a"),
            ),
            "{root}/a: a symlink that loops",
            id="loop",
        ),
        pytest.param(
            lambda root, outside: (root / "model" / "up").symlink_to(".."),
            "{root}/model/up: a symlink that loops",
            id="link-to-an-ancestor",
        ),
    ],
)
def test_refused_entries_name_their_path(
    model: Path, tmp_path: Path, make: Callable[[Path, Path], object], message: str
) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "secret.txt").write_text("not for the snapshot")
    make(model, outside)

    with pytest.raises(ConfigError) as caught:
        relatives(model)

    assert caught.value.message == message.format(root=model, outside=outside)
    assert caught.value.hint


def test_a_socket_is_refused(model: Path) -> None:
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(model / "model" / "s"))
        with pytest.raises(ConfigError, match="s: a socket, not a regular file or folder"):
            relatives(model)
