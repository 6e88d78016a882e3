"""The console's pages, written as HTML strings (every value escaped with `esc`).

Pages are rendered whole on the server, so the first paint needs no script; the
script (`console.js`) then follows live parts (`data-live`: the rollout panel, the
deployment's charts and replicas, its log) by server-sent events, each event carrying
the panel's new HTML from the same functions here, and sends actions. The style sheet
is inline in every page (one request per page, no flash of unstyled content) and only
runs with the page's nonce (`Content-Security-Policy`). The model page and the
rollout view, the largest, are `html_model` and `html_rollout`; they build on the parts
here (escaping, figures, tables, links, buttons).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from html import escape
from importlib import resources
from typing import Any
from urllib.parse import quote

NONE = "\u2013"
"""Shown for a figure that has no value (no request yet, no target)."""


def esc(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def _asset(name: str) -> str:
    return (resources.files("brace.console") / "static" / name).read_text(encoding="utf-8")


STYLE = _asset("console.css")
SCRIPT = _asset("console.js")


def page(title: str, body: str, *, nonce: str, csrf: str | None, live: str = "") -> str:
    """A whole page: `body` under the navigation (none when signed out, `csrf` None).
    `live`: the path of the page's event stream, if it has one."""
    nav = ""
    script = ""
    if csrf is not None:
        nav = (
            '<header><nav aria-label="Console"><a href="/" class="brand">brace</a>'
            '<a href="/">Models</a><a href="/console/usage">Usage</a>'
            '<button type="button" class="link" data-action="sign_out">Sign out</button>'
            "</nav></header>"
        )
        script = f'<script src="/console/console.js" defer nonce="{esc(nonce)}"></script>'
    meta = f'<meta name="csrf-token" content="{esc(csrf)}">' if csrf else ""
    stream = f' data-stream="{esc(live)}"' if live else ""
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="color-scheme" content="light dark">'
        f"{meta}<title>{esc(title)} · brace</title>"
        f'<style nonce="{esc(nonce)}">{STYLE}</style>{script}</head>'
        f'<body{stream}>{nav}<main id="main">{body}'
        '<p id="message" role="status" aria-live="polite"></p></main></body></html>'
    )


def sign_in(next_path: str, refused: str | None = None) -> str:
    error = f'<p class="error" role="alert">{esc(refused)}</p>' if refused else ""
    return (
        '<section class="signin"><h1>brace console</h1>'
        "<p>Sign in with the server's API key (<code>brace api-key</code> prints it).</p>"
        f"{error}"
        '<form method="post" action="/console/signin">'
        '<label for="key">API key</label>'
        '<input id="key" name="key" type="password" autocomplete="off" required autofocus>'
        f'<input type="hidden" name="next" value="{esc(next_path)}">'
        '<button type="submit">Sign in</button></form></section>'
    )


# small pieces


def number(value: float | None, digits: int = 1) -> str:
    if value is None or not math.isfinite(value):
        return NONE
    return f"{value:.{digits}f}"


def percent(share: float | None) -> str:
    return NONE if share is None else f"{share * 100:.1f}%"


def millis(seconds: float | None) -> str:
    return NONE if seconds is None else f"{seconds * 1000:.1f} ms"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return NONE
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h"


def status_badge(status: str | None) -> str:
    kind = (status or "none").lower()
    return f'<span class="badge s-{esc(kind)}">{esc(status or NONE)}</span>'


