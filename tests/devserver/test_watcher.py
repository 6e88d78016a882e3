"""The watch loop, driven by a list of change batches, a fake replica and a fake deployment.

No server, no watchfiles, no sleeps: each test hands `Watcher.run` (or `handle`) the
batches a user's saves would produce and checks what was called and what was reported.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from brace.config import Truss, load_truss
from brace.devserver.events import Event, EventKind
from brace.devserver.replica import ReloadAnswer, ReloadResult
from brace.devserver.target import DeploymentState, ReplacementFailed, ReplicaRef
from brace.devserver.watcher import Watcher
from brace.store.statuses import DeploymentStatus
from tests.conftest import MakeTruss

SOCKET = Path("/tmp/replica.sock")
APPLIED = ReloadAnswer(ReloadResult.APPLIED, version=2, mode="class-swap", ms=3.0)
UNCHANGED = ReloadAnswer(ReloadResult.UNCHANGED, version=1, mode="unchanged")
REJECTED = ReloadAnswer(
    ReloadResult.REJECTED,
    version=1,
    stage="import",
    error="SyntaxError: invalid syntax (model.py, line 3)",
    traceback='  File "model/model.py", line 3\nSyntaxError: invalid syntax\n',
)
UNREACHABLE = ReloadAnswer(ReloadResult.UNREACHABLE, error="[Errno 111] Connection refused")


@dataclass
class FakeTarget:
    """The development deployment: one replica of revision 1, pushes that start new ones."""

    status: DeploymentStatus = DeploymentStatus.ACTIVE
    revision: int = 1
    running: bool = True
    failures: list[str] = field(default_factory=list)  # messages of the next failed waits
    pushes: int = 0

    def state(self) -> DeploymentState:
        replicas = (ReplicaRef(self.revision, SOCKET),) if self.running else ()
        return DeploymentState(self.status, self.revision, replicas)

    def push(self) -> int:
        self.pushes += 1
        self.revision += 1
        return self.revision

    def wait(self, revision: int, on_status: Callable[[str], None]) -> DeploymentState:
        on_status(self.status.value)
        if self.failures:
            raise ReplacementFailed(self.failures.pop(0))
        return self.state()


@dataclass
class FakeReplica:
    answers: list[ReloadAnswer] = field(default_factory=list)
    calls: list[Path] = field(default_factory=list)

    def __call__(self, socket: Path) -> ReloadAnswer:
        self.calls.append(socket)
        return self.answers.pop(0) if self.answers else APPLIED


class Clock:
    """Advances 5 ms per reading: every measured duration is a known number."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 0.005
        return self.now


@dataclass
class Loop:
    truss: Truss
    watcher: Watcher
    target: FakeTarget
    replica: FakeReplica
    events: list[Event]
    roots: list[tuple[Path, ...]]

    @property
    def root(self) -> Path:
        return self.truss.path

    def save(self, relative: str, text: str) -> str:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return str(path)

    def handle(self, *paths: str) -> None:
        self.watcher.handle(str(self.root / p) if not p.startswith("/") else p for p in paths)

    def said(self) -> list[tuple[str, tuple[str, ...], str | None]]:
        """What was reported since the last call: (kind, paths, message), log lines aside."""
        seen = [(e.kind.value, e.paths, e.message) for e in self.events]
        self.events.clear()
        return seen


CONFIG = "model_name: hello\nenvironment_variables: {GREETING: hi}\n"


@pytest.fixture
def loop(make_truss: MakeTruss) -> Loop:
    directory = make_truss("hello", config=CONFIG)
    return make_loop(load_truss(directory))


def make_loop(
    truss: Truss,
    batches: list[set[tuple[Any, str]]] | None = None,
    target: FakeTarget | None = None,
) -> Loop:
    events: list[Event] = []
    roots: list[tuple[Path, ...]] = []
    target = target or FakeTarget()
    replica = FakeReplica()
    queue = list(batches or [])

    def changes(
        watched: tuple[Path, ...], keep: Callable[[str], bool], stop: threading.Event
    ) -> Iterator[set[tuple[Any, str]]]:
        roots.append(watched)
        while queue and not stop.is_set():
            batch = queue.pop(0)
            yield {(c, p) for c, p in batch if keep(p)}

    watcher = Watcher(
        truss,
        target,
        events.append,
        model_name="hello",
        changes=changes,
        reload=replica,
        clock=Clock(),
        wall=lambda: 1_800_000_000.0,
    )
    return Loop(truss, watcher, target, replica, events, roots)


