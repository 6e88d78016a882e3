"""The secrets mapping: where values come from, and that they never show."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from brace.runtime.secrets import FILE_LIMIT, SecretNotFound, Secrets

NAMES = {"token": None, "key": "placeholder-is-not-a-value"}


@pytest.mark.parametrize(
    ("environ", "home_file", "expected"),
    [
        pytest.param({"BRACE_SECRET_token": "b"}, None, "b", id="brace-env"),
        pytest.param({"TRUSS_SECRET_token": "t"}, None, "t", id="truss-env"),
        pytest.param(
            {"BRACE_SECRET_token": "b", "TRUSS_SECRET_token": "t"}, "h", "b", id="brace-first"
        ),
        pytest.param({"TRUSS_SECRET_token": "t"}, "h", "t", id="env-before-file"),
        pytest.param({}, "h\n", "h", id="file-without-trailing-newline"),
        pytest.param({}, "multi\nline\n", "multi\nline", id="multi-line-file"),
        pytest.param({"BRACE_SECRET_token": ""}, "h", "", id="empty-env-is-a-value"),
    ],
)
def test_resolution_order(
    tmp_path: Path, environ: dict[str, str], home_file: str | None, expected: str
) -> None:
    if home_file is not None:
        (tmp_path / "secrets").mkdir()
        (tmp_path / "secrets" / "token").write_text(home_file)
    assert Secrets(NAMES, tmp_path, environ)["token"] == expected


def test_missing_and_undeclared(tmp_path: Path) -> None:
    secrets = Secrets(NAMES, tmp_path, {})
    with pytest.raises(SecretNotFound) as missing:
        secrets["key"]
    message = str(missing.value)
    assert message.startswith("secret 'key' has no value; put it in ")
    assert f"BRACE_SECRET_key or the file {tmp_path}/secrets/key" in message
    assert "placeholder" not in message
    with pytest.raises(KeyError, match=r"'other' is not declared in config\.yaml"):
        secrets["other"]
    assert secrets.get("key") is None and "key" not in secrets


def test_without_a_home_only_the_environment_is_read() -> None:
    secrets = Secrets(NAMES, None, {"TRUSS_SECRET_token": "t"})
    assert secrets["token"] == "t"
    with pytest.raises(SecretNotFound, match=r"\$BRACE_HOME/secrets/key"):
        secrets["key"]


def test_names_are_listed_but_values_never_shown() -> None:
    secrets = Secrets(NAMES, None, {"BRACE_SECRET_token": "s3cr3t"})
    assert (list(secrets), len(secrets)) == (["token", "key"], 2)
    assert repr(secrets) == "Secrets(names=['token', 'key'])"
    assert "s3cr3t" not in f"{secrets} {secrets!r}"


def test_every_value_handed_out_is_heard(tmp_path: Path) -> None:
    """The replica redacts what the model could have seen: each value a lookup returns."""
    heard: list[tuple[str, str]] = []
    (tmp_path / "secrets").mkdir()
    secrets = Secrets(NAMES, tmp_path, {}, on_value=lambda n, v: heard.append((n, v)))

    secrets.resolve_all()
    assert heard == []  # nothing resolves yet
    (tmp_path / "secrets" / "token").write_text("written-after-start\n")
    assert secrets["token"] == "written-after-start"
    assert heard == [("token", "written-after-start")]


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        pytest.param(lambda path: os.mkfifo(path), "a FIFO (named pipe)", id="fifo"),
        pytest.param(lambda path: path.symlink_to("/dev/zero"), "a character device", id="dev"),
        pytest.param(
            lambda path: path.write_bytes(b"x" * (FILE_LIMIT + 1)),
            "1048577 bytes, over the limit of 1048576 bytes",
            id="too-large",
        ),
        pytest.param(lambda path: path.write_bytes(b"\xff\xfe"), "not UTF-8 text", id="binary"),
    ],
)
def test_a_secret_file_that_cannot_be_read_says_why(
    tmp_path: Path, make: Callable[[Path], object], reason: str
) -> None:
    (tmp_path / "secrets").mkdir()
    path = tmp_path / "secrets" / "token"
    make(path)

    with pytest.raises(SecretNotFound) as caught:
        Secrets(NAMES, tmp_path, {})["token"]  # a FIFO must not block this lookup

    assert str(caught.value).startswith(f"secret 'token': cannot read {path} ({reason}")
