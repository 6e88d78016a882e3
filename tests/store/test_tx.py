"""A transaction's queries (brace/store/tx.py) and the rows behind them (rows.py): the
stamps a write puts on a row, and every record's round trip through SQLite."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from brace.store import (
    AutoscalingSettings,
    CleanupStrategy,
    Deployment,
    DeploymentStatus,
    Environment,
    PromotionSettings,
    PromotionStatus,
    RollingDeployConfig,
    RolloutAction,
    Store,
    Tx,
)
from brace.store.stamps import new_id


def model_names(store: Store) -> list[str]:
    with store.read() as tx:
        return [m.name for m in tx.models()]


def test_clock_is_injected(home: Path) -> None:
    moment = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)

    with Store(home, clock=lambda: moment) as store, store.transaction() as tx:
        assert tx.insert_model("timed").created_at == "2024-05-06T07:08:09.123456Z"


def test_creation_order_holds_across_a_whole_second(home: Path) -> None:
    """A time on the second must not sort after a later time in the same second."""
    second = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
    moments = iter([second, second.replace(microsecond=500000)] * 2)

    with Store(home, clock=lambda: next(moments)) as store:
        with store.transaction() as tx:
            first = tx.insert_model("first")
            tx.insert_model("second")
        with store.transaction() as tx:
            for name in ("older", "newer"):
                tx.insert_deployment(
                    Deployment(
                        id=name,
                        model_id=first.id,
                        name=name,
                        is_development=False,
                        status=DeploymentStatus.ACTIVE,
                        autoscaling=AutoscalingSettings(),
                        created_at=tx.now(),
                    )
                )
        assert model_names(store) == ["first", "second"]
        with store.read() as tx:
            assert [d.name for d in tx.deployments(first.id)] == ["older", "newer"]


def test_new_ids_are_short_and_plain() -> None:
    ids = {new_id() for _ in range(200)}

    assert len(ids) == 200
    for value in ids:
        assert len(value) == 8
        assert value.isalnum() and value == value.lower()


# records survive the round trip


def test_deployment_round_trip(store: Store) -> None:
    with store.transaction() as tx:
        model = tx.insert_model("m")
        written = tx.insert_deployment(
            Deployment(
                id="abc12345",
                model_id=model.id,
                name="deployment-1",
                is_development=False,
                status=DeploymentStatus.SCALED_TO_ZERO,
                autoscaling=AutoscalingSettings(min_replica=2, max_replica=9, scale_down_delay=5),
                created_at=tx.now(),
                snapshot="f00d",
                revision=3,
                active_replica_count=2,
            )
        )

    with store.read() as tx:
        assert tx.deployment("abc12345") == written
        assert tx.deployments_named("deployment-1") == [written]
        assert tx.snapshots_in_use() == {"f00d"}


def test_promotion_round_trip(store: Store) -> None:
    settings = PromotionSettings(
        rolling_deploy=True,
        rolling_deploy_config=RollingDeployConfig(
            max_surge_percent=0, max_unavailable_percent=25, stabilization_time_seconds=3
        ),
        promotion_cleanup_strategy=CleanupStrategy.DEACTIVATE,
    )
    with store.transaction() as tx:
        model = tx.insert_model("m")
        push_model_environment(tx, model.id)
        started = tx.insert_promotion(
            model_id=model.id,
            environment="production",
            candidate_id="cand0001",
            previous_id=None,
            rolling=True,
            settings=settings,
            status=PromotionStatus.RAMPING_UP,
            percent_traffic=40,
        )
        paused = tx.update_promotion(started, requested_action=RolloutAction.PAUSE)

    with store.read() as tx:
        stored = tx.latest_promotion(model.id, "production")
        assert stored is not None
        assert stored.settings == settings
        assert stored.requested_action is RolloutAction.PAUSE
        assert stored.percent_traffic == 40
        assert stored == paused
        assert tx.active_promotions(model.id) == [stored]

    with store.transaction() as tx:
        tx.update_promotion(stored, status=PromotionStatus.SUCCEEDED)
    with store.read() as tx:
        assert tx.active_promotions() == []


def push_model_environment(tx: Tx, model_id: str) -> None:
    tx.insert_environment(
        Environment(
            model_id=model_id,
            name="production",
            created_at=tx.now(),
            autoscaling=AutoscalingSettings(),
            promotion_settings=PromotionSettings(),
        )
    )
