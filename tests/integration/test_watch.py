"""`brace watch` end to end: a real server, a real replica, a real watch process.

Each test starts `python -m brace watch DIR` against the test's server, edits the Truss
directory the way an editor would, and checks what the watch printed and what the
gateway serves. Every process is stopped in a finalizer, even when a test fails.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import MakeTruss
from tests.integration.conftest import Server

VERSIONED = """\
import os
import time


class Model:
    def __init__(self, **kwargs):
        pass

    def load(self):
        {load}

    def predict(self, model_input):
        return {{"version": {version}, "greeting": os.environ.get("GREETING")}}
"""
PREDICT = "/model/hello/development/predict"


def model(version: int, load: str = "pass") -> str:
    return VERSIONED.format(version=version, load=load)


@dataclass
class Watch:
    """A running `brace watch` and everything it printed on stdout."""

    process: subprocess.Popen[str]
    stderr: Path
    reader: threading.Thread | None = None
    lines: list[str] = field(default_factory=list)
    seen: int = 0  # lines already matched by `next`
    changed: threading.Condition = field(default_factory=threading.Condition)

    def read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self.changed:
                self.lines.append(line.rstrip("\n"))
                self.changed.notify_all()

    def next(self, match: Callable[[str], bool], timeout: float = 60.0) -> str:
        """The next printed line (after the last one matched) for which `match` holds."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                for index in range(self.seen, len(self.lines)):
                    if match(self.lines[index]):
                        self.seen = index + 1
                        return self.lines[index]
                left = deadline - time.monotonic()
                ended = self.reader is not None and not self.reader.is_alive()
                if left <= 0 or ended:
                    raise AssertionError(
                        f"no such line within {timeout} s; the watch printed:\n"
                        + "\n".join(self.lines)
                        + f"\nand on stderr:\n{self.stderr.read_text()}"
                    )
                self.changed.wait(min(left, 0.5))

    def event(self, kind: str, timeout: float = 60.0) -> dict[str, Any]:
        """The next JSON event of `kind` (with -o json)."""
        line = self.next(lambda text: _kind(text) == kind, timeout)
        data: dict[str, Any] = json.loads(line)
        return data

    def events(self) -> list[str]:
        return [kind for line in self.lines if (kind := _kind(line))]


def _kind(line: str) -> str | None:
    try:
        data = json.loads(line)
    except ValueError:
        return None
    return data.get("event") if isinstance(data, dict) else None


def stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def start_watch(server: Server, tmp_path: Path) -> Iterator[Callable[..., Watch]]:
    """Start `brace ARGS...` (watch, or push --watch) against the test's server."""
    started: list[Watch] = []

    def start(*args: str | Path) -> Watch:
        env = {**os.environ, "BRACE_HOME": str(server.home), "BRACE_PORT": str(server.port)}
        stderr = tmp_path / f"watch-{len(started)}.err"
        with stderr.open("w") as errors:
            process = subprocess.Popen(
                [sys.executable, "-m", "brace", *map(str, args)],
                stdout=subprocess.PIPE,
                stderr=errors,
                text=True,
                env=env,
            )
        watch = Watch(process, stderr)
        started.append(watch)
        watch.reader = threading.Thread(target=watch.read, daemon=True)
        watch.reader.start()
        return watch

    try:
        yield start
    finally:
        for watch in started:
            stop(watch.process)


def write(path: Path, text: str) -> None:
    """Save a file as most editors do: truncate and write in place."""
    path.write_text(text)


def predict(server: Server) -> dict[str, Any]:
    answer = server.post(PREDICT, {})
    assert answer.status == 200, answer.body
    data: dict[str, Any] = answer.json()
    return data


def test_edit_break_and_fix_the_model(
    server: Server, make_truss: MakeTruss, start_watch: Callable[..., Watch]
) -> None:
    directory = make_truss("hello", model=model(1))
    watch = start_watch("watch", directory, "--port", str(server.port), "-o", "json")
    pushed = watch.event("pushed")
    assert pushed["deployment"]["name"] == "development"
    watch.event("ready")
    watch.event("watching")
    assert predict(server)["version"] == 1

    write(directory / "model" / "model.py", model(2))
    reloaded = watch.event("reloaded")
    assert (reloaded["path"], reloaded["mode"]) == ("model/model.py", "class-swap")
    assert predict(server)["version"] == 2  # at once: the line is printed once it serves

    write(directory / "model" / "model.py", model(3).replace("return {", "return {{"))
    failed = watch.event("reload_failed")
    assert failed["message"].startswith("SyntaxError")
    assert failed["version"] == reloaded["version"]
    assert "model.py" in failed["traceback"]
    assert predict(server)["version"] == 2  # the last good code keeps serving

    write(directory / "model" / "model.py", model(3))
    fixed = watch.event("reloaded")
    assert fixed["version"] == reloaded["version"] + 1
    assert predict(server)["version"] == 3
    assert watch.process.poll() is None
    assert len(server.replica_pids()) == 1  # the same replica all along


