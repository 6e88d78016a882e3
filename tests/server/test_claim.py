"""One home, one server: the lock a server holds for its life (the integration tests in
tests/integration/test_one_server.py race real servers)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from brace.errors import ServerError
from brace.server.claim import SERVER_LOCK, claim, release


def test_a_second_claim_is_refused_with_the_holder_s_pid(tmp_path: Path) -> None:
    held = claim(tmp_path)
    try:
        with pytest.raises(ServerError) as caught:
            claim(tmp_path)  # another open file description: flock refuses it too
        assert caught.value.message == (
            f"a brace server for {tmp_path} is already running (pid {os.getpid()})"
        )
    finally:
        release(held)
    again = claim(tmp_path)  # released: free to take
    release(again)
    assert (tmp_path / SERVER_LOCK).read_text() == ""  # a clean exit leaves no pid


def test_the_lock_file_is_private(tmp_path: Path) -> None:
    release(claim(tmp_path))
    assert (tmp_path / SERVER_LOCK).stat().st_mode & 0o077 == 0
