"""The controller's wake-up call."""

from __future__ import annotations

import asyncio
import time

from brace.server.control.wakeup import Wakeup


def test_a_call_ends_the_wait_and_names_the_deployments() -> None:
    async def scenario() -> None:
        wakeup = Wakeup()
        wakeup("d1")
        wakeup()
        wakeup("d2")
        started = time.monotonic()
        await wakeup.wait(5.0)
        assert time.monotonic() - started < 1.0
        assert wakeup.woken() == ["d1", "d2"]
        assert wakeup.woken() == []

    asyncio.run(scenario())


def test_without_a_call_the_wait_times_out_and_is_cleared() -> None:
    async def scenario() -> None:
        wakeup = Wakeup()
        wakeup()
        await wakeup.wait(5.0)  # the call before, then cleared
        started = time.monotonic()
        await wakeup.wait(0.05)
        assert time.monotonic() - started >= 0.04

    asyncio.run(scenario())
