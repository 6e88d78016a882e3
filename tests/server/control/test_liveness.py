"""Liveness of ready replicas: the pure decisions."""

from __future__ import annotations

import pytest

from brace.server.control.liveness import (
    LiveCheck,
    Liveness,
    after_probe,
    due,
    probed,
    unresponsive,
)

SETTINGS = Liveness(timeout=3.0, failures=3)


@pytest.mark.parametrize(
    ("answers", "silent"),
    [
        pytest.param([200, 200, 200], False, id="answers"),
        pytest.param([None, None], False, id="two-misses"),
        pytest.param([None, None, None], True, id="three-misses-in-a-row"),
        pytest.param([None, None, 200, None], False, id="an-answer-resets"),
        pytest.param([503, 500, None], True, id="no-200-is-a-miss"),
    ],
)
def test_a_replica_is_replaced_after_failures_misses_in_a_row(
    answers: list[int | None], silent: bool
) -> None:
    check = LiveCheck()
    for status in answers:
        check = after_probe(check, status)
    assert unresponsive(SETTINGS, check) is silent


def test_probes_are_a_period_apart() -> None:
    assert SETTINGS.period == 1.0
    check = probed(SETTINGS, LiveCheck(), 10.0)
    assert (due(check, 10.9), due(check, 11.0)) == (False, True)
    assert after_probe(check, None) == LiveCheck(1, 11.0)
    assert due(LiveCheck(), 0.0)  # a replica just ready is probed at once
