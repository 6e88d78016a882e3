"""The environment each deployment is in, from the desired state."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from brace.server.control.desired import Desired, environments_of, kept_awake
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


@pytest.mark.parametrize(
    ("awake_until", "expected"),
    [
        pytest.param(None, False, id="no-lease"),
        pytest.param("2026-01-01T11:59:59.000000Z", False, id="lease-over"),
        pytest.param("2026-01-01T12:00:00.000000Z", False, id="lease-ends-now"),
        pytest.param("2026-01-01T12:00:01.000000Z", True, id="lease-runs"),
    ],
)
def test_kept_awake(awake_until: str | None, expected: bool) -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    leased = replace(deployment(), awake_until=awake_until)
    assert kept_awake(now)(leased) is expected
