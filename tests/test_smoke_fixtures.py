from __future__ import annotations

from pathlib import Path

from tests.conftest import Cli, MakeTruss


def test_push_then_list(cli: Cli, make_truss: MakeTruss, home: Path) -> None:
    directory = make_truss("hello")
    pushed = cli("push", directory, "-o", "json")
    assert pushed.exit_code == 0, pushed.stderr
    listed = cli("deployments", "list", "-o", "json").json()
    assert [d["name"] for d in listed["deployments"]] == ["development"]
    assert (home / "brace.db").stat().st_mode & 0o777 == 0o600
