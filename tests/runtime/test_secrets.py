"""The secrets mapping: where values come from, and that they never show."""

from __future__ import annotations

from pathlib import Path

import pytest

from brace.runtime.secrets import SecretNotFound, Secrets

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
