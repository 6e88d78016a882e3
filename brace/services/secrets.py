"""Secrets in the brace home: `$BRACE_HOME/secrets/NAME`, one file each, value only.

What `brace secrets set | list | delete` and `GET` / `POST /v1/secrets` do. The files
are the ones a replica reads (`brace.runtime.secrets`): owner-only (0600, in a 0700
folder), at most `FILE_LIMIT` bytes of UTF-8, a name of letters, digits, `-`, `_` and
`.` as config.yaml's `secrets:` allows. A value is written to a temporary file in the
same folder and renamed over the old one, so a replica starting meanwhile reads the
old value or the new one, never half of one. Values are never returned: a listing
gives names and when each was last saved, as Baseten's `SecretV1` (`name`,
`created_at`). A replica reads a changed secret on its next start (docs/api.md).
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from brace.errors import InvalidError, NotFoundError, StateError
from brace.files import EntryKind, kind_of
from brace.home import ensure_private_dir
from brace.runtime.secrets import FILE_LIMIT, SECRETS_DIR

NAME = re.compile(r"[-._a-zA-Z0-9]{1,255}")
"""A secret name: what config.yaml's `secrets:` accepts, at most a file name's length."""
_TEMPORARY = ".saving-"
STALE_TEMPORARY = 3600.0
"""Seconds after which a temporary file is a leftover of a save that was killed (a save
takes milliseconds): the next save removes it."""


@dataclass(frozen=True)
class SecretInfo:
    """A saved secret, without its value."""

    name: str
    saved_at: float
    """When it was last saved (seconds since the epoch: the file's modification time)."""

    def to_json(self) -> dict[str, str]:
        """Baseten's `SecretV1`: `created_at` is when the value was last saved."""
        stamp = datetime.fromtimestamp(self.saved_at, UTC).isoformat().replace("+00:00", "Z")
        return {"name": self.name, "created_at": stamp}


def check_name(name: str) -> str:
    """`name` if it can name a secret; InvalidError (INVALID_SECRET_NAME) otherwise."""
    if not NAME.fullmatch(name) or name in (".", ".."):
        raise InvalidError(
            f"invalid secret name {name!r}: use 1-255 letters, digits, '-', '_' and '.' "
            "(not '.' or '..')",
            code="INVALID_SECRET_NAME",
            facts={"field": "name"},
        )
    return name


def check_value(value: str) -> bytes:
    """The value as the file's bytes; InvalidError (INVALID_SECRET_VALUE) when it is
    empty or larger than `FILE_LIMIT` bytes of UTF-8."""
    try:
        data = value.encode()
    except UnicodeEncodeError:
        data = b""
        reason = "is not valid Unicode text"
    else:
        reason = "is empty" if not data else f"is larger than {FILE_LIMIT} bytes"
    if data and len(data) <= FILE_LIMIT:
        return data
    raise InvalidError(
        f"the secret's value {reason}",
        code="INVALID_SECRET_VALUE",
        facts={"field": "value"},
    )


def folder(home: Path) -> Path:
    return home / SECRETS_DIR


def save(home: Path, name: str, value: str) -> SecretInfo:
    """Create or replace the secret `name` (InvalidError for a bad name or value,
    StateError when the folder cannot be written)."""
    check_name(name)
    data = check_value(value)
    where = folder(home)
    try:
        ensure_private_dir(home)
        ensure_private_dir(where)
        remove_leftovers(where, time.time())
        fd, temporary = tempfile.mkstemp(prefix=_TEMPORARY, dir=where)  # 0600
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, where / name)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
        saved = (where / name).stat().st_mtime
    except OSError as error:
        raise StateError(
            f"{where / name}: cannot save the secret ({error.strerror})",
            "Free some space or fix the folder's permissions, then save it again.",
        ) from None
    return SecretInfo(name, saved)


def remove_leftovers(where: Path, now: float) -> list[str]:
    """Remove the temporary files of saves killed midway (older than `STALE_TEMPORARY`
    at `now`); their names."""
    removed = []
    for entry in os.scandir(where):
        if not entry.name.startswith(_TEMPORARY):
            continue
        with contextlib.suppress(OSError):
            if now - entry.stat(follow_symlinks=False).st_mtime > STALE_TEMPORARY:
                os.unlink(entry.path)
                removed.append(entry.name)
    return removed


def listing(home: Path) -> list[SecretInfo]:
    """The saved secrets by name: regular files with a valid name (others are left out)."""
    where = folder(home)
    found: list[SecretInfo] = []
    try:
        entries = sorted(os.scandir(where), key=lambda entry: entry.name)
    except FileNotFoundError:
        return []
    except OSError as error:
        raise StateError(f"{where}: cannot list the secrets ({error.strerror})") from None
    for entry in entries:
        if entry.name.startswith(_TEMPORARY) or not NAME.fullmatch(entry.name):
            continue
        try:
            facts = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if kind_of(facts.st_mode) is EntryKind.FILE:
            found.append(SecretInfo(entry.name, facts.st_mtime))
    return found


def find(home: Path, name: str) -> SecretInfo:
    """The saved secret `name`; NotFoundError (SECRET_NOT_FOUND) when there is none."""
    check_name(name)
    for info in listing(home):
        if info.name == name:
            return info
    raise NotFoundError(
        f"no secret named {name!r}",
        code="SECRET_NOT_FOUND",
        facts={"secret": name},
    )


def delete(home: Path, name: str) -> SecretInfo:
    """Remove the saved secret `name` (NotFoundError when there is none)."""
    found = find(home, name)
    path = folder(home) / name
    try:
        path.unlink()
    except FileNotFoundError:
        raise NotFoundError(
            f"no secret named {name!r}", code="SECRET_NOT_FOUND", facts={"secret": name}
        ) from None
    except OSError as error:
        raise StateError(f"{path}: cannot delete the secret ({error.strerror})") from None
    return found


def saved_since(home: Path, names: tuple[str, ...], moment: float) -> list[str]:
    """Which of the secrets `names` were saved after `moment` (seconds since the epoch):
    a replica started at `moment` was given the value from before."""
    changed = []
    for info in listing(home):
        if info.name in names and info.saved_at > moment:
            changed.append(info.name)
    return changed
