"""The console's model page: its deployments, environments and their forms, as HTML.

Built from `html`'s parts; every value escaped with `esc`.
"""

from __future__ import annotations

from typing import Any

from brace.console.html import (
    button,
    deployment_url,
    environment_url,
    esc,
    number,
    percent,
    status_badge,
)

_AUTOSCALING = (
    ("min_replica", "Min replicas"),
    ("max_replica", "Max replicas"),
    ("autoscaling_window", "Autoscaling window (s)"),
    ("scale_down_delay", "Scale-down delay (s)"),
    ("concurrency_target", "Concurrency target"),
    ("target_utilization_percentage", "Target utilization (%)"),
)
_ROLLING = (
    ("max_surge_percent", "Max surge (%)"),
    ("max_unavailable_percent", "Max unavailable (%)"),
    ("stabilization_time_seconds", "Stabilization time (s)"),
    ("replica_overhead_percent", "Replica overhead (%)"),
)
_CLEANUP = ("SCALE_TO_ZERO", "KEEP", "DEACTIVATE")


def _field(prefix: str, name: str, label: str, value: object) -> str:
    ident = f"{prefix}-{name}"
    return (
        f'<label for="{esc(ident)}">{esc(label)}</label>'
        f'<input id="{esc(ident)}" name="{esc(name)}" type="number" inputmode="numeric" '
        f'value="{esc(value)}">'
    )


def model(data: dict[str, Any]) -> str:
    shown = data["model"]
    model_id = shown["id"]
    environments = [e["name"] for e in data["environments"]]
    parts = [
        f'<p class="crumbs"><a href="/">Models</a> / {esc(shown["name"])}</p>'
        f"<h1>{esc(shown['name'])} <small>{esc(model_id)}</small></h1>"
        "<h2>Deployments</h2>"
    ]
    parts.extend(_deployment_card(shown, d, environments) for d in data["deployments"])
    parts.append("<h2>Environments</h2>")
    parts.extend(_environment_card(model_id, e) for e in data["environments"])
    parts.append(
        '<h2>Model</h2><div class="actions">'
        + button(
            "Delete model",
            "delete_model",
            confirm=f"Delete model {shown['name']} ({model_id}) and its "
            f"{len(data['deployments'])} deployment(s)?",
            danger=True,
            model=model_id,
        )
        + "</div>"
    )
    return "".join(parts)


def _deployment_card(shown: dict[str, Any], d: dict[str, Any], environments: list[str]) -> str:
    """One deployment of the model page: figures, actions, promote, rename, autoscaling."""
    model_id = shown["id"]
    ident = d["id"]
    common = {"model": model_id, "deployment": ident}
    settings = d["autoscaling_settings"]
    promote_options = "".join(
        f'<option value="{esc(name)}">{esc(name)}</option>' for name in environments
    )
    return (
        f'<section class="card" id="deployment-{esc(ident)}">'
        f'<h3><a href="{esc(deployment_url(model_id, ident))}">{esc(d["name"])}</a> '
        f"<small>{esc(ident)}</small> {status_badge(d['status'])}"
        + (f' <span class="tag">{esc(d["environment"])}</span>' if d["environment"] else "")
        + (' <span class="tag">development</span>' if d["is_development"] else "")
        + "</h3>"
        f"<p>Replicas ready / wanted: <b>{d['active_replica_count']} / {d['wanted']}</b> · "
        f"{number(d['traffic_request_rate'], 2)} requests/s · errors "
        f"{percent(d['traffic_error_rate'])}</p>"
        '<div class="actions">'
        + button("Activate", "activate", **common)
        + button("Deactivate", "deactivate", **common)
        + button("Wake", "wake", **common)
        + button(
            "Delete",
            "delete",
            confirm=f"Delete deployment {d['name']} ({ident}) of model {shown['name']}?",
            danger=True,
            **common,
        )
        + "</div>"
        + (
            f'<form class="inline" data-action="promote" data-model="{esc(model_id)}" '
            f'data-deployment="{esc(ident)}"><label for="promote-{esc(ident)}">Promote to'
            f'</label><select id="promote-{esc(ident)}" name="environment">{promote_options}'
            '</select><button type="submit">Promote</button></form>'
            if not d["is_development"] or environments
            else ""
        )
        + f'<form class="inline" data-action="rename" data-model="{esc(model_id)}" '
        f'data-deployment="{esc(ident)}"><label for="rename-{esc(ident)}">New name</label>'
        f'<input id="rename-{esc(ident)}" name="name" value="{esc(d["name"])}" required>'
        '<button type="submit">Rename</button></form>'
        f'<details><summary>Autoscaling</summary><form class="grid" data-action="autoscaling" '
        f'data-model="{esc(model_id)}" data-deployment="{esc(ident)}">'
        + "".join(
            _field(f"as-{ident}", name, label, settings.get(name)) for name, label in _AUTOSCALING
        )
        + '<button type="submit">Save autoscaling</button></form></details></section>'
    )


def _environment_card(model_id: str, e: dict[str, Any]) -> str:
    """One environment of the model page: its current deployment and promotion settings."""
    promotion = e["in_progress_promotion"]
    current = e["current_deployment"]
    settings = e["promotion_settings"]
    rolling = settings["rolling_deploy_config"]
    name = e["name"]
    cleanup = "".join(
        f'<option value="{c}"'
        f"{' selected' if settings['promotion_cleanup_strategy'] == c else ''}>{c}</option>"
        for c in _CLEANUP
    )
    return (
        f'<section class="card"><h3><a href="{esc(environment_url(model_id, name))}">'
        f"{esc(name)}</a> {status_badge(promotion['status']) if promotion else ''}</h3>"
        f"<p>Current deployment: "
        + (
            f'<a href="{esc(deployment_url(model_id, current["id"]))}">{esc(current["name"])}</a>'
            if current
            else "none"
        )
        + (
            f' · <a href="{esc(environment_url(model_id, name))}">follow the rollout</a>'
            if promotion
            else ""
        )
        + "</p>"
        f'<details><summary>Promotion settings</summary><form class="grid" '
        f'data-action="promotion_settings" data-model="{esc(model_id)}" '
        f'data-environment="{esc(name)}">'
        f'<label for="ps-{esc(name)}-rolling">Rolling deploy</label>'
        f'<input id="ps-{esc(name)}-rolling" name="rolling_deploy" type="checkbox"'
        f"{' checked' if settings['rolling_deploy'] else ''}>"
        + "".join(
            _field(f"ps-{name}", field_name, label, rolling.get(field_name))
            for field_name, label in _ROLLING
        )
        + f'<label for="ps-{esc(name)}-cleanup">Cleanup</label>'
        f'<select id="ps-{esc(name)}-cleanup" name="promotion_cleanup_strategy">{cleanup}'
        '</select><button type="submit">Save promotion settings</button></form></details>'
        "</section>"
    )
