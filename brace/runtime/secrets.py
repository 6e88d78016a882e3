"""The `secrets` mapping handed to the model, resolved at each lookup.

A Truss names its secrets in config.yaml (`secrets: {hf_token: null}`); the value is
never in the config. Looking one up reads, in order: `BRACE_SECRET_<name>`,
`TRUSS_SECRET_<name>` (so a user's existing Truss setup works), then the file
`$BRACE_HOME/secrets/<name>` (when BRACE_HOME is set). A secret without a value raises
`SecretNotFound` (a KeyError) that says where to put it; so `name in secrets` and
`secrets.get(name)` only see secrets that resolve. Lookups are not cached: a secret
written after the replica started is seen by the next lookup, as on Baseten. Values
never appear in reprs or errors, so a logged mapping or traceback cannot leak them;
`on_value` hears every value a lookup returns, so the replica can redact it from what
it writes (redact.py). A secret file is read only if it is a regular file of at most
`FILE_LIMIT` bytes: anything else is an error that names the file, never a hang.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from brace.files import read_text_limited

SECRETS_DIR = "secrets"
ENV_PREFIXES = ("BRACE_SECRET_", "TRUSS_SECRET_")
FILE_LIMIT = 1024 * 1024  # bytes; a PEM bundle or a JSON service-account key fits


class SecretNotFound(KeyError):
    """A secret the model asked for has no value (or is not declared)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:  # KeyError would show the message in quotes
        return self.message


class Secrets(Mapping[str, str]):
    def __init__(
        self,
        names: Mapping[str, object],
        home: Path | None,
        environ: Mapping[str, str] = os.environ,
        on_value: Callable[[str, str], None] = lambda name, value: None,
    ) -> None:
        self._names = tuple(names)
        self._home = home
        self._environ = environ
        self._on_value = on_value

    def _where(self, name: str) -> str:
        places = [f"the environment variable BRACE_SECRET_{name}"]
        if self._home is not None:
            places.append(f"the file {self._home / SECRETS_DIR / name}")
        else:
            places.append(f"the file $BRACE_HOME/{SECRETS_DIR}/{name}")
        return " or ".join(places)

    def __getitem__(self, name: str) -> str:
        value = self._lookup(name)
        self._on_value(name, value)
        return value

    def resolve_all(self) -> None:
        """Look every declared secret up once (so `on_value` hears each that resolves)."""
        for name in self._names:
            with contextlib.suppress(KeyError):
                self[name]

    def _lookup(self, name: str) -> str:
        if name not in self._names:
            raise SecretNotFound(
                f"secret {name!r} is not declared in config.yaml; add `{name}: null` under "
                f"`secrets:` and put its value in {self._where(name)}"
            )
        for prefix in ENV_PREFIXES:
            value = self._environ.get(prefix + name)
            if value is not None:
                return value
        if self._home is not None:
            path = self._home / SECRETS_DIR / name
            try:
                text = read_text_limited(path, FILE_LIMIT)
            except FileNotFoundError:
                pass
            except (OSError, UnicodeDecodeError) as error:
                reason = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
                raise SecretNotFound(f"secret {name!r}: cannot read {path} ({reason})") from None
            else:
                # `echo value > file` leaves a newline that is not part of the secret.
                return text.removesuffix("\n").removesuffix("\r")
        raise SecretNotFound(f"secret {name!r} has no value; put it in {self._where(name)}")

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def __repr__(self) -> str:
        return f"Secrets(names={list(self._names)!r})"
