"""The console's rollout view: an environment's promotion, its traffic split and the
two sides' figures, as HTML. `rollout_panel` is the part the live updates replace.

Built from `html`'s parts; every value escaped with `esc`.
"""

from __future__ import annotations

from typing import Any

from brace.console.html import (
    NONE,
    button,
    duration,
    esc,
    millis,
    model_url,
    number,
    percent,
    status_badge,
    table,
)

ROLLOUT_ACTIONS = (
    ("Pause", "pause", ""),
    ("Resume", "resume", ""),
    ("Cancel", "cancel", ""),
    ("Force cancel", "force_cancel", "Send all traffic back to the previous deployment now?"),
    ("Force roll forward", "force_roll_forward", "Send all traffic to the new deployment now?"),
)


def rollout(data: dict[str, Any]) -> str:
    model_id = data["model"]["id"]
    name = data["environment"]["name"]
    buttons = "".join(
        button(
            label, action, confirm=confirm, danger=bool(confirm), model=model_id, environment=name
        )
        for label, action, confirm in ROLLOUT_ACTIONS
    )
    return (
        f'<p class="crumbs"><a href="/">Models</a> / '
        f'<a href="{esc(model_url(model_id))}">{esc(data["model"]["name"])}</a> / {esc(name)}</p>'
        f"<h1>{esc(data['model']['name'])} · {esc(name)}</h1>"
        f'<div id="panel" data-live="panel">{rollout_panel(data)}</div>'
        f'<div class="actions" aria-label="Rollout actions">{buttons}</div>'
    )


def rollout_panel(data: dict[str, Any]) -> str:
    """The part of the rollout view that the live updates replace."""
    current = data["environment"]["current_deployment"]
    promotion = data["promotion"]
    head = (
        "<p>Current deployment: "
        + (f"<b>{esc(current['name'])}</b> ({esc(current['id'])})" if current else "none")
        + "</p>"
    )
    if promotion is None:
        return head + "<p>No promotion yet. Start one with <code>brace promote</code>.</p>"
    return (
        head
        + _split_bar(int(promotion["percent"]))
        + '<dl class="facts">'
        + "".join(f"<dt>{esc(k)}</dt><dd>{v}</dd>" for k, v in _facts(promotion))
        + "</dl>"
        + table(
            ("Side", "Status", "Ready / target", "Requests/s", "Errors", "p50", "p99"),
            _side_rows(promotion),
            caption=f"Traffic over the last {duration(_window(promotion))} "
            f"(the step began {duration(promotion['step_seconds'])} ago)",
        )
    )


def _split_bar(percent_to_candidate: int) -> str:
    """The traffic split as a bar, previous on the left, with its legend."""
    left = 100 - percent_to_candidate
    return (
        f'<svg class="split" id="split" viewBox="0 0 100 8" preserveAspectRatio="none" '
        f'role="img" aria-label="traffic: {left}% previous, {percent_to_candidate}% new">'
        f'<rect class="old" width="{left}" height="8"/>'
        f'<rect class="new" x="{left}" width="{percent_to_candidate}" height="8"/></svg>'
        f'<p class="legend"><span>previous {left}%</span>'
        f"<span>new {percent_to_candidate}%</span></p>"
    )


def _facts(promotion: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, HTML) of the promotion's status, step, split, next step and pending action."""
    step = (
        f"step {promotion['step']} of {promotion['steps']}"
        if promotion["step"] is not None
        else ("not rolling" if not promotion["rolling"] else NONE)
    )
    next_step = (
        duration(promotion["next_step_in"])
        if promotion["next_step_in"] is not None
        else (f"waiting for {esc(promotion['waiting_for'])}" if promotion["waiting_for"] else NONE)
    )
    facts = [
        ("Status", f'<span id="rollout-status">{status_badge(promotion["status"])}</span>'),
        ("Step", f'<span id="rollout-step">{esc(step)}</span>'),
        ("Traffic to new", f'<span id="rollout-percent">{int(promotion["percent"])}%</span>'),
        ("Next step", next_step),
        ("Pending action", esc(promotion["pending"] or "none")),
    ]
    if promotion["error_message"]:
        facts.append(("Error", esc(promotion["error_message"])))
    return facts


def _side_rows(promotion: dict[str, Any]) -> list[tuple[str, ...]]:
    """One table row per side (previous, new) that exists, with its traffic."""
    rows: list[tuple[str, ...]] = []
    for label, side in (("previous", promotion["previous"]), ("new", promotion["candidate"])):
        if side is None:
            continue
        t = side["traffic"]
        rows.append(
            (
                f"{esc(label)}: <b>{esc(side['name'])}</b> <small>{esc(side['id'])}</small>",
                status_badge(side["status"]),
                f"{side['ready']} / {NONE if side['target'] is None else side['target']}",
                number(t["request_rate"], 2),
                percent(t["error_rate"]),
                millis(t["p50_seconds"]),
                millis(t["p99_seconds"]),
            )
        )
    return rows


def _window(promotion: dict[str, Any]) -> float | None:
    for side in (promotion["candidate"], promotion["previous"]):
        if side is not None:
            seconds: float = side["traffic"]["window_seconds"]
            return seconds
    return None