# model code


def test_a_saved_model_file_is_reloaded_in_the_replica(loop: Loop) -> None:
    loop.handle("model/model.py")
    assert loop.replica.calls == [SOCKET]
    [event] = loop.events
    assert (event.kind, event.paths, event.version, event.mode) == (
        EventKind.RELOADED,
        ("model/model.py",),
        2,
        "class-swap",
    )
    assert event.ms == pytest.approx(5.0)  # one clock step from the call to the answer
    assert event.replica_ms == 3.0
    assert loop.target.pushes == 0


def test_a_burst_of_saves_is_one_reload(loop: Loop) -> None:
    loop.handle("model/model.py", "model/helpers.py", "packages/util/__init__.py")
    assert loop.replica.calls == [SOCKET]
    assert loop.said() == [
        ("reloaded", ("model/helpers.py", "model/model.py", "packages/util/__init__.py"), None)
    ]


def test_editor_files_and_caches_do_nothing(loop: Loop) -> None:
    loop.handle(
        "model/.model.py.swp",
        "model/4913",
        "model/model.py~",
        "model/__pycache__/model.cpython-311.pyc",
        ".git/index",
        "README.md",
    )
    assert (loop.replica.calls, loop.events, loop.target.pushes) == ([], [], 0)


def test_a_created_directory_is_not_a_change(loop: Loop) -> None:
    (loop.root / "model" / "sub").mkdir()
    loop.handle("model/sub")
    assert (loop.replica.calls, loop.events) == ([], [])


def test_a_broken_save_reports_the_error_and_the_next_good_one_applies(loop: Loop) -> None:
    loop.replica.answers = [REJECTED, APPLIED]
    loop.handle("model/model.py")
    [failed] = loop.events
    assert failed.kind is EventKind.RELOAD_FAILED
    assert (failed.message, failed.stage, failed.version, failed.traceback) == (
        REJECTED.error,
        "import",
        1,
        REJECTED.traceback,
    )
    loop.events.clear()
    loop.handle("model/model.py")
    assert [e.kind for e in loop.events] == [EventKind.RELOADED]
    assert loop.target.pushes == 0  # a broken save never replaces the replica


def test_nothing_new_is_reported_as_such(loop: Loop) -> None:
    loop.replica.answers = [UNCHANGED]
    loop.handle("model/model.py")
    assert [(e.kind, e.version) for e in loop.events] == [(EventKind.UNCHANGED, 1)]


def test_without_a_replica_the_change_is_recorded(loop: Loop) -> None:
    loop.target.running = False
    loop.target.status = DeploymentStatus.SCALED_TO_ZERO
    loop.handle("model/model.py")
    assert loop.replica.calls == []
    assert loop.said() == [
        (
            "recorded",
            ("model/model.py",),
            "the development deployment is scaled to zero: its next start loads it",
        )
    ]
    loop.handle()  # a heartbeat: nothing to retry
    assert loop.replica.calls == []


def test_a_starting_replica_is_reloaded_once_it_answers(loop: Loop) -> None:
    loop.replica.answers = [UNREACHABLE, UNREACHABLE, APPLIED]
    loop.handle("model/model.py")
    assert loop.said() == [
        (
            "recorded",
            ("model/model.py",),
            "the replica is starting: it loads the newest code (retrying the reload)",
        )
    ]
    loop.handle()  # heartbeat: still starting, nothing said
    assert loop.said() == []
    loop.handle()  # heartbeat: it answers
    assert loop.said() == [("reloaded", ("model/model.py",), None)]
    loop.handle()
    assert len(loop.replica.calls) == 3  # nothing left to retry


def test_a_retry_that_finds_the_code_loaded_says_nothing(loop: Loop) -> None:
    loop.replica.answers = [UNREACHABLE, UNCHANGED]
    loop.handle("model/model.py")
    loop.said()
    loop.handle()
    assert loop.said() == []


