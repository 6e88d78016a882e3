"""The store's change signal: another connection's commit wakes the loop; nothing
committed, no wake-up."""

from __future__ import annotations

import asyncio
from pathlib import Path

from brace.server.storewatch import StoreWatch
from brace.store import Store
from brace.store.db import DB_FILE


def test_a_commit_by_another_connection_is_signalled(store: Store, home: Path) -> None:
    async def scenario() -> None:
        changed = asyncio.Event()
        watch = StoreWatch(home / DB_FILE, 0.01, changed.set)
        watch.start()
        try:
            await asyncio.wait_for(changed.wait(), 10)  # the first look
            changed.clear()
            await asyncio.sleep(0.1)
            assert not changed.is_set()  # nothing committed
            with store.transaction() as tx:
                tx.insert_model("hello")
            await asyncio.wait_for(changed.wait(), 10)
        finally:
            watch.stop()

    asyncio.run(scenario())


def test_a_state_file_that_cannot_be_read_is_signalled_at_each_look(tmp_path: Path) -> None:
    """The tick then reads, and reports why it cannot."""

    async def scenario() -> None:
        calls = 0
        enough = asyncio.Event()

        def changed() -> None:
            nonlocal calls
            calls += 1
            if calls == 3:
                enough.set()

        (tmp_path / DB_FILE).write_text("not a database")
        watch = StoreWatch(tmp_path / DB_FILE, 0.01, changed)
        watch.start()
        try:
            await asyncio.wait_for(enough.wait(), 10)
        finally:
            watch.stop()

    asyncio.run(scenario())


def test_a_missing_state_file_is_not_made(tmp_path: Path) -> None:
    async def scenario() -> None:
        looked = asyncio.Event()
        watch = StoreWatch(tmp_path / DB_FILE, 0.01, looked.set)
        watch.start()
        try:
            await asyncio.wait_for(looked.wait(), 10)
        finally:
            watch.stop()

    asyncio.run(scenario())
    assert not (tmp_path / DB_FILE).exists()
