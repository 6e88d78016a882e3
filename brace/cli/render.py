"""Text renderings for people: tables and key/value views of API-shaped dicts.

They take the same dicts that `-o json` prints, so text and JSON never disagree. Cells
are shown as typed (a name like "x[bold]y" is not markup); text.py writes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from brace.cli import text

if TYPE_CHECKING:
    from brace.rollout.view import RolloutView
    from brace.services.promote import AutoscalingChange
    from brace.store.statuses import PromotionStatus, RolloutAction

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
    "enabled": ("automatic rollback", ""),
    "max_error_rate_percent": ("rollback at error rate", "%"),
    "min_requests": ("rollback after requests", ""),
    "max_p99_latency_ratio": ("rollback at p99 ratio", "x"),
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


def deployment(item: dict[str, Any], wanted: int, traffic: dict[str, Any] | str) -> None:
    """`wanted`: the autoscaler's recommended replicas; `traffic`: the deployment's
    request statistics (`GET /brace/stats`), or why there are none."""
    rows: list[tuple[str, Any]] = [
        ("model", item["model_id"]),
        ("status", item["status"]),
        ("environment", _role(item) or None),
        ("active replicas", item["active_replica_count"]),
        ("wanted replicas", wanted),
        ("created", item["created_at"]),
    ]
    sections: list[Section] = [("Autoscaling", settings_rows(item["autoscaling_settings"]))]
    if isinstance(traffic, str):
        rows.append(("traffic", traffic))
    else:
        heading = f"Traffic (last {traffic['window_seconds']:.0f} s)"
        sections.append((heading, traffic_rows(traffic)))
    details(f"Deployment {item['name']} ({item['id']})", rows, sections)


def traffic_rows(stats: dict[str, Any]) -> list[tuple[str, str]]:
    """Request statistics over a window (`brace.server.metrics.stats.WindowStats.to_json`)."""
    rate = stats["error_rate"]
    return [
        ("requests", f"{stats['requests']} ({stats['request_rate']:.2f}/s)"),
        ("errors (5xx)", f"{stats['errors']}" + ("" if rate is None else f" ({rate:.1%})")),
        ("latency p50", duration(stats["p50_seconds"])),
        ("latency p99", duration(stats["p99_seconds"])),
        ("in flight", str(stats["in_flight"])),
    ]


def duration(seconds: float | None) -> str:
    """A latency for people: milliseconds below a second, seconds above."""
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.1f} ms"
    return f"{seconds:.2f} s"


@dataclass(frozen=True)
class PromotionFacts:
    """What the API's environment object does not say, for the text view."""

    model_name: str
    candidate: str | None = None  # "deployment-2 (id)" of the latest promotion
    pending: str | None = None  # an action recorded but not applied yet ("PAUSE")
    rollout: RolloutView | None = None  # a rolling promotion's place in its plan
    previous_ready: int = 0
    candidate_ready: int = 0
    step_traffic: tuple[dict[str, Any], dict[str, Any]] | None = None
    """Both sides' request statistics over the current step (previous, candidate)."""


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
            *_rollout_rows(facts, promotion, item["name"]),
        ]
        if facts.pending:
            rows.append(("pending action", _pending(facts.pending, promotion["rolling_deploy"])))
    if promotion["error_message"]:
        rows.append(("promotion error", promotion["error_message"]))
    return rows


def _traffic(percent: int, width: int = 20) -> str:
    """The split as a bar: the candidate's share filled, the previous deployment's not."""
    filled = round(width * percent / 100)
    return f"previous [{'.' * (width - filled)}{'#' * filled}] candidate"


def _pending(pending: str, rolling: bool) -> str:
    from brace.rollout.actions import waits_for_step_end
    from brace.store.statuses import RolloutAction

    when = (
        "at the end of this step"
        if waits_for_step_end(RolloutAction(pending), rolling)
        else "at once"
    )
    return f"{pending.lower().replace('_', ' ')} (recorded, applied {when})"


_LEADS_TO = {
    "PAUSED": "traffic stays where it is",
    "RAMPING_UP": "traffic moves on step by step",
    "RAMPING_DOWN": "traffic moves back step by step",
    "CANCELED": "all traffic on the previous deployment",
    "SUCCEEDED": "all traffic on the candidate",
}


