"""What the watch loop reports, and how each report reads: one line of text, or JSON.

The loop (watcher.py) only builds `Event`s and hands them to a callback; the CLI
prints them, with `to_text` for people or `to_json` (one compact object per line) for
scripts. Both renderings are pure, so the wording is tested without a watcher.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class EventKind(StrEnum):
    WATCHING = "watching"  # the loop started: which directories it watches
    READY = "ready"  # the development deployment serves (after the first push)
    RELOADED = "reloaded"  # new code serves in the running replica
    UNCHANGED = "unchanged"  # the replica found nothing new to load
    RELOAD_FAILED = "reload_failed"  # the new code failed; the last good code serves
    RECORDED = "recorded"  # no replica to reload: the next start reads the directory
    CONFIG_INVALID = "config_invalid"  # config.yaml does not load; nothing applied
    CONFIG_CHANGED = "config_changed"  # fields with nothing to apply (name, description)
    NOT_APPLIED = "not_applied"  # a field brace cannot apply on this machine
    REPLACING = "replacing"  # a change that needs a new replica: it is starting
    REPLACED = "replaced"  # the new replica serves
    REPLACE_FAILED = "replace_failed"  # the new replica did not come up
    LOG = "log"  # a line of the deployment's log (replica output, controller notes)
    SECRET_SAVED = "secret_saved"  # a declared secret saved after the replica started
    STOPPED = "stopped"  # Ctrl-C


@dataclass(frozen=True)
class Event:
    kind: EventKind
    at: float  # wall-clock time (time.time())
    paths: tuple[str, ...] = ()  # relative to the Truss directory
    ms: float | None = None  # how long applying took, measured by the watcher
    version: int | None = None  # the replica's model version after the event
    mode: str | None = None  # how a reload was applied: class-swap | new-instance
    revision: int | None = None  # the development deployment's revision
    fields: tuple[str, ...] = ()  # changed config.yaml fields
    message: str | None = None  # an error, a notice, a log line
    hint: str | None = None
    stage: str | None = None  # where a failed reload stopped (import, load, ...)
    traceback: str | None = None  # the user's frames of a failed reload
    replica_ms: float | None = None  # the reload's own time inside the replica


def to_json(event: Event) -> dict[str, Any]:
    data: dict[str, Any] = {
        "event": event.kind.value,
        "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(event.at))
        + f".{int(event.at * 1000) % 1000:03d}",
    }
    if event.paths:
        data["path"] = event.paths[0]
        data["paths"] = list(event.paths)
    for name in ("ms", "replica_ms"):
        value = getattr(event, name)
        if value is not None:
            data[name] = round(value, 1)
    for name in ("version", "mode", "revision", "stage", "message", "hint", "traceback"):
        value = getattr(event, name)
        if value is not None:
            data[name] = value
    if event.fields:
        data["fields"] = list(event.fields)
    return data


def duration(ms: float) -> str:
    return f"{ms:.0f} ms" if ms < 1000 else f"{ms / 1000:.1f} s"


def _paths(paths: tuple[str, ...]) -> str:
    if len(paths) <= 3:
        return ", ".join(paths)
    return f"{', '.join(paths[:2])} (+{len(paths) - 2} more)"


def _what(event: Event) -> str:
    kind = event.kind
    if kind is EventKind.WATCHING:
        return f"watching {_paths(event.paths)} (Ctrl-C stops)"
    if kind is EventKind.READY:
        took = f" in {duration(event.ms)}" if event.ms is not None else ""
        return f"{event.message}: ready{took} (revision {event.revision})"
    if kind is EventKind.RELOADED:
        how = ", new instance" if event.mode == "new-instance" else ""
        return f"reloaded in {duration(event.ms or 0)} (version {event.version}{how})"
    if kind is EventKind.UNCHANGED:
        serving = f" (version {event.version})" if event.version is not None else ""
        return f"no change to apply{serving}"
    if kind is EventKind.RELOAD_FAILED:
        serving = f" (still serving version {event.version})" if event.version else ""
        return f"not applied: {event.message}{serving}"
    if kind is EventKind.RECORDED:
        return f"saved; {event.message}"
    if kind is EventKind.CONFIG_INVALID:
        return f"invalid, nothing applied: {event.message}"
    if kind in (EventKind.CONFIG_CHANGED, EventKind.NOT_APPLIED):
        return str(event.message)
    if kind is EventKind.REPLACED:
        return (
            f"applied in {duration(event.ms or 0)}: a new replica serves "
            f"(revision {event.revision})"
        )
    if kind is EventKind.REPLACE_FAILED:
        return f"not applied: {event.message}"
    if kind is EventKind.STOPPED:
        return "stopped watching; the development deployment keeps running"
    return str(event.message)


def to_text(event: Event) -> str:
    """The event for people: `HH:MM:SS  path  what happened`, then any detail lines."""
    if event.kind is EventKind.LOG:
        return str(event.message)
    stamp = time.strftime("%H:%M:%S", time.localtime(event.at))
    where = (
        f"{_paths(event.paths)}  " if event.paths and event.kind is not EventKind.WATCHING else ""
    )
    lines = [f"{stamp}  {where}{_what(event)}"]
    if event.hint:
        lines.append(f"    {event.hint}")
    if event.traceback:
        lines.extend(f"    {line}" for line in event.traceback.rstrip("\n").splitlines())
    return "\n".join(lines)
