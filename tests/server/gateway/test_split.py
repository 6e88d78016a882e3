"""The smooth weighted round robin behind an environment's traffic split."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from brace.server.gateway.split import SmoothSplit, SplitChoice


def picks(split: SmoothSplit, percents: list[int]) -> list[bool]:
    return [split.choose(percent) for percent in percents]


@pytest.mark.parametrize(
    ("percent", "first_ten"),
    [
        pytest.param(0, "..........", id="0"),
        pytest.param(10, ".....C....", id="10"),
        pytest.param(30, ".C...C..C.", id="30"),
        pytest.param(50, ".C.C.C.C.C", id="50-tie-goes-to-current"),
        pytest.param(70, "C.CC.CCC.C", id="70"),
        pytest.param(100, "CCCCCCCCCC", id="100"),
    ],
)
def test_the_order_of_picks(percent: int, first_ten: str) -> None:
    chosen = picks(SmoothSplit(), [percent] * 10)
    assert "".join("C" if c else "." for c in chosen) == first_ten


@pytest.mark.parametrize("percent", range(101))
def test_every_100_consecutive_requests_give_exactly_the_percentage(percent: int) -> None:
    chosen = picks(SmoothSplit(), [percent] * 1000)
    assert {sum(chosen[i : i + 100]) for i in range(901)} == {percent}


@given(
    st.lists(st.tuples(st.integers(0, 100), st.integers(1, 300)), min_size=1, max_size=8).map(
        lambda runs: [percent for percent, length in runs for _ in range(length)]
    )
)
def test_across_changes_of_percentage(percents: list[int]) -> None:
    """Any 100 consecutive requests give the candidate the percentages in force added
    up, over 100, to within less than one request; so a window at one percentage gets
    it exactly, and one across a change lies between the old and the new share."""
    chosen = picks(SmoothSplit(), percents)
    for i in range(max(0, len(percents) - 99)):
        window = percents[i : i + 100]
        assert abs(100 * sum(chosen[i : i + 100]) - sum(window)) < 100
        if len(window) == 100 and len(set(window)) == 1:
            assert sum(chosen[i : i + 100]) == window[0]
        if len(window) == 100:
            assert min(window) - 1 < sum(chosen[i : i + 100]) < max(window) + 1


@given(st.lists(st.integers(0, 100), max_size=500))
def test_the_state_stays_bounded(percents: list[int]) -> None:
    split = SmoothSplit()
    for percent in percents:
        split.choose(percent)
        assert -50 < split.score <= 50


def test_a_choice_picks_between_two_targets() -> None:
    choice = SplitChoice(SmoothSplit(), 50, "candidate", "current")
    assert [choice.pick() for _ in range(4)] == ["current", "candidate"] * 2
