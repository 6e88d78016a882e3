"""What the controller writes to the store, each as one transaction: a tick's (the
replica rows it queued, the reports that changed, the promotions' steps) and the
stopping server's (every replica forgotten, the deployments that served asleep)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from brace.server.control.fleet import Fleet
from brace.server.control.mirror import Delta, Mirror
from brace.server.control.report import Report, compare_and_set, leave_asleep
from brace.server.control.rolling_promotions import Driven, rollout_line, write_rollouts
from brace.server.storeworker import StoreWorker
from brace.services.promotion_steps import advance_promotions
from brace.store import Tx

Change = Callable[[Tx], object]
"""A replica row to record (insert, mark ready, delete)."""


def tick_write(
    pending: Sequence[Change],
    reports: Sequence[Report],
    promotions: bool,
    driven: Sequence[Driven],
    detail: Callable[[str], str],
    since: int,
) -> Callable[[Tx], tuple[list[Report], Delta]]:
    """The tick's transaction: it returns the reports written (a user's change in
    between skips one) and what changed in the store after change number `since`
    (this transaction's writes included: with the promotions' steps, the gateway routes
    on it). `promotions`: whether any is in progress; `detail(deployment id)`: its last
    log lines, for a failed promotion's error."""

    def write(tx: Tx) -> tuple[list[Report], Delta]:
        for change in pending:
            change(tx)
        written = [r for r in reports if compare_and_set(tx, r)]
        if promotions:
            write_rollouts(tx, driven, detail)
            advance_promotions(tx, detail)
        return written, Delta.reader(since)(tx)

    return write


def shutdown_write(pending: Sequence[Change], stopped: Iterable[str]) -> Callable[[Tx], None]:
    """The stopping server's transaction: the queued rows, then every stopped replica
    (by id) forgotten and the deployments left as the next server expects them."""

    def forget(tx: Tx) -> None:
        for change in pending:
            change(tx)
        for replica_id in stopped:
            tx.delete_replica(replica_id)
        leave_asleep(tx)

    return forget


async def write_tick(
    db: StoreWorker, fleet: Fleet, mirror: Mirror, reports: list[Report], driven: list[Driven]
) -> set[str]:
    """Write the fleet's replica rows, `reports` (those that changed) and the
    promotions' steps in one transaction, if there is anything to write; take what
    changed in the store since the tick's read (this write, and others' in between)
    into `mirror`, and return the ids of the deployments it concerns. Raises what the
    store raises; the replica rows are then written again at the next tick."""
    promotions = bool(mirror.promotions)
    if not (reports or fleet.writes or promotions):
        return set()

    def detail(deployment_id: str) -> str:
        lines = fleet.log(deployment_id).tail(8)
        return "Last log lines:\n" + "\n".join(lines) if lines else ""

    pending, fleet.writes = fleet.writes, []
    write = tick_write(pending, reports, promotions, driven, detail, mirror.seq)
    try:
        written, delta = await db.write(write)
    except BaseException:
        fleet.writes = pending + fleet.writes
        raise
    for report in written:
        if report.status is not report.deployment.status:
            fleet.log(report.deployment.id).write(f"status {report.status.value}")
    for rollout in driven:
        if (line := rollout_line(rollout)) is not None:
            fleet.log(rollout.promotion.candidate_id).write(line)
    return mirror.apply(delta)