def test_text_output_and_ctrl_c(
    server: Server, make_truss: MakeTruss, start_watch: Callable[..., Watch]
) -> None:
    directory = make_truss("hello", model=model(1))
    watch = start_watch("push", directory, "--watch")
    watch.next(lambda text: "watching" in text)
    replicas = server.replica_pids()
    write(directory / "model" / "model.py", model(2))
    line = watch.next(lambda text: "reloaded in" in text)
    stamp, path, what = line.split("  ", 2)
    assert time.strptime(stamp, "%H:%M:%S")
    assert path == "model/model.py"
    assert what.startswith("reloaded in ") and what.endswith("ms (version 2)")
    write(directory / "model" / "model.py", "class Model:\n    def predict(self x):\n")
    watch.next(lambda text: "not applied: SyntaxError" in text)
    watch.next(lambda text: text.strip().startswith("def predict(self x):"))  # its traceback
    watch.process.send_signal(signal.SIGINT)
    assert watch.process.wait(timeout=15) == 130
    watch.next(
        lambda text: text.endswith("stopped watching; the development deployment keeps running")
    )
    assert server.replica_pids() == replicas  # the deployment keeps running
    assert predict(server)["version"] == 2


def test_ctrl_c_while_a_change_is_applied_stops_at_once(
    server: Server, make_truss: MakeTruss, start_watch: Callable[..., Watch]
) -> None:
    """A new replica that takes long to load is being started for a config change:
    one Ctrl-C ends the watch (exit 130) without waiting, and the old replica serves."""
    config = "model_name: hello\nenvironment_variables:\n  GREETING: {}\n"
    slow = 'if os.environ.get("GREETING") == "slow":\n            time.sleep(120)'
    directory = make_truss("hello", config=config.format("hi"), model=model(1, load=slow))
    watch = start_watch("watch", directory, "-o", "json")
    watch.event("ready")
    write(directory / "config.yaml", config.format("slow"))
    watch.event("replacing")
    time.sleep(0.5)  # the loop is waiting for the new replica
    interrupted = time.monotonic()
    watch.process.send_signal(signal.SIGINT)
    assert watch.process.wait(timeout=15) == 130
    assert time.monotonic() - interrupted < 5
    watch.event("stopped")
    assert "replace_failed" not in watch.events()
    assert predict(server)["greeting"] == "hi"


def test_environment_variable_change_fails_no_request(
    server: Server, make_truss: MakeTruss, start_watch: Callable[..., Watch]
) -> None:
    config = "model_name: hello\nenvironment_variables:\n  GREETING: {}\n"
    directory = make_truss("hello", config=config.format("hi"), model=model(1))
    watch = start_watch("watch", directory, "-o", "json")
    watch.event("ready")
    assert predict(server)["greeting"] == "hi"
    statuses: list[int] = []
    greetings: list[str | None] = []
    done = threading.Event()

    def steady() -> None:
        while not done.is_set():
            try:
                answer = server.post(PREDICT, {})
            except OSError:
                statuses.append(0)
                continue
            statuses.append(answer.status)
            if answer.status == 200:
                greetings.append(answer.json()["greeting"])

    thread = threading.Thread(target=steady)
    thread.start()
    try:
        time.sleep(0.3)
        write(directory / "config.yaml", config.format("bonjour"))
        replacing = watch.event("replacing")
        assert replacing["fields"] == ["environment_variables"]
        replaced = watch.event("replaced")
        assert replaced["revision"] == 2
        time.sleep(0.3)
    finally:
        done.set()
        thread.join(timeout=30)
    assert predict(server)["greeting"] == "bonjour"
    failed = [status for status in statuses if status != 200]
    assert failed == [], f"{len(failed)} of {len(statuses)} requests failed: {set(failed)}"
    assert len(statuses) > 20
    assert greetings[0] == "hi" and greetings[-1] == "bonjour"
    assert greetings == sorted(greetings, key=lambda g: g == "bonjour")  # one switch


def test_a_slow_load_keeps_the_old_version_answering(
    server: Server, make_truss: MakeTruss, start_watch: Callable[..., Watch]
) -> None:
    directory = make_truss("hello", model=model(1))
    watch = start_watch("watch", directory, "-o", "json")
    watch.event("ready")
    saved = time.monotonic()
    write(directory / "model" / "model.py", model(2, load="time.sleep(1)"))
    answers: list[tuple[float, int]] = []
    while time.monotonic() - saved < 0.8:  # load() runs for 1 s from the save
        started = time.monotonic()
        version = predict(server)["version"]
        answers.append((time.monotonic() - started, version))
    reloaded = watch.event("reloaded")
    assert reloaded["mode"] == "new-instance"
    assert reloaded["ms"] >= 1000
    assert predict(server)["version"] == 2
    assert len(answers) > 10
    assert {version for _, version in answers} == {1}
    assert max(took for took, _ in answers) < 0.5  # answered, not held until the load ends


