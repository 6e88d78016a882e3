"""The environment each deployment is in, from the desired state."""

from __future__ import annotations

import pytest

from brace.server.control.desired import Desired, environments_of
from brace.store.records import AutoscalingSettings, Environment, Promotion, PromotionSettings
from brace.store.statuses import PromotionStatus
from tests.server.control.replicas_for_tests import deployment


def _environment(name: str, current: str | None) -> Environment:
    return Environment("m", name, "", AutoscalingSettings(), PromotionSettings(), current)


def _promotion(environment: str, candidate: str) -> Promotion:
    return Promotion(
        1, "m", environment, candidate, None, False, PromotionStatus.RELEASING, 0,
        PromotionSettings(), "", "",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("environments", "promotions", "expected"),
    [
        pytest.param([], [], {"a": None, "b": None}, id="in-none"),
        pytest.param(
            [_environment("production", "a")], [], {"a": "production", "b": None}, id="serves"
        ),
        pytest.param(
            [_environment("production", "a"), _environment("staging", "a")], [],
            {"a": "production", "b": None}, id="production-first",
        ),
        pytest.param(
            [_environment("production", "a")], [_promotion("production", "b")],
            {"a": "production", "b": "production"}, id="candidate-built-for-it",
        ),
        pytest.param(
            [_environment("production", "a"), _environment("staging", "b")],
            [_promotion("production", "b")], {"a": "production", "b": "staging"},
            id="serving-wins-over-candidate",
        ),
    ],
)  # fmt: skip
def test_environments_of(
    environments: list[Environment],
    promotions: list[Promotion],
    expected: dict[str, str | None],
) -> None:
    desired = Desired([], [deployment(id="a"), deployment(id="b")], environments, promotions)
    assert environments_of(desired) == expected
