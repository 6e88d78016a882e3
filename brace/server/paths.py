"""Where the server keeps its files: state file, logs, and replica sockets.

Unix socket paths must stay under ~107 bytes, and a brace home can be deep (a test's
tmp dir), so sockets live in a short per-user, per-home directory under /tmp.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from brace.home import ensure_private_dir

STATE_FILE = "server.json"


@dataclass(frozen=True)
class ServerPaths:
    home: Path

    @property
    def state_file(self) -> Path:
        return self.home / STATE_FILE

    @property
    def logs(self) -> Path:
        return ensure_private_dir(self.home / "logs")

    @property
    def server_log(self) -> Path:
        return self.logs / "server.log"

    def deployment_log(self, deployment_id: str) -> Path:
        return self.logs / f"{deployment_id}.log"

    @property
    def sockets(self) -> Path:
        digest = hashlib.sha256(str(self.home).encode()).hexdigest()[:10]
        base = ensure_private_dir(Path(tempfile.gettempdir()) / f"brace-{os.getuid()}")
        return ensure_private_dir(base / digest)

    def replica_socket(self, replica_id: str) -> Path:
        return self.sockets / f"{replica_id}.sock"

    @property
    def internal_socket(self) -> Path:
        return self.sockets / "internal.sock"