def test_invalid_config_and_unapplied_fields_are_reported(
    server: Server, make_truss: MakeTruss, start_watch: Callable[..., Watch]
) -> None:
    directory = make_truss("hello", model=model(1))
    watch = start_watch("watch", directory, "-o", "json")
    watch.event("ready")
    write(directory / "config.yaml", "model_name: hello\nruntime: [1\n")
    invalid = watch.event("config_invalid")
    assert "config.yaml line" in invalid["message"]
    assert predict(server)["version"] == 1
    write(directory / "config.yaml", "model_name: hello\nsystem_packages: [ffmpeg]\n")
    notice = watch.event("not_applied")
    assert notice["message"].startswith("system_packages (ffmpeg) are not installed by brace")
    write(directory / "model" / "model.py", model(2))
    watch.event("reloaded")
    assert "replacing" not in watch.events()
    assert predict(server)["version"] == 2


def test_a_save_during_a_reload_is_applied_right_after(
    server: Server, make_truss: MakeTruss, start_watch: Callable[..., Watch]
) -> None:
    directory = make_truss("hello", model=model(1))
    watch = start_watch("watch", directory, "-o", "json")
    watch.event("watching")
    write(directory / "model" / "model.py", model(2, load="time.sleep(0.6)"))
    time.sleep(0.3)  # the reload of version 2 is in load()
    write(directory / "model" / "model.py", model(3, load="time.sleep(0.6)"))
    watch.event("reloaded")
    assert predict(server)["version"] == 3  # the newest text won
    assert watch.process.poll() is None


DATA_MODEL = """\
class Model:
    def __init__(self, data_dir, **kwargs):
        self.data_dir = data_dir

    def load(self):
        self.word = (self.data_dir / "word.txt").read_text().strip()

    def predict(self, model_input):
        return {"word": self.word}
"""


def test_a_data_change_runs_load_again(
    server: Server, make_truss: MakeTruss, start_watch: Callable[..., Watch]
) -> None:
    directory = make_truss("hello", model=DATA_MODEL, files={"data/word.txt": "one\n"})
    watch = start_watch("watch", directory, "-o", "json")
    watch.event("watching")
    assert predict(server) == {"word": "one"}
    write(directory / "data" / "word.txt", "two\n")
    applied = watch.next(lambda text: _kind(text) in ("reloaded", "replaced"))
    assert json.loads(applied)["path"] == "data/word.txt"
    assert predict(server) == {"word": "two"}


LEAKY = """\
class Model:
    def __init__(self, secrets, **kwargs):
        self.secrets = secrets

    def load(self):
        {load}

    def predict(self, model_input):
        raise ValueError("rejected " + self.secrets["hf_token"])
"""
TOKEN = "hf_Zx9LmQ2vR7tW"


def test_secret_values_never_reach_watch_events_or_logs(
    server: Server, make_truss: MakeTruss, start_watch: Callable[..., Watch]
) -> None:
    """A model whose exceptions carry a secret's value: `brace watch -o json` events
    (log lines, reload failures) and `brace logs` show `[secret:NAME]` instead."""
    (server.home / "secrets").mkdir()
    (server.home / "secrets" / "hf_token").write_text(TOKEN + "\n")
    config = "model_name: hello\nsecrets:\n  hf_token: null\n"
    directory = make_truss("hello", config=config, model=LEAKY.format(load="pass"))
    watch = start_watch("watch", directory, "--port", str(server.port), "-o", "json")
    watch.event("watching")

    assert server.post(PREDICT, {}).status == 500
    watch.next(lambda text: "ValueError: rejected [secret:hf_token]" in text)
    broken = LEAKY.format(load='raise KeyError(self.secrets["hf_token"])')
    write(directory / "model" / "model.py", broken)
    failed = watch.event("reload_failed")
    assert failed["message"].startswith("KeyError: '[secret:hf_token]'")
    assert "[secret:hf_token]" in failed["traceback"]

    logs = server.brace("logs", "development", "-o", "json")
    assert logs.returncode == 0, logs.stderr
    assert "ValueError: rejected [secret:hf_token]" in logs.stdout
    assert TOKEN not in logs.stdout
    assert TOKEN not in "\n".join(watch.lines)
    assert TOKEN not in watch.stderr.read_text()
