"""The API key: made once, private, overridable; and the header check."""

from __future__ import annotations

import os
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from brace.apikey import KEY_FILE, api_key, authorized
from brace.errors import StateError


def test_made_on_first_use_private_and_kept(home: Path) -> None:
    key = api_key(home)
    assert len(key) >= 40
    path = home / KEY_FILE
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert api_key(home) == key


def test_racing_first_uses_agree(home: Path) -> None:
    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda _: api_key(home), range(16)))
    assert len(keys) == 1


def test_the_environment_variable_wins(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BRACE_API_KEY", "chosen-by-me")
    assert api_key(home) == "chosen-by-me"
    assert not (home / KEY_FILE).exists()


def test_an_unreadable_key_file_is_a_clear_error(home: Path) -> None:
    home.mkdir(parents=True)
    (home / KEY_FILE).mkdir()
    with pytest.raises(StateError) as raised:
        api_key(home)
    assert raised.value.message.startswith(f"{home / KEY_FILE}: cannot use the API key file")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        pytest.param("Api-Key s3cret", True, id="api-key"),
        pytest.param("api-key s3cret", True, id="scheme-any-case"),
        pytest.param("Bearer s3cret", True, id="bearer"),
        pytest.param("Api-Key s3cre", False, id="prefix"),
        pytest.param("Api-Key s3cret2", False, id="longer"),
        pytest.param("s3cret", False, id="no-scheme"),
        pytest.param("Basic s3cret", False, id="other-scheme"),
        pytest.param("", False, id="empty"),
        pytest.param(None, False, id="missing"),
    ],
)
def test_authorized(header: str | None, expected: bool) -> None:
    assert authorized(header, "s3cret") is expected
