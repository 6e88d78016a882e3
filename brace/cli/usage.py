"""`brace usage`: replica-seconds and requests per deployment and day."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from brace.cli import text
from brace.cli.common import Output, OutputOpt, emit, open_store


def usage_command(
    days: Annotated[
        int, typer.Option(min=1, max=3660, help="Days to show, today (UTC) included.")
    ] = 30,
    output: OutputOpt = Output.text,
) -> None:
    """Show usage per deployment and UTC day: replica-seconds by the resources the
    replicas asked for, and requests. Deleted deployments are included. The running
    server records it every few seconds; the console's Usage page shows the same.

    Example:

    \b
      brace usage --days 7 -o json
    """
    from brace.services.usage import usage_json

    with open_store() as store, store.read() as tx:
        data = usage_json(tx, days)
    emit(data, lambda: _render(data))


def _render(data: dict[str, Any]) -> None:
    rows = data["usage"]
    if not rows:
        text.out(f"No usage since {data['since']}. `brace server` records it while it runs.")
        return
    header = ("DAY", "MODEL", "DEPLOYMENT", "RESOURCES", "REPLICA-SECONDS", "REQUESTS")
    table = [
        (
            row["day"],
            row["model_name"],
            f"{row['deployment_name']} ({row['deployment_id']})"
            + (" deleted" if row["deleted"] else ""),
            row["resources"],
            f"{row['replica_seconds']:.1f}",
            str(row["requests"]),
        )
        for row in rows
    ]
    text.table(header, table)
    totals = data["totals"]
    text.out(
        f"Total since {data['since']}: {totals['replica_seconds']:.1f} replica-seconds, "
        f"{totals['requests']} requests."
    )
