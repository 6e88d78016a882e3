"""Text renderings for people: Rich tables and key/value views of API-shaped dicts.

They take the same dicts that `-o json` prints, so text and JSON never disagree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from brace.cli.common import stdout

if TYPE_CHECKING:
    from rich.table import Table


def _table(*columns: str) -> Table:
    from rich.table import Table

    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in columns:
        table.add_column(column)
    return table


def _add_row(table: Table, *cells: str) -> None:
    """Add cells as plain text: names like "x[bold]y" are shown as typed, not as markup."""
    from rich.text import Text

    table.add_row(*(Text(cell) for cell in cells))


def _role(deployment: dict[str, Any]) -> str:
    if deployment["is_development"]:
        return "development"
    return deployment["environment"] or ""


def deployments(
    items: list[dict[str, Any]], model_names: dict[str, str], wanted: dict[str, int]
) -> None:
    """`wanted`: the autoscaler's recommended replicas, by deployment id."""
    if not items:
        stdout().print("No deployments. Create one with `brace push DIR`.", markup=False)
        return
    table = _table("MODEL", "ID", "NAME", "ENVIRONMENT", "STATUS", "REPLICAS", "WANTED", "CREATED")
    for item in items:
        _add_row(
            table,
            model_names.get(item["model_id"], item["model_id"]),
            item["id"],
            item["name"],
            _role(item),
            item["status"],
            str(item["active_replica_count"]),
            str(wanted.get(item["id"], 0)),
            item["created_at"][:16].replace("T", " "),
        )
    stdout().print(table)


def models(items: list[dict[str, Any]]) -> None:
    if not items:
        stdout().print("No models. Create one with `brace push DIR`.", markup=False)
        return
    table = _table("ID", "NAME", "DEPLOYMENTS", "PRODUCTION", "DEVELOPMENT", "CREATED")
    for item in items:
        _add_row(
            table,
            item["id"],
            item["name"],
            str(item["deployments_count"]),
            item["production_deployment_id"] or "-",
            item["development_deployment_id"] or "-",
            item["created_at"][:16].replace("T", " "),
        )
    stdout().print(table)


def environments(items: list[dict[str, Any]]) -> None:
    table = _table("NAME", "CURRENT DEPLOYMENT", "PROMOTION", "ROLLING", "REPLICAS")
    for item in items:
        current = item["current_deployment"]
        promotion = item["in_progress_promotion"]
        settings = item["autoscaling_settings"]
        _add_row(
            table,
            item["name"],
            f"{current['name']} ({current['id']})" if current else "-",
            f"{promotion['status']} {promotion['percent_traffic_to_new_version']}%"
            if promotion
            else "-",
            "yes" if item["promotion_settings"]["rolling_deploy"] else "no",
            f"{settings['min_replica']}-{settings['max_replica']}",
        )
    stdout().print(table)


def details(title: str, rows: list[tuple[str, Any]]) -> None:
    stdout().print(title, style="bold", markup=False)
    table = _table("", "")
    table.show_header = False
    for key, value in rows:
        _add_row(table, key, "-" if value is None else str(value))
    stdout().print(table)


def settings_rows(prefix: str, settings: dict[str, Any]) -> list[tuple[str, Any]]:
    rows: list[tuple[str, Any]] = []
    for key, value in settings.items():
        if isinstance(value, dict):
            rows.extend(settings_rows(f"{prefix}{key}.", value))
        else:
            rows.append((f"{prefix}{key}", value))
    return rows


def deployment(item: dict[str, Any], wanted: int) -> None:
    """`wanted`: the autoscaler's recommended replicas."""
    details(
        f"Deployment {item['name']} ({item['id']})",
        [
            ("model", item["model_id"]),
            ("status", item["status"]),
            ("environment", _role(item) or None),
            ("active replicas", item["active_replica_count"]),
            ("wanted replicas", wanted),
            ("created", item["created_at"]),
            *settings_rows("autoscaling.", item["autoscaling_settings"]),
        ],
    )


def environment(item: dict[str, Any]) -> None:
    current = item["current_deployment"]
    candidate = item["candidate_deployment"]
    promotion = item["in_progress_promotion"] or {}
    details(
        f"Environment {item['name']}",
        [
            ("model", item["model_id"]),
            ("current deployment", f"{current['name']} ({current['id']})" if current else None),
            ("candidate", f"{candidate['name']} ({candidate['id']})" if candidate else None),
            ("promotion", promotion.get("status")),
            (
                "traffic to candidate",
                f"{promotion['percent_traffic_to_new_version']}%" if promotion else None,
            ),
            ("promotion error", promotion.get("error_message")),
            *settings_rows("autoscaling.", item["autoscaling_settings"]),
            *settings_rows("promotion.", item["promotion_settings"]),
        ],
    )


def model(item: dict[str, Any]) -> None:
    details(
        f"Model {item['name']} ({item['id']})",
        [
            ("deployments", item["deployments_count"]),
            ("production deployment", item["production_deployment_id"]),
            ("development deployment", item["development_deployment_id"]),
            ("created", item["created_at"]),
        ],
    )
