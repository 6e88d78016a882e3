"""How each watch event reads: one line for people, one JSON object for scripts."""

from __future__ import annotations

import json
import time

import pytest

from brace.devserver.events import Event, EventKind, duration, to_json, to_text

AT = 1_800_000_000.25
STAMP = time.strftime("%H:%M:%S", time.localtime(AT))
MODEL = ("model/model.py",)


@pytest.mark.parametrize(
    ("event", "text"),
    [
        pytest.param(
            Event(EventKind.WATCHING, AT, ("/src/hello", "/src/common")),
            "watching /src/hello, /src/common (Ctrl-C stops)",
            id="watching",
        ),
        pytest.param(
            Event(
                EventKind.READY,
                AT,
                message="development deployment of model hello",
                ms=1234,
                revision=3,
            ),
            "development deployment of model hello: ready in 1.2 s (revision 3)",
            id="ready",
        ),
        pytest.param(
            Event(EventKind.RELOADED, AT, MODEL, ms=14.4, version=3, mode="class-swap"),
            "model/model.py  reloaded in 14 ms (version 3)",
            id="reloaded",
        ),
        pytest.param(
            Event(EventKind.RELOADED, AT, MODEL, ms=1501, version=4, mode="new-instance"),
            "model/model.py  reloaded in 1.5 s (version 4, new instance)",
            id="reloaded-new-instance",
        ),
        pytest.param(
            Event(EventKind.UNCHANGED, AT, MODEL, version=3),
            "model/model.py  no change to apply (version 3)",
            id="unchanged",
        ),
        pytest.param(
            Event(EventKind.UNCHANGED, AT, ("config.yaml",)),
            "config.yaml  no change to apply",
            id="unchanged-config",
        ),
        pytest.param(
            Event(
                EventKind.RELOAD_FAILED,
                AT,
                MODEL,
                version=3,
                message="NameError: name 'x' is not defined (model/model.py, line 9)",
                traceback='  File "model/model.py", line 9, in predict\n    x\n'
                "NameError: name 'x' is not defined\n",
            ),
            "model/model.py  not applied: NameError: name 'x' is not defined "
            "(model/model.py, line 9) (still serving version 3)\n"
            '      File "model/model.py", line 9, in predict\n'
            "        x\n"
            "    NameError: name 'x' is not defined",
            id="reload-failed",
        ),
        pytest.param(
            Event(
                EventKind.RECORDED,
                AT,
                MODEL,
                message="the development deployment is scaled to zero: its next start loads it",
            ),
            "model/model.py  saved; the development deployment is scaled to zero: its next "
            "start loads it",
            id="recorded",
        ),
        pytest.param(
            Event(
                EventKind.CONFIG_INVALID,
                AT,
                ("config.yaml",),
                message="config.yaml: field 'runtime': expected a mapping, got a list",
                hint="Fix it.",
            ),
            "config.yaml  invalid, nothing applied: config.yaml: field 'runtime': expected a "
            "mapping, got a list\n    Fix it.",
            id="config-invalid",
        ),
        pytest.param(
            Event(EventKind.NOT_APPLIED, AT, ("config.yaml",), message="system_packages ..."),
            "config.yaml  system_packages ...",
            id="not-applied",
        ),
        pytest.param(
            Event(
                EventKind.REPLACING,
                AT,
                ("config.yaml",),
                fields=("environment_variables",),
                message="environment_variables changed: starting a new replica",
            ),
            "config.yaml  environment_variables changed: starting a new replica",
            id="replacing",
        ),
        pytest.param(
            Event(EventKind.REPLACED, AT, ("config.yaml",), ms=2310, revision=5),
            "config.yaml  applied in 2.3 s: a new replica serves (revision 5)",
            id="replaced",
        ),
        pytest.param(
            Event(
                EventKind.REPLACE_FAILED,
                AT,
                ("config.yaml",),
                message="the development deployment is BUILD_FAILED",
                hint="It is tried again at the next saved change.",
            ),
            "config.yaml  not applied: the development deployment is BUILD_FAILED\n"
            "    It is tried again at the next saved change.",
            id="replace-failed",
        ),
        pytest.param(
            Event(EventKind.STOPPED, AT),
            "stopped watching; the development deployment keeps running",
            id="stopped",
        ),
    ],
)
def test_text(event: Event, text: str) -> None:
    assert to_text(event) == f"{STAMP}  {text}"


def test_log_lines_are_printed_as_they_are() -> None:
    line = "2026-01-01T10:00:00.000+01:00 INFO [r1] brace.runtime: Model loaded in 3 ms (version 1)"
    assert to_text(Event(EventKind.LOG, AT, message=line)) == line


def test_many_paths_are_shortened() -> None:
    paths = ("a.py", "b.py", "c.py", "d.py")
    event = Event(EventKind.UNCHANGED, AT, paths, version=1)
    assert to_text(event) == f"{STAMP}  a.py, b.py (+2 more)  no change to apply (version 1)"


def test_json_has_the_set_fields_only() -> None:
    event = Event(
        EventKind.RELOADED, AT, MODEL, ms=14.44, version=3, mode="class-swap", replica_ms=9.06
    )
    data = to_json(event)
    assert data == {
        "event": "reloaded",
        "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(AT)) + ".250",
        "path": "model/model.py",
        "paths": ["model/model.py"],
        "ms": 14.4,
        "replica_ms": 9.1,
        "version": 3,
        "mode": "class-swap",
    }
    assert json.loads(json.dumps(data)) == data


def test_json_of_a_failed_reload_carries_the_traceback() -> None:
    event = Event(
        EventKind.RELOAD_FAILED,
        AT,
        MODEL,
        version=2,
        stage="import",
        message="SyntaxError: invalid syntax",
        traceback="Traceback ...",
    )
    data = to_json(event)
    assert {k: data[k] for k in ("event", "version", "stage", "message", "traceback")} == {
        "event": "reload_failed",
        "version": 2,
        "stage": "import",
        "message": "SyntaxError: invalid syntax",
        "traceback": "Traceback ...",
    }


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        pytest.param(0.4, "0 ms", id="sub-ms"),
        pytest.param(14.6, "15 ms", id="ms"),
        pytest.param(999.4, "999 ms", id="just-under-a-second"),
        pytest.param(1000, "1.0 s", id="a-second"),
        pytest.param(61_234, "61.2 s", id="a-minute"),
    ],
)
def test_duration(ms: float, text: str) -> None:
    assert duration(ms) == text
