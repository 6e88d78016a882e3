"""Usage per deployment and UTC day, in the `usage` table (schema migration 5).

A row adds up, for one deployment on one day and one set of resources, the seconds
its replicas ran (replica-seconds: two replicas for ten seconds are twenty) and the
requests it finished. The model and deployment names are copied into the row, and the
table has no foreign key, so a deleted deployment's usage stays, as on Baseten's
usage page ("deleted deployments still appear in the billing and usage dashboard").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from brace.store.tx import Tx


@dataclass(frozen=True)
class UsageRow:
    day: str
    """UTC day, YYYY-MM-DD."""
    deployment_id: str
    resources: str
    """What each replica asked for, as `cpu=1 memory=2Gi` (plus `accelerator=A10G:1`)."""
    model_id: str
    model_name: str
    deployment_name: str
    replica_seconds: float = 0.0
    requests: int = 0


def add_usage(tx: Tx, rows: Iterable[UsageRow]) -> None:
    """Add each row's replica-seconds and requests to what its key (day, deployment,
    resources) has; the names are updated to the latest ones (a rename)."""
    tx.conn.executemany(
        """
        INSERT INTO usage (day, deployment_id, resources, model_id, model_name,
                           deployment_name, replica_seconds, requests)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (day, deployment_id, resources) DO UPDATE SET
            model_name = excluded.model_name,
            deployment_name = excluded.deployment_name,
            replica_seconds = replica_seconds + excluded.replica_seconds,
            requests = requests + excluded.requests
        """,
        [
            (
                r.day,
                r.deployment_id,
                r.resources,
                r.model_id,
                r.model_name,
                r.deployment_name,
                r.replica_seconds,
                r.requests,
            )
            for r in rows
        ],
    )


def usage_rows(tx: Tx, since_day: str = "") -> list[UsageRow]:
    """Rows of `since_day` (YYYY-MM-DD) and later, newest day first, then by model
    and deployment name."""
    found = tx.conn.execute(
        """
        SELECT day, deployment_id, resources, model_id, model_name, deployment_name,
               replica_seconds, requests
        FROM usage WHERE day >= ?
        ORDER BY day DESC, model_name, deployment_name, resources
        """,
        (since_day,),
    )
    return [UsageRow(*row) for row in found]