def table(head: Sequence[str], rows: Iterable[Sequence[str]], caption: str = "") -> str:
    """`rows` hold HTML already escaped."""
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    th = "".join(f'<th scope="col">{esc(h)}</th>' for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return (
        f'<div class="scroll"><table>{cap}<thead><tr>{th}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


def model_url(model_id: str) -> str:
    return f"/console/models/{quote(model_id, safe='')}"


def deployment_url(model_id: str, deployment_id: str) -> str:
    return f"{model_url(model_id)}/deployments/{quote(deployment_id, safe='')}"


def environment_url(model_id: str, name: str) -> str:
    return f"{model_url(model_id)}/environments/{quote(name, safe='')}"


def button(label: str, action: str, confirm: str = "", danger: bool = False, **data: str) -> str:
    attributes = "".join(f' data-{esc(k)}="{esc(v)}"' for k, v in data.items())
    if confirm:
        attributes += f' data-confirm="{esc(confirm)}"'
    kind = ' class="danger"' if danger else ""
    return (
        f'<button type="button"{kind} data-action="{esc(action)}"{attributes}>{esc(label)}</button>'
    )


# Models


def models(found: list[dict[str, Any]]) -> str:
    if not found:
        return (
            "<h1>Models</h1><p>No models yet. Push one with <code>brace push DIR</code>; "
            "it appears here.</p>"
        )
    parts = ["<h1>Models</h1>"]
    for model in found:
        rows = [
            (
                f'<a href="{esc(deployment_url(model["id"], d["id"]))}">{esc(d["name"])}</a>',
                esc(d["role"] or NONE),
                status_badge(d["status"]),
                f"{d['ready']} / {d['wanted']}",
                number(d["request_rate"], 2),
                percent(d["error_rate"]),
            )
            for d in model["deployments"]
        ]
        environments = ", ".join(
            f'<a href="{esc(environment_url(model["id"], e["name"]))}">{esc(e["name"])}</a>'
            + (f" {status_badge(e['promotion'])}" if e["promotion"] else "")
            for e in model["environments"]
        )
        parts.append(
            f'<section class="card" data-model="{esc(model["name"])}">'
            f'<h2><a href="{esc(model_url(model["id"]))}">{esc(model["name"])}</a> '
            f"<small>{esc(model['id'])}</small></h2>"
            + table(
                ("Deployment", "Role", "Status", "Ready / wanted", "Requests/s", "Errors"), rows
            )
            + f"<p>Environments: {environments or NONE}</p></section>"
        )
    return "".join(parts)


# A deployment


def deployment(data: dict[str, Any], live: dict[str, Any], log: list[str]) -> str:
    model_id = data["model_id"]
    return (
        f'<p class="crumbs"><a href="/">Models</a> / '
        f'<a href="{esc(model_url(model_id))}">{esc(data["model_name"])}</a> / '
        f"{esc(data['name'])}</p>"
        f"<h1>{esc(data['name'])} <small>{esc(data['id'])}</small> "
        f"{status_badge(data['status'])}</h1>"
        f"<p>Replicas ready / wanted: <b>{data['active_replica_count']} / {data['wanted']}</b></p>"
        f'<div id="panel" data-live="panel">{deployment_panel(live)}</div>'
        '<h2>Log</h2><pre id="log" data-live="log" tabindex="0" aria-label="Log, following">'
        + "".join(esc(line) + "\n" for line in log)
        + "</pre>"
    )


def deployment_panel(live: dict[str, Any]) -> str:
    points = live["series"]
    t = live["traffic"]
    charts = "".join(
        f"<figure><figcaption>{esc(title)}</figcaption>{chart(points, key, scale, unit)}</figure>"
        for title, key, scale, unit in (
            ("Requests/s", "rate", 1.0, "/s"),
            ("Error rate", "error_rate", 100.0, "%"),
            ("p50 latency", "p50", 1000.0, " ms"),
            ("p99 latency", "p99", 1000.0, " ms"),
        )
    )
    replicas = [
        (
            esc(r["id"]),
            status_badge(r["state"].upper()),
            esc(r["revision"]),
            esc(r["pid"]),
            duration(r["age"]),
        )
        for r in live["replicas"]
    ]
    return (
        f"<p>Last minute: {number(t['request_rate'], 2)} requests/s · errors "
        f"{percent(t['error_rate'])} · p50 {millis(t['p50_seconds'])} · p99 "
        f"{millis(t['p99_seconds'])} · restarts {live['restarts']}</p>"
        f'<div class="charts">{charts}</div>'
        + (
            table(("Replica", "State", "Revision", "Pid", "Age"), replicas, caption="Replicas")
            if replicas
            else "<p>No replica runs now.</p>"
        )
    )


def chart(points: list[dict[str, Any]], key: str, scale: float, unit: str) -> str:
    """A small SVG line chart of `points[i][key] * scale` over the last minutes."""
    width, height = 240, 60
    values = [(p["ago"], p[key] * scale) for p in points if p[key] is not None]
    if not values:
        return (
            f'<svg viewBox="0 0 {width} {height}" class="chart" aria-hidden="true"></svg>'
            '<p class="muted">no data</p>'
        )
    span = max(max(a for a, _ in values), 60.0)
    peak = max(v for _, v in values)
    top = peak or 1.0
    coordinates = " ".join(
        f"{width - a / span * width:.1f},{height - 4 - v / top * (height - 8):.1f}"
        for a, v in values
    )
    latest = values[-1][1]
    return (
        f'<svg viewBox="0 0 {width} {height}" class="chart" role="img" '
        f'aria-label="latest {latest:.2f}{esc(unit)}, peak {peak:.2f}{esc(unit)}">'
        f'<polyline points="{coordinates}" fill="none" stroke="currentColor" '
        'stroke-width="2"/></svg>'
        f'<p class="muted">now {latest:.2f}{esc(unit)} · peak {peak:.2f}{esc(unit)} · '
        f"last {duration(span)}</p>"
    )


# Usage


def usage(data: dict[str, Any]) -> str:
    rows = [
        (
            esc(r["day"]),
            esc(r["model_name"]),
            f"{esc(r['deployment_name'])} <small>{esc(r['deployment_id'])}</small>"
            + (' <span class="tag">deleted</span>' if r["deleted"] else ""),
            esc(r["resources"]),
            f"{r['replica_seconds']:.1f}",
            esc(r["requests"]),
        )
        for r in data["usage"]
    ]
    totals = data["totals"]
    return (
        "<h1>Usage</h1>"
        f'<form method="get" class="inline"><label for="days">Days</label>'
        f'<input id="days" name="days" type="number" min="1" max="3660" value="{data["days"]}">'
        '<button type="submit">Show</button></form>'
        f"<p>Since {esc(data['since'])} (UTC): <b>{totals['replica_seconds']:.1f}</b> "
        "replica-seconds, "
        f"<b>{totals['requests']}</b> requests. Deleted deployments are included. "
        "<code>brace usage</code> shows the same figures.</p>"
        + (
            table(("Day", "Model", "Deployment", "Resources", "Replica-seconds", "Requests"), rows)
            if rows
            else "<p>No usage recorded yet.</p>"
        )
    )
