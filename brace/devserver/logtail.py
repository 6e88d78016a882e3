"""Following the development deployment's log while `brace watch` runs.

The replica's output (the user's prints, load and reload messages, tracebacks) and the
controller's notes go to one file per deployment (brace/server/paths.py). `LogFollower`
reads what was appended (`brace.logs.LogTail`) from a thread, so the lines show up
while the watch loop waits for a reload or a new replica.

The replica logs each reload it makes ("Reloaded in ...", "Reload failed ..." and the
traceback). The watch prints its own line for each, with the traceback from the
replica's answer, so `ReloadRecords` leaves those records out of what it relays
(`brace logs` still has them). A storm of identical errors is relayed once, then
counted (`repeats.Repeats`).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from pathlib import Path

from brace.devserver.background import BackgroundThread
from brace.devserver.repeats import Repeats
from brace.logs import RECORD, LogTail

# The replica's log records: "2026-01-02T03:04:05.678+01:00 INFO [r1] brace.runtime: ..."
# (brace.logs.RECORD matches up to the logger's name).
_RECORD = RECORD
_RELOAD_RECORD = re.compile(
    RECORD.pattern + r"brace\.runtime: (Reloaded in |Reload: nothing changed|Reload failed \()"
)
# What follows a "Reload failed" record: a traceback cut to the user's frames.
_TRACEBACK_LINE = re.compile(
    r"^(Traceback \(most recent call last\):|  .*|[A-Za-z_][\w.]*"
    r"(Error|Exception|Warning|Exit|Interrupt|Iteration)(: .*)?)$"
)
_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Warning|Exit|Interrupt|Iteration)")


class ReloadRecords:
    """Tells the replica's reload records (and a failed one's traceback) from the rest."""

    def __init__(self) -> None:
        self._in_traceback = False

    def keep(self, line: str) -> bool:
        if _RELOAD_RECORD.match(line):
            self._in_traceback = "Reload failed (" in line
            return False
        if self._in_traceback and not _RECORD.match(line) and _TRACEBACK_LINE.match(line):
            # The exception line ends the traceback; anything after it is the user's.
            self._in_traceback = not _EXCEPTION_LINE.match(line)
            return False
        self._in_traceback = False
        return True


class LogFollower(BackgroundThread):
    """Calls `on_line` for each new line of the log, from a thread, until closed.

    `drain()` relays what was written so far at once, from the caller's thread: the
    watch calls it before printing an event, so the log lines an event refers to come
    before it. Lines are relayed once each and in order, whichever thread reads them.
    """

    def __init__(
        self,
        path: Callable[[], Path],
        on_line: Callable[[str], None],
        *,
        keep: Callable[[str], bool] | None = None,
        interval: float = 0.1,
    ) -> None:
        super().__init__("brace-log-follower", join_timeout=1)
        self._tail = LogTail(path)
        self._on_line = on_line
        self._keep = keep or ReloadRecords().keep
        self._interval = interval
        self._reading = threading.Lock()
        self._repeats = Repeats()

    def drain(self) -> None:
        """Relay every line written so far (identical errors collapsed: `Repeats`)."""
        with self._reading:
            for line in self._tail.poll():
                if self._keep(line):
                    for relayed in self._repeats.feed(line):
                        self._on_line(relayed)
            for relayed in self._repeats.flush():
                self._on_line(relayed)

    def _run(self) -> None:
        while True:
            stopping = self._stop.wait(self._interval)
            self.drain()  # one last read when stopping: drain the file
            if stopping:
                return
