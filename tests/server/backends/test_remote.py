"""A remote replica's handle: what goes to the node with it."""

from __future__ import annotations

from pathlib import Path

from brace.server.backends.base import Launch, Remote
from brace.server.backends.remote import secret_values


def launch(home: Path, secrets: tuple[str, ...], **env: str) -> Launch:
    return Launch(
        python="python",
        truss_dir=home / "model",
        socket=home / "r1.sock",
        log_file=home / "log",
        env={"BRACE_HOME": str(home), **env},
        remote=Remote("d1", "abc", secrets=secrets),
    )


def test_secrets_go_as_a_replica_here_reads_them(tmp_path: Path) -> None:
    """A saved file's value without the newline `echo value > file` leaves, a value
    from the environment as it is, and a secret with no value left for the replica
    to report when the model asks for it."""
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "token").write_text("s3cret\n")
    given = launch(tmp_path, ("token", "from_env", "missing"), BRACE_SECRET_from_env="e")
    assert secret_values(given) == {"BRACE_SECRET_token": "s3cret", "BRACE_SECRET_from_env": "e"}