def action_requested(
    action: RolloutAction, rolling: bool, leads_to: PromotionStatus, name: str, environment: str
) -> str:
    """What a recorded rollout action will do, and when (brace.rollout.actions)."""
    from brace.rollout.actions import waits_for_step_end

    when = (
        "at the end of the current step, once replica changes under way finish"
        if waits_for_step_end(action, rolling)
        else "at once"
    )
    return (
        f"{action.value.replace('_', ' ').capitalize()} requested for the promotion of "
        f"{name} to {environment}: it takes effect {when} "
        f"(then {leads_to.value}: {_LEADS_TO[leads_to.value]})."
    )


def _next_step(status: str, environment: str, facts: PromotionFacts, view: RolloutView) -> str:
    """When the next step comes: never while paused (the stabilization clock has run
    out, but a paused rollout does not move), else after its wait and stabilization."""
    if status == "PAUSED" and facts.pending not in ("RESUME", "CANCEL"):
        return (
            "none while paused (resume with "
            f"`brace rollout resume -m {facts.model_name} -e {environment}`)"
        )
    if facts.pending == "PAUSE":
        return "none: it pauses at the end of this step"
    if view.next_step_in is not None:
        return f"in {view.next_step_in:.0f} s (stabilization)"
    return f"when {view.waiting_for} (waiting)" if view.waiting_for else "now"


def _rollout_rows(
    facts: PromotionFacts, promotion: dict[str, Any], environment: str
) -> list[tuple[str, Any]]:
    view = facts.rollout
    if view is None:
        return []
    percent = promotion["percent_traffic_to_new_version"]
    then = _next_step(promotion["status"], environment, facts, view)
    return [
        ("traffic split", _traffic(percent)),
        ("step", f"{view.step} of {view.steps}" + (" (ramping down)" if view.ramping_down else "")),
        ("previous replicas", f"{facts.previous_ready} ready / {view.previous_target} target"),
        ("candidate replicas", f"{facts.candidate_ready} ready / {view.candidate_target} target"),
        ("next step", then),
        *(
            [
                ("previous: this step", _one_line(facts.step_traffic[0])),
                ("candidate: this step", _one_line(facts.step_traffic[1])),
            ]
            if facts.step_traffic
            else []
        ),
    ]


def _one_line(stats: dict[str, Any]) -> str:
    """Requests, 5xx share and p50/p99 latency over a window, on one line."""
    rate = stats["error_rate"]
    errors = "no errors" if not stats["errors"] else f"{rate:.1%} errors"
    return (
        f"{stats['requests']} requests ({stats['request_rate']:.1f}/s), {errors}, "
        f"p50 {duration(stats['p50_seconds'])}, p99 {duration(stats['p99_seconds'])}"
    )


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


def autoscaling_change(change: AutoscalingChange, environment: str, model_name: str) -> str:
    """What promoting a published deployment does to capacity, and how to avoid it:
    the candidate keeps its own autoscaling settings (Baseten's rule)."""
    previous, candidate = change.previous, change.candidate
    differences = ", ".join(
        f"{name} {after} ({previous.name}: {before})"
        for name, (before, after) in change.fields.items()
    )
    options = " ".join(
        f"--{name.replace('_', '-')} {before}" for name, (before, _) in change.fields.items()
    )
    return (
        f"{candidate.name} keeps its own autoscaling settings (Baseten's rule), which differ "
        f"from those of {environment}'s current deployment {previous.name}: {differences}. "
        f"To give it {previous.name}'s: `brace deployments autoscaling {candidate.id} "
        f"-m {model_name} {options}`."
    )


def rollout_line(item: dict[str, Any], facts: PromotionFacts) -> str:
    """The environment's promotion on one line, for `rollout status --watch` into a
    pipe: status, traffic, step and replicas, and any pending action."""
    promotion = item["in_progress_promotion"]
    if promotion is None:
        return f"{item['name']}: no promotion"
    parts = [
        f"{item['name']}: {promotion['status']}",
        f"{promotion['percent_traffic_to_new_version']}% to {facts.candidate}",
    ]
    view = facts.rollout
    if view is not None and promotion["status"] not in _FINISHED:
        parts.append(
            f"step {view.step}/{view.steps}, previous {facts.previous_ready}/"
            f"{view.previous_target}, candidate {facts.candidate_ready}/{view.candidate_target}"
        )
    if facts.pending and promotion["status"] not in _FINISHED:
        parts.append(f"pending {_pending(facts.pending, promotion['rolling_deploy'])}")
    if promotion["error_message"]:
        parts.append(promotion["error_message"])
    return ", ".join(parts)
