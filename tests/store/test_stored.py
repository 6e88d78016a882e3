"""Settings read back from the store are checked as a write checks them; what cannot be
used is read as the defaults and the reason, never an exception."""

from __future__ import annotations

import pytest

from brace.server.control.runs import UNUSABLE, GaveUp, Run, settings_verdict
from brace.store import Deployment, DeploymentStatus
from brace.store.records import DEVELOPMENT_AUTOSCALING, AutoscalingSettings, PromotionSettings
from brace.store.stored import read_autoscaling, read_promotion_settings


@pytest.mark.parametrize(
    ("stored", "reason"),
    [
        pytest.param(
            '{"max_replica": 1' + "0" * 4000 + "}",
            "max_replica must be 1 to 1000, got a number of about 4001 digits",
            id="10^4000",
        ),
        pytest.param('{"max_replica": NaN}', "NaN is not a finite number", id="nan"),
        pytest.param('{"min_replica": 1e400}', "1e400 is not a finite number", id="1e400"),
        pytest.param(
            '{"min_replica": 3, "max_replica": 2}',
            "min_replica (3) must not exceed max_replica (2)",
            id="min-over-max",
        ),
        pytest.param('{"replicas": 2}', "unknown autoscaling field: replicas", id="unknown"),
        pytest.param("[]", "not a JSON object", id="a-list"),
        pytest.param("", "Expecting value: line 1 column 1 (char 0)", id="empty"),
        pytest.param(
            None, "the JSON object must be str, bytes or bytearray, not NoneType", id="null-column"
        ),
        pytest.param(
            2.5, "the JSON object must be str, bytes or bytearray, not float", id="a-real-column"
        ),
    ],
)
def test_autoscaling_that_cannot_be_used_reads_as_the_defaults_and_why(
    stored: object, reason: str
) -> None:
    settings, error = read_autoscaling(stored)
    assert settings == AutoscalingSettings()
    assert error == f"the stored autoscaling settings cannot be used: {reason}"


def test_valid_settings_read_as_they_are() -> None:
    assert read_autoscaling('{"min_replica": 1, "max_replica": 3}') == (
        AutoscalingSettings(min_replica=1, max_replica=3),
        None,
    )
    settings, error = read_autoscaling('{"max_replica": 2}', development=True)
    assert settings == DEVELOPMENT_AUTOSCALING and error is not None
    assert read_promotion_settings('{"rolling_deploy": true}') == (
        PromotionSettings(rolling_deploy=True),
        None,
    )


def test_promotion_settings_with_a_non_finite_ratio_read_as_the_defaults() -> None:
    stored = '{"automatic_rollback": {"max_p99_latency_ratio": Infinity}}'
    assert read_promotion_settings(stored) == (
        PromotionSettings(),
        "the stored promotion settings cannot be used: Infinity is not a finite number",
    )


def _deployment(settings_error: str | None) -> Deployment:
    return Deployment(
        id="d",
        model_id="m",
        name="deployment-1",
        is_development=False,
        status=DeploymentStatus.DEPLOYING,
        autoscaling=AutoscalingSettings(),
        created_at="",
        settings_error=settings_error,
    )


def test_a_deployment_whose_settings_cannot_be_used_is_given_up_once() -> None:
    run = Run(1, DeploymentStatus.DEPLOYING)
    verdict = settings_verdict(run, _deployment("bad"))
    assert verdict == GaveUp(DeploymentStatus.DEPLOY_FAILED, UNUSABLE + "bad")
    run.state = verdict
    assert settings_verdict(run, _deployment("bad")) is None  # said once
    assert not run.outdated_by(_deployment("bad"))
    assert run.outdated_by(_deployment(None))  # set again: a fresh run
    assert settings_verdict(Run(1, DeploymentStatus.DEPLOYING), _deployment(None)) is None
