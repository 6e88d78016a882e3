"""Where the sockets folder goes, and that a folder another user prepared is refused.

The folder outside the home (`$TMPDIR/brace-<uid>/...`, used when the home is too deep
for socket paths) can be predicted by any local user, who may create it first. The
second-uid cases create it as a real other user (see tests/other_user.py).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from brace.errors import UnsafePathError
from brace.server.paths import SOCKET_PATH_MAX, ServerPaths, fits_socket_path
from tests.other_user import NOBODY, as_nobody
from tests.other_user import shared_tmp as shared_tmp


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def deep_home(tmp_path: Path) -> Path:
    home = tmp_path / ("h" * 100)
    assert not fits_socket_path(home / "sockets")
    return home


def test_sockets_live_in_the_home_when_they_fit(tmp_path: Path) -> None:
    home = tmp_path / "home"
    paths = ServerPaths(home, temp=tmp_path / "unused")
    assert paths.sockets() == home / "sockets"
    assert mode(home / "sockets") == 0o700
    assert len(os.fsencode(paths.replica_socket("abcdefgh"))) <= SOCKET_PATH_MAX
    assert not (tmp_path / "unused").exists()


def test_a_deep_home_puts_sockets_in_a_private_folder_under_tmp(shared_tmp: Path) -> None:
    home = deep_home(shared_tmp)
    sockets = ServerPaths(home, temp=shared_tmp).sockets()
    base = shared_tmp / f"brace-{os.getuid()}"
    assert sockets.parent == base
    assert (mode(base), mode(sockets)) == (0o700, 0o700)
    assert len(os.fsencode(ServerPaths(home, temp=shared_tmp).internal_socket)) <= SOCKET_PATH_MAX
    assert ServerPaths(home, temp=shared_tmp).sockets() == sockets  # found again, accepted


def test_a_folder_another_user_created_first_is_refused(shared_tmp: Path) -> None:
    base = shared_tmp / f"brace-{os.getuid()}"
    as_nobody("mkdir", "-m", "0700", str(base))
    with pytest.raises(UnsafePathError) as raised:
        ServerPaths(deep_home(shared_tmp), temp=shared_tmp).sockets()
    assert raised.value.message == (
        f"{base} belongs to another user (uid {NOBODY}); brace will not use it"
    )
    assert raised.value.hint is not None and f"Remove {base}" in raised.value.hint


def test_a_world_writable_folder_of_another_user_is_refused(shared_tmp: Path) -> None:
    base = shared_tmp / f"brace-{os.getuid()}"
    as_nobody("mkdir", "-m", "0777", str(base))
    as_nobody("chmod", "0777", str(base))  # past the umask
    with pytest.raises(UnsafePathError, match="belongs to another user"):
        ServerPaths(deep_home(shared_tmp), temp=shared_tmp).sockets()
    assert list(base.iterdir()) == []  # nothing of ours went in


def test_our_own_folder_that_others_may_write_is_refused(shared_tmp: Path) -> None:
    base = shared_tmp / f"brace-{os.getuid()}"
    base.mkdir()
    base.chmod(0o777)
    with pytest.raises(UnsafePathError) as raised:
        ServerPaths(deep_home(shared_tmp), temp=shared_tmp).sockets()
    assert raised.value.message == (
        f"{base} may be written by other users (mode 0777); brace will not use it"
    )


def test_a_symlink_is_refused_and_its_target_untouched(shared_tmp: Path) -> None:
    elsewhere = shared_tmp / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    base = shared_tmp / f"brace-{os.getuid()}"
    base.symlink_to(elsewhere)
    with pytest.raises(UnsafePathError) as raised:
        ServerPaths(deep_home(shared_tmp), temp=shared_tmp).sockets()
    assert raised.value.message == f"{base} is a symlink; brace will not use it"
    assert list(elsewhere.iterdir()) == []


def test_a_symlink_inside_the_home_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    (tmp_path / "elsewhere").mkdir()
    (home / "sockets").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(UnsafePathError, match="is a symlink"):
        ServerPaths(home).sockets()


def test_a_temp_folder_anyone_may_write_without_the_sticky_bit_is_refused(
    shared_tmp: Path,
) -> None:
    loose = shared_tmp / "loose"
    loose.mkdir()
    loose.chmod(0o777)
    with pytest.raises(UnsafePathError, match="may be written by any user and is not sticky"):
        ServerPaths(deep_home(shared_tmp), temp=loose).sockets()


def test_our_folder_readable_by_others_is_tightened(shared_tmp: Path) -> None:
    base = shared_tmp / f"brace-{os.getuid()}"
    base.mkdir()
    base.chmod(0o755)
    ServerPaths(deep_home(shared_tmp), temp=shared_tmp).sockets()
    assert mode(base) == 0o700
