"""The server's store, used from its event loop without ever blocking it.

The gateway and the controller share one event loop, and another process (a CLI
command) may hold SQLite's write lock for as long as it likes: a `BEGIN IMMEDIATE`
then waits up to the busy timeout. So the server's connection lives in one worker
thread and every store call is handed to it: while a write waits for the lock, the
controller's tick waits with it, and inference goes on. One thread, so calls run in
the order they were made and the connection is only ever used by its own thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from brace.store import Store, Tx

T = TypeVar("T")


class StoreWorker:
    def __init__(self, home: Path) -> None:
        """Open the store in the worker thread (raises what `Store` raises)."""
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="brace-store")
        try:
            self._store: Store = self._executor.submit(Store, home).result()
        except BaseException:
            self._executor.shutdown()
            raise
        self.home = self._store.home

    async def read(self, query: Callable[[Tx], T]) -> T:
        """Run `query` in a read transaction (a consistent snapshot)."""
        return await self.call(lambda store: _in_read(store, query))

    async def write(self, change: Callable[[Tx], T]) -> T:
        """Run `change` in a write transaction (holds the write lock while it runs)."""
        return await self.call(lambda store: _in_write(store, change))

    async def call(self, use: Callable[[Store], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, use, self._store)

    def call_now(self, use: Callable[[Store], T]) -> T:
        """Run `use` in the worker and wait for it here (start-up and shutdown only)."""
        return self._executor.submit(use, self._store).result()

    def close(self) -> None:
        self.call_now(lambda store: store.close())
        self._executor.shutdown()


def _in_read(store: Store, query: Callable[[Tx], T]) -> T:
    with store.read() as tx:
        return query(tx)


def _in_write(store: Store, change: Callable[[Tx], T]) -> T:
    with store.transaction() as tx:
        return change(tx)
