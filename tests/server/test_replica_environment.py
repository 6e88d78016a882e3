"""`replica_environment` is a pure function of the server's environment and the model's
config: table tests (the integration test runs real replicas)."""

from __future__ import annotations

from pathlib import Path

from brace.server.backends.supervisor import replica_environment

SERVER = {
    "PATH": "/usr/bin",
    "HOME": "/home/u",
    "LANG": "C.UTF-8",
    "LC_TIME": "en_GB.UTF-8",
    "TZ": "UTC",
    "TMPDIR": "/tmp/u",
    "PYTHONPATH": "/opt/lib",
    "BRACE_API_KEY": "the-key",
    "BRACE_PORT": "8765",
    "BRACE_SECRET_mine": "1",
    "TRUSS_SECRET_mine": "2",
    "BRACE_SECRET_theirs": "3",
    "AWS_SECRET_ACCESS_KEY": "4",
    "OPENAI_API_KEY": "5",
}


def test_only_what_a_process_needs_and_the_model_s_own_secrets() -> None:
    env = replica_environment(Path("/h"), {"MODEL_FLAG": "x"}, ["mine", "absent"], SERVER)
    assert env == {
        "PATH": "/usr/bin",
        "HOME": "/home/u",
        "LANG": "C.UTF-8",
        "LC_TIME": "en_GB.UTF-8",
        "TZ": "UTC",
        "TMPDIR": "/tmp/u",
        "PYTHONPATH": "/opt/lib",
        "BRACE_SECRET_mine": "1",
        "TRUSS_SECRET_mine": "2",
        "MODEL_FLAG": "x",
        "BRACE_HOME": "/h",
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def test_the_fork_server_gets_no_model_s_secrets() -> None:
    env = replica_environment(Path("/h"), {}, (), SERVER)
    assert not [k for k in env if "SECRET" in k or k in ("BRACE_API_KEY", "OPENAI_API_KEY")]


def test_brace_s_own_settings_win_over_a_model_s_variables() -> None:
    env = replica_environment(Path("/h"), {"BRACE_HOME": "/elsewhere", "PATH": "/x"}, (), SERVER)
    assert (env["BRACE_HOME"], env["PATH"]) == ("/h", "/x")
