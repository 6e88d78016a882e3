"""Waiting with a deadline: the probe's first answer, or None once the time is up."""

from __future__ import annotations

import pytest

from brace.polling import poll


class Clock:
    """A clock that moves only when the poll sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_returns_the_first_answer() -> None:
    clock = Clock()
    answers = iter([None, None, "ready"])
    assert poll(lambda: next(answers), 10, 0.5, sleep=clock.sleep, clock=lambda: clock.now) == (
        "ready"
    )
    assert clock.sleeps == [0.5, 0.5]


def test_gives_up_at_the_deadline_after_a_last_probe() -> None:
    clock = Clock()
    calls: list[float] = []

    def probe() -> None:
        calls.append(clock.now)

    assert poll(probe, 1.0, 0.25, sleep=clock.sleep, clock=lambda: clock.now) is None
    assert calls == [0.0, 0.25, 0.5, 0.75, 1.0]


def test_an_exception_from_the_probe_ends_the_wait() -> None:
    def probe() -> None:
        raise RuntimeError("the process exited")

    with pytest.raises(RuntimeError, match="the process exited"):
        poll(probe, 10)


def test_a_falsy_answer_other_than_none_counts() -> None:
    assert poll(lambda: 0, 1) == 0
