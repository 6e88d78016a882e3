"""Keeping the development deployment awake while `brace watch` runs.

Baseten scales an idle development deployment to zero; `truss watch` keeps it awake
while it runs. Here the watch holds a lease in the store (`awake_until` on the
deployment), renewed from a thread every `renew` seconds for `lease` seconds ahead,
and cleared when the watch ends; the server's autoscaler never lets a deployment with
a live lease go below one replica. A watch killed without clearing it loses its hold
when the lease runs out.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from brace.devserver.background import BackgroundThread
from brace.errors import BraceError

if TYPE_CHECKING:
    from brace.store import Store


class KeepAwake(BackgroundThread):
    def __init__(
        self,
        home: Path,
        deployment_id: Callable[[], str],
        *,
        lease: float = 30.0,
        renew: float = 10.0,
    ) -> None:
        """`lease` and `renew` in seconds; `deployment_id` is asked at each renewal
        (the watch re-creates a deleted development deployment)."""
        super().__init__("brace-keep-awake", join_timeout=5)
        self.home = home
        self.deployment_id = deployment_id
        self.lease = lease
        self.renew = renew

    def _run(self) -> None:
        from brace.store import Store

        with Store(self.home) as store:
            while not self._stop.is_set():
                self._hold(store, self.lease)
                self._stop.wait(self.renew)
            self._hold(store, 0.0)  # let go: the scale-down delay starts now

    def _hold(self, store: Store, seconds: float) -> None:
        # A busy or missing store only costs this renewal; the lease outlives a few.
        with contextlib.suppress(BraceError, sqlite3.Error), store.transaction() as tx:
            tx.keep_awake(self.deployment_id(), seconds)