def test_several_replicas_report_the_worst_answer(loop: Loop) -> None:
    other = Path("/tmp/other.sock")

    def state() -> DeploymentState:
        return DeploymentState(
            DeploymentStatus.ACTIVE, 1, (ReplicaRef(1, SOCKET), ReplicaRef(1, other))
        )

    loop.target.state = state  # type: ignore[method-assign]
    loop.replica.answers = [APPLIED, REJECTED]
    loop.handle("model/model.py")
    assert loop.replica.calls == [SOCKET, other]
    assert [e.kind for e in loop.events] == [EventKind.RELOAD_FAILED]


def test_a_replica_without_live_reload_is_replaced(loop: Loop) -> None:
    loop.replica.answers = [ReloadAnswer(ReloadResult.UNSUPPORTED, error="404")]
    loop.handle("model/model.py")
    assert loop.target.pushes == 1
    assert [(k, m) for k, _, m in loop.said()] == [
        ("replacing", "the replica has no live reload: starting a new replica"),
        ("replaced", None),
    ]


# data/


def test_data_is_reloaded_and_a_new_replica_runs_load_if_the_replica_sees_no_change(
    loop: Loop,
) -> None:
    loop.replica.answers = [UNCHANGED]
    loop.handle("data/weights.txt")
    assert loop.replica.calls == [SOCKET]
    assert loop.target.pushes == 1
    assert [(k, m) for k, _, m in loop.said()] == [
        ("replacing", "data changed: starting a new replica, whose load() reads it"),
        ("replaced", None),
    ]


def test_data_reloaded_as_a_new_instance(loop: Loop) -> None:
    loop.replica.answers = [ReloadAnswer(ReloadResult.APPLIED, version=2, mode="new-instance")]
    loop.handle("data/weights.txt")
    assert loop.target.pushes == 0
    assert [(e.kind, e.mode) for e in loop.events] == [(EventKind.RELOADED, "new-instance")]


# config.yaml


def test_an_environment_variable_change_replaces_the_replica(loop: Loop) -> None:
    loop.save("config.yaml", "model_name: hello\nenvironment_variables: {GREETING: yo}\n")
    loop.handle("config.yaml", "model/model.py")
    assert loop.target.pushes == 1
    assert loop.replica.calls == []  # the new replica starts from the newest code
    replacing, replaced = loop.events
    assert (replacing.kind, replacing.fields, replacing.message) == (
        EventKind.REPLACING,
        ("environment_variables",),
        "environment_variables changed: starting a new replica",
    )
    assert (replaced.kind, replaced.revision, replaced.paths) == (
        EventKind.REPLACED,
        2,
        ("config.yaml", "model/model.py"),
    )
    assert replaced.ms == pytest.approx(5.0)
    loop.events.clear()
    loop.handle("model/model.py")  # applied: code changes reload again
    assert [e.kind for e in loop.events] == [EventKind.RELOADED]


def test_requirements_file_content_rebuilds(make_truss: MakeTruss) -> None:
    directory = make_truss(
        "hello",
        config="model_name: hello\nrequirements_file: requirements.txt\n",
        files={"requirements.txt": "six\n"},
    )
    loop = make_loop(load_truss(directory))
    loop.save("requirements.txt", "six\n# a comment\n")
    loop.handle("requirements.txt")
    assert loop.target.pushes == 0
    assert loop.said() == [("unchanged", ("requirements.txt",), None)]
    loop.save("requirements.txt", "six\nattrs\n")
    loop.handle("requirements.txt")
    assert loop.target.pushes == 1
    assert loop.said()[0] == (
        "replacing",
        ("requirements.txt",),
        "requirements changed: building the Python environment, then starting a new replica",
    )


def test_an_invalid_config_applies_nothing_and_keeps_serving(loop: Loop) -> None:
    loop.save(
        "config.yaml", "model_name: hello\nenvironment_variables: {GREETING: yo}\nruntime: [\n"
    )
    loop.handle("config.yaml", "model/model.py")
    [invalid, reloaded] = loop.events
    assert invalid.kind is EventKind.CONFIG_INVALID
    assert invalid.message is not None and "config.yaml line 4" in invalid.message
    assert reloaded.kind is EventKind.RELOADED  # the code in the same batch still applies
    assert loop.target.pushes == 0
    loop.events.clear()
    loop.save("config.yaml", "model_name: hello\nenvironment_variables: {GREETING: yo}\n")
    loop.handle("config.yaml")  # fixed: compared with the last valid config, then applied
    assert loop.target.pushes == 1
    assert [e.kind for e in loop.events] == [EventKind.REPLACING, EventKind.REPLACED]


