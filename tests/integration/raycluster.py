"""Two Ray nodes on this machine, for tests and benches that run inside a private
network and PID namespace (`unshare --net --pid --fork --mount-proc`, as root).

`ray stop` ends every Ray process on the host, so it is never used: a cluster ends with
its PID namespace. Inside the namespace loopback is brought up and each node gets
`--node-ip-address=127.0.0.1`, its own `--temp-dir` and dashboard agent port; the
second node carries a custom resource (`node2`) to tell it apart. Ray's health checks
are shortened so a killed node is declared dead in about a second.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil

HEAD_PORT = 6379
HEALTH = {
    "RAY_health_check_initial_delay_ms": "0",
    "RAY_health_check_period_ms": "300",
    "RAY_health_check_timeout_ms": "300",
    "RAY_health_check_failure_threshold": "3",
}
"""Ray's failure detection, shortened (by default a killed node is dead after 14.5 s)."""
UNSHARE = ["unshare", "--net", "--pid", "--fork", "--mount-proc"]


def can_unshare() -> bool:
    """Whether this process may make the namespaces (root, and `unshare` exists)."""
    return os.geteuid() == 0 and shutil.which("unshare") is not None


def loopback_up() -> None:
    """`ip link set lo up`, without needing iproute2 (SIOCGIFFLAGS, SIOCSIFFLAGS)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH", b"lo", 0)
        flags = struct.unpack("16sH", fcntl.ioctl(sock, 0x8913, request))[1]
        fcntl.ioctl(sock, 0x8914, struct.pack("16sH", b"lo", flags | 0x1))  # IFF_UP


def ray_command() -> str:
    return str(Path(sys.executable).parent / "ray")


def short_dir() -> Path:
    """A new directory with a short path for the nodes' temp dirs (Ray's Unix socket
    paths must stay under 108 bytes); its maker removes it."""
    return Path(tempfile.mkdtemp(prefix="bray"))


def start_cluster(short: Path, cpus: int = 4) -> tuple[Path, Path]:
    """Start a head and a second node (call inside the namespace) with their temp dirs
    in `short` (`short_dir`); the two temp dirs."""
    loopback_up()
    env = {**os.environ, **HEALTH, "RAY_USAGE_STATS_ENABLED": "0"}
    head, node2 = short / "h", short / "n"
    common = ["--node-ip-address=127.0.0.1", f"--num-cpus={cpus}", "--disable-usage-stats"]
    subprocess.run(
        [ray_command(), "start", "--head", f"--port={HEAD_PORT}", f"--temp-dir={head}",
         "--include-dashboard=false", "--dashboard-agent-listen-port=52365", *common],
        check=True, env=env, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    subprocess.run(
        [ray_command(), "start", f"--address=127.0.0.1:{HEAD_PORT}", f"--temp-dir={node2}",
         "--dashboard-agent-listen-port=52366", '--resources={"node2": 1}', *common],
        check=True, env=env, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    return head, node2


def node_processes(temp_dir: Path) -> list[psutil.Process]:
    """Every process of the node whose temp dir is `temp_dir`: its daemons (they name
    the dir on their command line) and all they started (workers, brace's agent and
    its replicas)."""
    roots = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(process.info["cmdline"] or ())
        if str(temp_dir) in cmdline:
            roots.append(process)
    found = {p.pid: p for p in roots}
    for root in roots:
        try:
            for child in root.children(recursive=True):
                found[child.pid] = child
        except psutil.NoSuchProcess:
            continue
    return list(found.values())
