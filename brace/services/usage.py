"""Usage per deployment and day, as `brace usage` and the console's Usage page show it.

Both read the same rows (`brace.store.usage`, kept by the server's meter in
`brace.server.metrics.usage`) through `usage_json`, so the two show the same figures.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from brace.store import Tx
from brace.store.usage import usage_rows

DEFAULT_DAYS = 30


def first_day(days: int, now: datetime | None = None) -> str:
    """The first UTC day (YYYY-MM-DD) of the last `days` days, today included."""
    today = (now or datetime.now(UTC)).astimezone(UTC).date()
    return (today - timedelta(days=max(1, days) - 1)).isoformat()


def usage_json(tx: Tx, days: int = DEFAULT_DAYS, now: datetime | None = None) -> dict[str, Any]:
    """`{"days": n, "since": day, "usage": [row...], "totals": {...}}`; a row is one
    deployment, UTC day and resources: `replica_seconds` (float, seconds), `requests`,
    and `deleted` (the deployment no longer exists)."""
    since = first_day(days, now)
    rows = usage_rows(tx, since)
    existing = {d.id for d in tx.deployments()}
    usage = [
        {
            "day": row.day,
            "model_id": row.model_id,
            "model_name": row.model_name,
            "deployment_id": row.deployment_id,
            "deployment_name": row.deployment_name,
            "deleted": row.deployment_id not in existing,
            "resources": row.resources,
            "replica_seconds": round(row.replica_seconds, 3),
            "requests": row.requests,
        }
        for row in rows
    ]
    return {
        "days": days,
        "since": since,
        "usage": usage,
        "totals": {
            "replica_seconds": round(sum(row.replica_seconds for row in rows), 3),
            "requests": sum(row.requests for row in rows),
        },
    }
