"""Automatic rollback: when a candidate's answers fail its rolling promotion."""

from __future__ import annotations

import pytest

from brace.rollout.rollback import Health, rollback_reason
from brace.store.records import AutomaticRollback

ON = AutomaticRollback(enabled=True, max_error_rate_percent=5, min_requests=50)
LATENCY = AutomaticRollback(enabled=True, min_requests=10, max_p99_latency_ratio=2.0)


@pytest.mark.parametrize(
    ("rule", "health", "percent", "expected"),
    [
        pytest.param(AutomaticRollback(), Health(100, 100), 50, None, id="off"),
        pytest.param(ON, None, 50, None, id="not-counted"),
        pytest.param(ON, Health(100, 100), 0, None, id="no-traffic-yet"),
        pytest.param(ON, Health(49, 49), 50, None, id="too-few-requests"),
        pytest.param(ON, Health(100, 5), 50, None, id="at-the-limit"),
        pytest.param(
            ON, Health(100, 6), 50,
            "automatic rollback: 6 of 100 requests to the candidate failed (6.0% > 5%) at "
            "50% of the traffic, step 3",
            id="errors",
        ),
        pytest.param(LATENCY, Health(10, 0, 0.024, 0.012), 20, None, id="twice-is-the-limit"),
        pytest.param(
            LATENCY, Health(10, 0, 0.025, 0.012), 20,
            "automatic rollback: the candidate's p99 latency 25.0 ms is more than 2x the "
            "previous deployment's 12.0 ms (over 10 requests, step 3)",
            id="slower",
        ),
        pytest.param(LATENCY, Health(10, 0, 0.025, None), 20, None, id="previous-unmeasured"),
        pytest.param(ON, Health(10, 0, 9.0, 0.001), 20, None, id="latency-rule-unset"),
    ],
)  # fmt: skip
def test_rollback_reason(
    rule: AutomaticRollback, health: Health | None, percent: int, expected: str | None
) -> None:
    assert rollback_reason(rule, health, percent, 3) == expected
