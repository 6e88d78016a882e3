"""Text renderings for people: tables and key/value views of API-shaped dicts.

They take the same dicts that `-o json` prints, so text and JSON never disagree. Cells
are shown as typed (a name like "x[bold]y" is not markup); text.py writes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from brace.cli import text

_FINISHED = ("SUCCEEDED", "FAILED", "CANCELED")


def _role(deployment: dict[str, Any]) -> str:
    if deployment["is_development"]:
        return "development"
    return deployment["environment"] or ""


def deployments(
    items: list[dict[str, Any]], model_names: dict[str, str], wanted: dict[str, int]
) -> None:
    """`wanted`: the autoscaler's recommended replicas, by deployment id."""
    if not items:
        text.out("No deployments. Create one with `brace push DIR`.")
        return
    header = ("MODEL", "ID", "NAME", "ENVIRONMENT", "STATUS", "REPLICAS", "WANTED", "CREATED")
    rows = []
    for item in items:
        rows.append(
            (
                model_names.get(item["model_id"], item["model_id"]),
                item["id"],
                item["name"],
                _role(item),
                item["status"],
                str(item["active_replica_count"]),
                str(wanted.get(item["id"], 0)),
                item["created_at"][:16].replace("T", " "),
            )
        )
    text.table(header, rows)


def models(items: list[dict[str, Any]]) -> None:
    if not items:
        text.out("No models. Create one with `brace push DIR`.")
        return
    header = ("ID", "NAME", "DEPLOYMENTS", "PRODUCTION", "DEVELOPMENT", "CREATED")
    rows = []
    for item in items:
        rows.append(
            (
                item["id"],
                item["name"],
                str(item["deployments_count"]),
                item["production_deployment_id"] or "-",
                item["development_deployment_id"] or "-",
                item["created_at"][:16].replace("T", " "),
            )
        )
    text.table(header, rows)


def _promotion_cell(promotion: dict[str, Any] | None) -> str:
    if promotion is None:
        return "-"
    if promotion["status"] in _FINISHED:
        return f"last {promotion['status']}"
    return f"{promotion['status']} {promotion['percent_traffic_to_new_version']}%"


def environments(items: list[dict[str, Any]]) -> None:
    header = ("NAME", "CURRENT DEPLOYMENT", "PROMOTION", "ROLLING", "REPLICAS")
    rows = []
    for item in items:
        current = item["current_deployment"]
        promotion = item["in_progress_promotion"]
        settings = item["autoscaling_settings"]
        rows.append(
            (
                item["name"],
                f"{current['name']} ({current['id']})" if current else "-",
                _promotion_cell(promotion),
                "yes" if item["promotion_settings"]["rolling_deploy"] else "no",
                f"{settings['min_replica']}-{settings['max_replica']}",
            )
        )
    text.table(header, rows)


# Settings as people read them: (label, unit) by the API's key, in the API's order.
_LABELS: dict[str, tuple[str, str]] = {
    "min_replica": ("min replicas", ""),
    "max_replica": ("max replicas", ""),
    "autoscaling_window": ("autoscaling window", " s"),
    "scale_down_delay": ("scale-down delay", " s"),
    "concurrency_target": ("concurrency target", ""),
    "target_utilization_percentage": ("target utilization", "%"),
    "rolling_deploy": ("rolling deploy", ""),
    "rolling_deploy_strategy": ("rolling strategy", ""),
    "max_surge_percent": ("max surge", "%"),
    "max_unavailable_percent": ("max unavailable", "%"),
    "stabilization_time_seconds": ("stabilization time", " s"),
    "replica_overhead_percent": ("replica overhead", "%"),
    "promotion_cleanup_strategy": ("cleanup strategy", ""),
}


def shown(value: Any, unit: str = "") -> str:
    """A value for people: yes/no, not True/False; `-` for nothing."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return f"{value}{unit}"


def settings_rows(settings: dict[str, Any]) -> list[tuple[str, str]]:
    """Readable rows for a settings object (nested objects flattened in place)."""
    rows: list[tuple[str, str]] = []
    for key, value in settings.items():
        if isinstance(value, dict):
            rows.extend(settings_rows(value))
            continue
        label, unit = _LABELS.get(key, (key.replace("_", " "), ""))
        rows.append((label, shown(value, unit)))
    return rows


Section = tuple[str, list[tuple[str, str]]]


def details(title: str, rows: list[tuple[str, Any]], sections: Sequence[Section] = ()) -> None:
    """A title, key/value rows, then titled sections of indented rows."""
    text.out(title, "bold")
    lines = [(key, shown(value)) for key, value in rows]
    for heading, section in sections:
        lines += [("", ""), (heading, "")]
        lines += [(f"  {key}", value) for key, value in section]
    text.table(None, lines)


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
        ],
        [("Autoscaling", settings_rows(item["autoscaling_settings"]))],
    )


@dataclass(frozen=True)
class PromotionFacts:
    """What the API's environment object does not say, for the text view."""

    model_name: str
    candidate: str | None = None  # "deployment-2 (id)" of the latest promotion
    pending: str | None = None  # an action recorded but not applied yet ("PAUSE")


def _promotion_rows(item: dict[str, Any], facts: PromotionFacts) -> list[tuple[str, Any]]:
    promotion = item["in_progress_promotion"]
    if promotion is None:
        return [("promotion", None)]
    status = promotion["status"]
    if status in _FINISHED:
        last = f"{status} ({facts.candidate})" if facts.candidate else status
        rows: list[tuple[str, Any]] = [("last promotion", last)]
    else:
        rows = [
            ("promotion", status),
            ("rolling promotion", promotion["rolling_deploy"]),
            ("candidate", facts.candidate),
            ("traffic to candidate", f"{promotion['percent_traffic_to_new_version']}%"),
        ]
        if facts.pending:
            action = facts.pending.lower().replace("_", " ")
            rows.append(("pending action", f"{action} (recorded, applied at the next step)"))
    if promotion["error_message"]:
        rows.append(("promotion error", promotion["error_message"]))
    return rows


def environment(item: dict[str, Any], facts: PromotionFacts) -> None:
    current = item["current_deployment"]
    details(
        f"Environment {item['name']}",
        [
            ("model", facts.model_name),
            ("current deployment", f"{current['name']} ({current['id']})" if current else None),
            *_promotion_rows(item, facts),
        ],
        [
            ("Autoscaling", settings_rows(item["autoscaling_settings"])),
            ("Promotion settings", settings_rows(item["promotion_settings"])),
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
