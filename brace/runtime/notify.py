"""Telling the server that this replica is ready, without waiting for its probe.

The server may pass the write end of a pipe and name it in `BRACE_READY_FD`, as systemd
passes `NOTIFY_SOCKET` to a service for sd_notify's `READY=1`: the replica writes one
line, `READY=1`, once its model is loaded and serving. The pipe stays open for the
replica's life, so the server also sees the replica end (end of file) the moment it
does. The descriptor is kept from the model's child processes and the variable from
the model's environment. Without the variable nothing is written: the server's
readiness probe (GET /v1/models/model answering 200) is the rule either way.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import MutableMapping

ENV_VAR = "BRACE_READY_FD"
READY = b"READY=1\n"
ADDRESS = b"ADDRESS="
"""A replica on TCP first writes `ADDRESS=host:port` once it listens (with `--port 0`,
the port the kernel gave it): its launcher learns where it is without picking a port
for it and racing for it."""


class ReadyNotifier:
    def __init__(self, fd: int | None) -> None:
        self.fd = fd

    @classmethod
    def from_environment(cls, environ: MutableMapping[str, str]) -> ReadyNotifier:
        """Take the descriptor named in `environ` (the variable is removed); one that is
        not an open descriptor is ignored."""
        value = environ.pop(ENV_VAR, None)
        if value is None or not value.isdigit():
            return cls(None)
        fd = int(value)
        try:
            os.set_inheritable(fd, False)
        except OSError:
            return cls(None)
        return cls(fd)

    def listening(self, address: str) -> None:
        """Say where it listens (`host:port`), before the model is loaded."""
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.write(self.fd, ADDRESS + address.encode() + b"\n")

    def ready(self) -> None:
        """Say the model serves (safe from any thread; a server gone is no error)."""
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.write(self.fd, READY)
