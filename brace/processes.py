"""Is the process that wrote a record still running? (server.json, replicas, staging)

brace records a process as its pid plus its start time, because pids are reused: a
record names a live process only if a process with that pid exists, started at that
time, and is not a zombie. A zombie has exited and only waits for its parent to read
its status (a server killed with SIGKILL stays one until the command that started it
exits, or for good under an init that does not reap); to psutil it still has a pid
and a start time, but it serves nothing and holds no lock.

On Linux `is_same_process` reads /proc itself, the fields psutil reads with psutil's
arithmetic, so that a `brace` command checking the server's record does not import
psutil (a tenth of its start-up); elsewhere psutil answers.
"""

from __future__ import annotations

import os
import sys

# psutil reads start times from /proc in clock ticks: the same process reads equal
# within this tolerance, in seconds.
START_TOLERANCE = 0.01
_PROC = sys.platform.startswith("linux")


def process_started(pid: int) -> float:
    """The start time of process `pid` (seconds since the epoch)."""
    import psutil

    return float(psutil.Process(pid).create_time())


def is_same_process(pid: int, started: float) -> bool:
    """True if `pid` is still the process that started at `started` and has not exited."""
    if _PROC:
        found = _proc_stat(pid)
        if found is not None:
            state, created = found
            return abs(created - started) < START_TOLERANCE and state != "Z"
        if os.path.isdir("/proc/self"):  # /proc works: there is no such process
            return False
    import psutil

    try:
        process = psutil.Process(pid)
        if abs(process.create_time() - started) >= START_TOLERANCE:
            return False  # the pid was reused
        return bool(process.status() != psutil.STATUS_ZOMBIE)
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def _proc_stat(pid: int) -> tuple[str, float] | None:
    """(state letter, start time) of `pid` as psutil computes them on Linux: the start
    in clock ticks after boot (/proc/PID/stat, field 22) over SC_CLK_TCK, plus the boot
    time (/proc/stat `btime`). None when it cannot be read."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as file:
            data = file.read()
        with open("/proc/stat", "rb") as file:
            boot = next(float(line.split()[1]) for line in file if line.startswith(b"btime"))
        fields = data[data.rfind(b")") + 2 :].split()  # the name may hold spaces and ")"
        return fields[0].decode(), float(fields[19]) / os.sysconf("SC_CLK_TCK") + boot
    except (OSError, ValueError, IndexError, StopIteration):
        return None


RUNTIME_MODULE = "brace.runtime"


def replica_arguments(cmdline: list[str]) -> list[str] | None:
    """The arguments after `-m brace.runtime` if `cmdline` (as psutil or /proc give it)
    is a replica's, else None.

    A replica started as a new interpreter has its argv there; one forked by the fork
    server (brace.runtime.forkserver) shows the same command as one shell-quoted
    string, padded with empty strings."""
    words = [word for word in cmdline if word]
    if len(words) == 1 and " " in words[0]:
        import shlex

        try:
            words = shlex.split(words[0])
        except ValueError:
            return None
    for index in range(len(words) - 1):
        if words[index] == "-m" and words[index + 1] == RUNTIME_MODULE:
            return words[index + 2 :]
    return None
