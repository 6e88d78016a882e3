"""The replica's readiness notice: the descriptor the server hands it (`BRACE_READY_FD`)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from brace.runtime.notify import ENV_VAR, READY, ReadyNotifier


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    read, write = os.pipe()
    os.set_inheritable(write, True)  # as the server passes it
    try:
        yield read, write
    finally:
        os.close(read)
        os.close(write)


def test_the_descriptor_is_taken_from_the_environment_and_kept_from_children(
    pipe: tuple[int, int],
) -> None:
    read, write = pipe
    environ = {ENV_VAR: str(write), "OTHER": "x"}
    notifier = ReadyNotifier.from_environment(environ)
    assert environ == {"OTHER": "x"}  # the model does not see it
    assert notifier.fd == write
    assert not os.get_inheritable(write)
    notifier.ready()
    assert os.read(read, 100) == READY


@pytest.mark.parametrize("value", ["", "x", "-1", "999999"])
def test_a_value_that_names_no_open_descriptor_is_ignored(value: str) -> None:
    notifier = ReadyNotifier.from_environment({ENV_VAR: value})
    assert notifier.fd is None
    notifier.ready()  # nothing to say it on, and no error


def test_without_the_variable_nothing_is_written() -> None:
    assert ReadyNotifier.from_environment({}).fd is None


def test_a_server_gone_is_no_error() -> None:
    read, write = os.pipe()
    os.close(read)
    try:
        ReadyNotifier(write).ready()  # EPIPE, swallowed
    finally:
        os.close(write)