def test_fields_brace_cannot_apply_are_reported(loop: Loop) -> None:
    loop.save("config.yaml", CONFIG + "system_packages: [ffmpeg]\nbuild_commands: [make]\n")
    loop.handle("config.yaml")
    assert loop.target.pushes == 0
    assert loop.said() == [
        (
            "not_applied",
            ("config.yaml",),
            "system_packages (ffmpeg) are not installed by brace; install them on this "
            "machine if the model needs them",
        ),
        (
            "not_applied",
            ("config.yaml",),
            "build_commands is not applied: brace does not run build commands; run them on "
            "this machine yourself",
        ),
    ]
    loop.save("config.yaml", CONFIG)  # removed again: still said, nothing hidden
    loop.handle("config.yaml")
    assert [k for k, _, _ in loop.said()] == ["not_applied", "not_applied"]


def test_a_new_model_name_is_reported_and_not_followed(loop: Loop) -> None:
    loop.save("config.yaml", CONFIG.replace("hello", "renamed") + "description: hi\n")
    loop.handle("config.yaml")
    assert loop.target.pushes == 0
    assert loop.said() == [
        (
            "config_changed",
            ("config.yaml",),
            "model_name changed to 'renamed'; this watch keeps serving model 'hello' "
            "(restart `brace watch` to push the new name)",
        ),
        ("config_changed", ("config.yaml",), "description changed; nothing to apply"),
    ]


def test_a_failed_replacement_is_tried_again_at_the_next_save(loop: Loop) -> None:
    loop.target.failures = ["the new replica (revision 2) did not start"]
    loop.save("config.yaml", "model_name: hello\nenvironment_variables: {GREETING: yo}\n")
    loop.handle("config.yaml")
    assert [(k, m) for k, _, m in loop.said()] == [
        ("replacing", "environment_variables changed: starting a new replica"),
        ("replace_failed", "the new replica (revision 2) did not start"),
    ]
    loop.handle("model/model.py")  # the fix: pushed again, not reloaded in the old replica
    assert (loop.target.pushes, loop.replica.calls) == (2, [])
    assert [k for k, _, _ in loop.said()] == ["replacing", "replaced"]
    loop.handle("model/model.py")
    assert (loop.target.pushes, len(loop.replica.calls)) == (2, 1)


def test_reverting_a_config_change_before_it_applied_needs_no_replica(loop: Loop) -> None:
    loop.target.failures = ["did not start"]
    loop.save("config.yaml", "model_name: hello\nenvironment_variables: {GREETING: yo}\n")
    loop.handle("config.yaml")
    loop.target.failures = []
    loop.watcher.replica_failed = False  # say the old replica still serves the old config
    loop.save("config.yaml", CONFIG)
    loop.handle("config.yaml")
    assert loop.target.pushes == 1


# the whole loop


def test_run_waits_for_the_deployment_then_applies_each_batch(make_truss: MakeTruss) -> None:
    truss = load_truss(make_truss("hello", config=CONFIG))
    model = str(truss.path / "model" / "model.py")
    loop = make_loop(truss, [set(), {(2, model)}, set(), {(2, model)}])
    loop.replica.answers = [UNCHANGED]  # the catch-up: nothing was saved during the start
    statuses: list[str] = []
    loop.watcher.run(1, statuses.append)
    assert statuses == ["ACTIVE"]
    assert [e.kind for e in loop.events] == [
        EventKind.READY,
        EventKind.WATCHING,
        EventKind.RELOADED,
        EventKind.RELOADED,
    ]
    assert len(loop.replica.calls) == 3
    assert loop.events[1].paths == (str(truss.path),)
    assert loop.roots == [(truss.path,)]


def test_run_keeps_watching_when_the_first_start_fails(make_truss: MakeTruss) -> None:
    truss = load_truss(make_truss("hello", config=CONFIG))
    model = str(truss.path / "model" / "model.py")
    target = FakeTarget(failures=["the development deployment is DEPLOY_FAILED"])
    loop = make_loop(truss, [{(2, model)}], target)
    loop.watcher.run(1)
    assert [(k, m) for k, _, m in loop.said()] == [
        ("replace_failed", "the development deployment is DEPLOY_FAILED"),
        ("watching", None),
        ("replacing", "the last start failed: starting a new replica"),
        ("replaced", None),
    ]
    assert loop.replica.calls == []


