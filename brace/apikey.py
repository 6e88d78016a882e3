"""The API key: what the management API and the inference paths ask of every caller.

As on Baseten, a request carries `Authorization: Api-Key <key>` (or `Bearer <key>`).
The key is made on first use, 32 random bytes in URL-safe base64, and kept in the
brace home as `api_key` (0600, like everything there); when `BRACE_API_KEY` is set it
is the key instead, for the server and the CLI alike. `brace api-key` prints it.
"""

from __future__ import annotations

import hmac
import os
import secrets
import tempfile
from pathlib import Path

from brace.errors import StateError
from brace.files import read_text_limited
from brace.home import ensure_private_dir

KEY_FILE = "api_key"
ENV_VAR = "BRACE_API_KEY"
_SCHEMES = ("api-key", "bearer")
_MAX_KEY_FILE = 4096  # bytes


def api_key(home: Path) -> str:
    """The key: $BRACE_API_KEY, else the home's key file, made now if there is none.

    StateError when the key file cannot be read or written (with its path)."""
    chosen = os.environ.get(ENV_VAR, "").strip()
    if chosen:
        return chosen
    path = home / KEY_FILE
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    except OSError as error:
        raise _unusable(path, error) from None
    try:
        ensure_private_dir(home)
        return _create(path)
    except OSError as error:
        raise _unusable(path, error) from None


def _create(path: Path) -> str:
    """Make the key file whole or not at all: a private temporary file, linked into place.

    A racing process either wins the link (and every caller reads its key) or finds the
    finished file; nobody ever reads a file that is still being written."""
    key = secrets.token_urlsafe(32)
    fd, temporary = tempfile.mkstemp(prefix=".api_key.", dir=path.parent)  # 0600
    try:
        with os.fdopen(fd, "w") as file:
            file.write(key + "\n")
        try:
            os.link(temporary, path)
        except FileExistsError:  # another process made it first: use theirs
            return _read(path)
        return key
    finally:
        os.unlink(temporary)


def _read(path: Path) -> str:
    key = read_text_limited(path, _MAX_KEY_FILE).strip()
    if not key:  # emptied by hand
        raise StateError(f"{path}: the API key file is empty", "Delete it to make a new key.")
    return key


def _unusable(path: Path, error: OSError) -> StateError:
    return StateError(
        f"{path}: cannot use the API key file ({error.strerror})",
        "Check that the brace home and the files in it belong to you.",
    )


def authorized(header: str | None, key: str) -> bool:
    """Whether an Authorization header value carries `key` (compared in constant time)."""
    if not header:
        return False
    scheme, _, given = header.strip().partition(" ")
    if scheme.lower() not in _SCHEMES:
        return False
    return hmac.compare_digest(given.strip().encode(), key.encode())
