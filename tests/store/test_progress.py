"""A rolling promotion's progress, kept in its promotion's columns."""

from __future__ import annotations

import pytest

from brace.services.push import push
from brace.store import Store
from brace.store.progress import Extras, RolloutProgress, progress_columns, progress_of
from brace.store.records import PromotionSettings
from brace.store.statuses import PromotionStatus
from tests.conftest import MakeTruss


@pytest.mark.parametrize(
    "progress",
    [
        pytest.param(RolloutProgress(), id="not-begun"),
        pytest.param(RolloutProgress(3, 2, 1700000000.5, 1700000010.25), id="settled"),
        pytest.param(RolloutProgress(4, 1, 17.0, None, 3, Extras(2, 1)), id="ramping-down"),
    ],
)
def test_progress_round_trips_through_the_store(
    store: Store, make_truss: MakeTruss, progress: RolloutProgress
) -> None:
    previous = push(store, make_truss("hello"), publish=True).deployment
    candidate = push(store, make_truss("hello"), publish=True).deployment
    with store.transaction() as tx:
        promotion = tx.insert_promotion(
            model_id=candidate.model_id,
            environment="production",
            candidate_id=candidate.id,
            previous_id=previous.id,
            rolling=True,
            settings=PromotionSettings(),
            status=PromotionStatus.RAMPING_UP,
            percent_traffic=10,
        )
        tx.update_promotion(promotion, **progress_columns(progress))
    with store.read() as tx:
        stored = tx.promotion(promotion.id)
    assert stored is not None
    assert progress_of(stored) == progress