def test_run_watches_new_package_directories(make_truss: MakeTruss, tmp_path: Path) -> None:
    truss = load_truss(make_truss("hello", config=CONFIG))
    (tmp_path / "common").mkdir()
    config = str(truss.path / "config.yaml")
    common = str(tmp_path / "common" / "util.py")
    loop = make_loop(truss, [{(2, config)}, {(2, common)}])
    relative = Path("..") / ".." / "common"
    (truss.path / "config.yaml").write_text(CONFIG + f"external_package_dirs: ['{relative}']\n")
    loop.watcher.run(1)
    assert loop.roots == [(truss.path,), (truss.path, tmp_path / "common")]
    kinds = [e.kind for e in loop.events]
    assert kinds.count(EventKind.WATCHING) == 2
    assert kinds[-1] is EventKind.RELOADED
    assert loop.events[-1].paths == ("../../common/util.py",)


def test_run_ends_when_stopped(make_truss: MakeTruss) -> None:
    truss = load_truss(make_truss("hello", config=CONFIG))
    model = str(truss.path / "model" / "model.py")
    loop = make_loop(truss, [{(2, model)}, {(2, model)}])
    stop = threading.Event()
    loop.replica.answers = [UNCHANGED]
    original = loop.watcher.handle

    def handle_then_stop(paths: Any) -> None:
        original(paths)
        stop.set()

    loop.watcher.handle = handle_then_stop  # type: ignore[method-assign]
    loop.watcher.run(1, stop=stop)
    assert len(loop.replica.calls) == 2  # the catch-up, then the first batch


def test_what_was_saved_while_the_deployment_started_is_applied(make_truss: MakeTruss) -> None:
    truss = load_truss(make_truss("hello", config=CONFIG))
    loop = make_loop(truss, [set()])
    loop.watcher.run(1)
    assert [(e.kind, e.paths) for e in loop.events][1:] == [
        (EventKind.RELOADED, ("model/",)),
        (EventKind.WATCHING, (str(truss.path),)),
    ]


def test_a_config_saved_while_the_deployment_started_is_applied(make_truss: MakeTruss) -> None:
    truss = load_truss(make_truss("hello", config=CONFIG))
    loop = make_loop(truss, [set()])
    loop.save("config.yaml", "model_name: hello\nenvironment_variables: {GREETING: yo}\n")
    loop.watcher.run(1)
    assert [e.kind for e in loop.events][1:] == [
        EventKind.REPLACING,
        EventKind.REPLACED,
        EventKind.WATCHING,
    ]
    assert loop.replica.calls == []


# secrets saved while the replica runs


def test_a_secret_saved_after_the_replica_started_is_reported_once(
    make_truss: MakeTruss, tmp_path: Path
) -> None:
    import functools
    import os

    from brace.services.secrets import save, saved_since

    home = tmp_path / "home"
    started = 1_800_000_000.0
    truss = load_truss(make_truss("hello", config="model_name: hello\nsecrets: {hf_token: null}\n"))
    events: list[Event] = []

    def saved_at(name: str, value: str, moment: float) -> None:
        save(home, name, value)
        os.utime(home / "secrets" / name, (moment, moment))

    saved_at("hf_token", "old", started - 10)  # read by the replica at its start
    saved_at("other", "x", started + 5)  # not declared: nothing to say

    def changes(
        watched: tuple[Path, ...], keep: Callable[[str], bool], stop: threading.Event
    ) -> Iterator[set[tuple[Any, str]]]:
        yield set()  # a heartbeat: nothing new
        saved_at("hf_token", "new", started + 5)
        yield set()
        yield set()  # said once only

    watcher = Watcher(
        truss,
        FakeTarget(),
        events.append,
        model_name="hello",
        changes=changes,
        reload=FakeReplica(),
        clock=Clock(),
        wall=lambda: started,
        secrets_saved=functools.partial(saved_since, home),
    )
    watcher.run(1)
    told = [e for e in events if e.kind is EventKind.SECRET_SAVED]
    assert [(e.message, e.hint) for e in told] == [
        (
            "secret hf_token was saved after the replica started: what the model read at "
            "load is the old value until the replica starts again",
            "Restart it: brace deactivate development -m hello && "
            "brace activate development -m hello",
        )
    ]
    assert all("new" not in str(e.message) for e in events)
