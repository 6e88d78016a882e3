"""What a tick reads of the store: the changes since the last read (`mirror.Delta`),
or everything every `resync_interval` seconds (`mirror.Snapshot`), the safety net for a
change whose signal was lost. Between two reads, `StoreWatch` says whether anything
was committed at all: a tick with nothing committed reads nothing."""

from __future__ import annotations

import math
from collections.abc import Callable

from brace.server.control.mirror import Delta, Mirror, Snapshot
from brace.server.storeworker import StoreWorker
from brace.store import Tx


class StoreReader:
    def __init__(self, db: StoreWorker, clock: Callable[[], float], resync_interval: float) -> None:
        """`clock`: seconds; `resync_interval`: seconds between two full reads."""
        self.db = db
        self.clock = clock
        self.resync_interval = resync_interval
        self.mirror = Mirror()
        self.watched = False
        """A `StoreWatch` calls `changed()` when something was committed (else every
        tick reads the changes)."""
        self._unread = True
        self._resync_at = -math.inf
        self._forgotten = 0
        """The newest change number deleted from the store's change log."""

    def changed(self) -> None:
        """Something was committed to the store since the last read."""
        self._unread = True

    def seconds_to_resync(self) -> float:
        return self._resync_at - self.clock()

    async def read(self) -> tuple[set[str], Callable[[Tx], None] | None]:
        """Take what changed into the mirror: the ids of the deployments it concerns,
        and the write that deletes what was read from the store's change log (at a
        full read, when there is any)."""
        if self.clock() < self._resync_at:
            if self.watched and not self._unread:
                return set(), None  # nothing committed since the last read
            self._unread = False
            try:
                delta = await self.db.read(Delta.reader(self.mirror.seq))
            except BaseException:
                self._unread = True
                raise
            return self.mirror.apply(delta), None
        self._resync_at = self.clock() + self.resync_interval
        touched = self.mirror.reset(await self.db.read(Snapshot.read))
        if self.mirror.seq <= self._forgotten:
            return touched, None
        self._forgotten = through = self.mirror.seq
        return touched, lambda tx: tx.forget_changes(through)
