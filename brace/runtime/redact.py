"""Secret values never leave the replica in what it writes: redaction at the source.

A model's exception message, a `print()` or a log record can carry the value of one of
the deployment's secrets (`raise ValueError(token)`). The replica is the one place all
of that passes through, so it redacts there: its stdout and stderr (log records,
tracebacks, the model's prints: `RedactingStream`) and the error bodies it answers
(the reload's 422 error and traceback, reload.py). The deployment's log file, `brace
logs`, `brace watch` and its JSON events only relay those bytes, so they never see a
value either.

Which values: every declared secret that resolves when the replica starts, and every
value a lookup in the `secrets` mapping returns later (a secret written after the
start is redacted from the moment the model has it). Each is also matched in the
escaped forms a traceback or a JSON body shows (`repr`, JSON), and a multi-line value
line by line. An occurrence becomes `[secret:NAME]`. Values shorter than `MIN_LENGTH`
characters are not redacted: they would match ordinary text everywhere.

Not covered: bytes that a model's subprocess or a C extension writes straight to file
descriptors 1 and 2, and what the model returns from `predict` (its answer is its own).
"""

from __future__ import annotations

import io
import json
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any, TextIO

MIN_LENGTH = 4


def marker(name: str) -> str:
    return f"[secret:{name}]"


def forms(value: str) -> list[str]:
    """The texts that show `value`: itself, as `repr` and JSON escape it, and each line
    of a multi-line value; those shorter than MIN_LENGTH left out."""
    found = [value, repr(value)[1:-1], json.dumps(value)[1:-1]]
    if "\n" in value:
        found.extend(line.strip() for line in value.splitlines())
    return [text for text in dict.fromkeys(found) if len(text) >= MIN_LENGTH]


def needles(secrets: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Text to find -> the secret's name, for every form of every value; the first
    name wins when two secrets share a value."""
    table: dict[str, str] = {}
    for name, value in secrets:
        for text in forms(value):
            table.setdefault(text, name)
    return table


def compile_needles(table: Mapping[str, str]) -> re.Pattern[str] | None:
    """One pattern for all needles, longest first (so a value that contains another
    is replaced whole); None when there is nothing to redact."""
    if not table:
        return None
    ordered = sorted(table, key=lambda text: (-len(text), text))
    return re.compile("|".join(re.escape(text) for text in ordered))


def redact(text: str, table: Mapping[str, str], pattern: re.Pattern[str] | None) -> str:
    """`text` with every needle of `table` (compiled as `pattern`) replaced by its marker."""
    if pattern is None:
        return text
    return pattern.sub(lambda match: marker(table[match.group(0)]), text)


class Redactor:
    """The secret values known so far, and `redact` over them; safe across threads."""

    def __init__(self, secrets: Mapping[str, str] | None = None) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, str] = {}  # value -> name
        self._table: dict[str, str] = {}
        self._pattern: re.Pattern[str] | None = None
        for name, value in (secrets or {}).items():
            self.add(name, value)

    def add(self, name: str, value: str) -> None:
        """Redact `value` (secret `name`) from now on."""
        if value in self._values:  # the common case: a value looked up again
            return
        with self._lock:
            if value in self._values:
                return
            values = {**self._values, value: name}
            table = needles((n, v) for v, n in values.items())
            self._values, self._table, self._pattern = values, table, compile_needles(table)

    def __call__(self, text: str) -> str:
        table, pattern = self._table, self._pattern
        if pattern is None:
            return text
        return redact(text, table, pattern)

    def scrub(self, value: Any) -> Any:
        """`value` (JSON-like: dicts, lists, strings) with every string redacted."""
        if isinstance(value, str):
            return self(value)
        if isinstance(value, dict):
            return {key: self.scrub(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.scrub(item) for item in value]
        return value


class RedactingStream(io.TextIOBase):
    """A text stream that redacts whole lines before passing them to `stream`.

    Text is held until its line ends, so a value written in pieces (`print` writes the
    text, then the newline) is still seen whole; `flush()` passes on a partial line too,
    so a progress line printed with `flush=True` is not held back.
    """

    def __init__(self, stream: TextIO, redactor: Redactor) -> None:
        super().__init__()
        self._stream = stream
        self._redact = redactor
        self._pending = ""
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        with self._lock:
            self._pending += text
            cut = self._pending.rfind("\n") + 1
            if cut:
                ready, self._pending = self._pending[:cut], self._pending[cut:]
                self._stream.write(self._redact(ready))
                if getattr(self._stream, "line_buffering", False):
                    self._stream.flush()
        return len(text)

    def flush(self) -> None:
        with self._lock:
            if self._pending:
                ready, self._pending = self._pending, ""
                self._stream.write(self._redact(ready))
            self._stream.flush()

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return self._stream.isatty()

    def fileno(self) -> int:
        return self._stream.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self._stream.encoding

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return self._stream.errors

    @property
    def buffer(self) -> Any:
        """The underlying binary buffer (bytes written there are not redacted)."""
        self.flush()
        return self._stream.buffer
