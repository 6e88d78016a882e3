"""What the benches share: a free port, a bounded wait, and the API key they run with.

The benches run as scripts (`python bench/NAME.py`), so this is imported as `common`.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Any

KEY = "bench-key"
"""Set as BRACE_API_KEY for the servers a bench starts."""
AUTH = {"Authorization": f"Api-Key {KEY}"}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until(condition: Callable[[], Any], what: str, timeout: float = 60.0) -> None:
    """Poll `condition` every 50 ms; SystemExit naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise SystemExit(f"timed out waiting for {what}")
