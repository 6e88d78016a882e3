"""The CLI when real processes fail under it: a model failing mid-stream, a server killed
mid-call. One error line and a hint, exit code 6, never a traceback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from tests.conftest import MakeTruss
from tests.integration.conftest import KEY, Server, wait_until

FAILS_MID_STREAM = """\
class Model:
    def predict(self, model_input):
        yield "first\\n"
        yield "second\\n"
        raise RuntimeError("the model broke mid-stream")
"""

SLOW = """\
import time


class Model:
    def predict(self, model_input):
        time.sleep(model_input.get("sleep", 0))
        return {"slept": model_input.get("sleep", 0)}
"""


def test_a_stream_cut_by_the_model_is_one_error(server: Server, make_truss: MakeTruss) -> None:
    directory = make_truss("streamer", model=FAILS_MID_STREAM)
    assert server.brace("push", directory, "--wait").returncode == 0
    done = server.brace("predict", "-d", "{}")
    assert done.returncode == 6
    assert done.stdout == "first\nsecond\n"
    assert done.stderr.splitlines() == [
        "Calling the development deployment of model streamer.",
        "Error: the answer from the development deployment of model streamer was cut short "
        "after 13 bytes (IncompleteRead)",
        "Hint: The model may have failed mid-stream, or its replica stopped; see "
        "`brace logs development -m streamer`.",
    ]


def test_a_server_killed_mid_call_is_one_error(server: Server, make_truss: MakeTruss) -> None:
    directory = make_truss("slow", model=SLOW)
    assert server.brace("push", directory, "--wait").returncode == 0
    env = {
        **os.environ,
        "BRACE_HOME": str(server.home),
        "BRACE_PORT": str(server.port),
        "BRACE_API_KEY": KEY,
    }
    call = subprocess.Popen(
        [sys.executable, "-m", "brace", "predict", "--development", "-d", '{"sleep": 30}'],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        wait_until(lambda: server.replica_pids(), 30, "a replica")
        time.sleep(1.0)  # the call is in the replica now
        server.process.send_signal(signal.SIGKILL)
        stdout, stderr = call.communicate(timeout=30)
    finally:
        if call.poll() is None:
            call.kill()
            call.wait()
    assert call.returncode == 6, stderr
    assert stdout == ""
    lines = stderr.splitlines()
    assert len(lines) == 2, stderr
    assert lines[0].startswith(
        "Error: no answer from the development deployment of model slow: the connection to "
        "the brace server was lost ("
    )
    assert lines[1].startswith("Hint: The server or the replica may have stopped; see ")
