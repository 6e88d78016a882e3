"""The server's signal that the store changed: a thread that polls SQLite's
`PRAGMA data_version` and tells the event loop when another connection committed.

`data_version` changes when any other connection (a CLI command, the management API's,
the controller's own) commits to the file; reading it takes no lock and no
transaction. The thread polls it every `interval` seconds and calls `on_change` on the
loop, so a controller with nothing to do sleeps instead of rereading the store: a CLI
write is acted on as soon as when the controller polled the store itself every
`interval`. The change itself is read by the controller, in one snapshot with the
rows it names (`control/mirror.py`); this only says when to look. A poll that fails
(the file is being replaced, the disk is full) also calls `on_change`: the tick then
reads, and reports what it cannot.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path


class StoreWatch:
    def __init__(self, path: Path, interval: float, on_change: Callable[[], None]) -> None:
        """`path`: the state file; `interval`: seconds between polls; `on_change()`:
        called on the event loop that calls `start`."""
        self.path = path
        self.interval = interval
        self.on_change = on_change
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._thread = threading.Thread(
            target=self._watch, args=(loop,), name="brace-store-watch", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _watch(self, loop: asyncio.AbstractEventLoop) -> None:
        connection: sqlite3.Connection | None = None
        seen: object = None
        while not self._stop.wait(self.interval):
            try:
                if connection is None:
                    # Read-only: a state file that went away is not made anew here.
                    uri = f"{self.path.resolve().as_uri()}?mode=ro"
                    connection = sqlite3.connect(uri, uri=True, isolation_level=None)
                version = connection.execute("PRAGMA data_version").fetchone()[0]
            except sqlite3.Error:
                if connection is not None:
                    connection.close()
                connection, version = None, None
            if version != seen or version is None:
                seen = version
                try:
                    loop.call_soon_threadsafe(self.on_change)
                except RuntimeError:  # the loop is closed: the server is stopping
                    break
        if connection is not None:
            connection.close()
