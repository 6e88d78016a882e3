"""Metering: usage between two samples (pure), booked into a real store, kept for a
deleted deployment, and read back by `brace usage` (text and JSON) with the same
figures."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from brace.config import Resources
from brace.server.metrics.usage import (
    Meter,
    Sample,
    Used,
    keep_usage,
    resources_label,
    usage_between,
)
from brace.server.storeworker import StoreWorker
from brace.services import deployments
from brace.services.push import push
from brace.services.usage import first_day, usage_json
from brace.store import Deployment, Store
from brace.store.usage import usage_rows
from tests.cli.conftest import data, ok
from tests.conftest import Cli, MakeTruss
from tests.services.conftest import production, truss_dir  # noqa: F401  (fixtures)

NOON = datetime(2026, 3, 1, 12, 0, tzinfo=UTC).timestamp()


def test_replica_seconds_are_the_mean_replicas_times_the_seconds() -> None:
    before = Sample(NOON, {"a": 1, "b": 2}, {"a": 10})
    after = Sample(NOON + 10, {"a": 3}, {"a": 25, "c": 4})
    assert usage_between(before, after) == {
        "a": Used(20.0, 15),  # (1 + 3) / 2 replicas for 10 s
        "b": Used(10.0, 0),  # 2 replicas, then none
        "c": Used(0.0, 4),  # requests without replicas counted (they were held)
    }


def test_nothing_used_is_left_out_and_a_reset_counter_counts_from_zero() -> None:
    before = Sample(NOON, {"idle": 0}, {"a": 100})
    after = Sample(NOON + 5, {"idle": 0}, {"a": 7})
    assert usage_between(before, after) == {"a": Used(0.0, 7)}


def test_resources_label() -> None:
    assert resources_label(Resources()) == "cpu=1 memory=2Gi"
    assert resources_label(Resources(cpu="500m", memory="512Mi", accelerator="A10G:1")) == (
        "cpu=500m memory=512Mi accelerator=A10G:1"
    )


def test_booked_usage_adds_up_per_day_and_stays_after_the_deployment_is_deleted(
    home: Path, store: Store, make_truss: MakeTruss, cli: Cli
) -> None:
    directory = make_truss("hello")
    published = push(store, directory, publish=True).deployment
    meter = Meter(home)
    with store.transaction() as tx:
        meter.book(
            tx,
            Sample(NOON, {published.id: 2}, {}),
            Sample(NOON + 30, {published.id: 2}, {published.id: 9}),
        )
        meter.book(
            tx,
            Sample(NOON + 30, {published.id: 2}, {published.id: 9}),
            Sample(NOON + 40, {published.id: 0}, {published.id: 10}),
        )
    deployments.delete(store, published.id)
    with store.transaction() as tx:  # booked after the deletion: the names are remembered
        meter.book(
            tx,
            Sample(NOON + 86400, {published.id: 1}, {}),
            Sample(NOON + 86410, {published.id: 1}, {published.id: 2}),
        )
    with store.read() as tx:
        rows = usage_rows(tx)
    assert [
        (r.day, r.deployment_name, r.resources, r.replica_seconds, r.requests) for r in rows
    ] == [
        ("2026-03-02", published.name, "cpu=1 memory=2Gi", 10.0, 2),
        ("2026-03-01", published.name, "cpu=1 memory=2Gi", 70.0, 10),
    ]
    # Reopened (a restart): still there; `brace usage` shows the same figures.
    with Store(home) as reopened, reopened.read() as tx:
        shown = usage_json(tx, 400, now=datetime(2026, 3, 2, tzinfo=UTC))
    assert [
        (r["day"], r["replica_seconds"], r["requests"], r["deleted"]) for r in shown["usage"]
    ] == [
        ("2026-03-02", 10.0, 2, True),
        ("2026-03-01", 70.0, 10, True),
    ]
    assert shown["totals"] == {"replica_seconds": 80.0, "requests": 12}
    printed = data(cli, "usage", "--days", "3660")
    assert [(r["day"], r["replica_seconds"], r["requests"]) for r in printed["usage"]] == [
        ("2026-03-02", 10.0, 2),
        ("2026-03-01", 70.0, 10),
    ]
    text = ok(cli("usage", "--days", "3660")).stdout
    assert "70.0" in text and "deleted" in text and "80.0 replica-seconds, 12 requests" in text


def test_first_day_counts_today() -> None:
    assert first_day(1, datetime(2026, 3, 2, 23, 0, tzinfo=UTC)) == "2026-03-02"
    assert first_day(7, datetime(2026, 3, 2, tzinfo=UTC)) == "2026-02-24"


def test_keep_usage_books_once_more_when_stopped(
    home: Path,
    production: Deployment,  # noqa: F811
) -> None:
    clock = iter([NOON, NOON + 3])

    def sample() -> Sample:
        return Sample(next(clock), {production.id: 1}, {production.id: 0})

    async def run() -> None:
        worker = StoreWorker(home)
        try:
            stop = asyncio.Event()
            stop.set()  # stopped before the first interval ends: the last sample is booked
            await keep_usage(sample, worker, stop, interval=60)
        finally:
            worker.close()

    asyncio.run(run())
    with Store(home) as store, store.read() as tx:
        [row] = usage_rows(tx)
    assert (row.deployment_id, row.replica_seconds, row.requests) == (production.id, 3.0, 0)
