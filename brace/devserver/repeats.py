"""Collapsing a storm of identical errors in what `brace watch` relays from the log.

A predict that raises logs its error and traceback once per request: a client retrying
in a loop printed 46 full tracebacks in 3 s. `Repeats` passes the log through record
by record (a record is its first, stamped line and the lines that follow it: a
traceback) and holds back an ERROR record that repeats the one before it, word for
word once its stamp and replica are left out; when something else is logged, or the
log goes quiet (`flush`), one line says how many were held back:

    ... the same error 45 more times (the last at 10:42:03)

and the next occurrence after that is relayed in full again.

Everything else is relayed as it is, in order. Pure: lines in, lines out.
"""

from __future__ import annotations

import re

from brace.logs import RECORD

_ERROR_LEVELS = frozenset({"ERROR", "CRITICAL"})
_STAMP_TIME = re.compile(r"T(\d\d:\d\d:\d\d)")


class Repeats:
    """Relays log lines (`feed`, then `flush` at the end of each read), collapsing an
    ERROR record identical to the one before it into a count."""

    def __init__(self) -> None:
        self._record: list[str] = []  # the record being read (not relayed yet)
        self._last_error: tuple[str, ...] | None = None  # the last ERROR record relayed
        self._held = 0  # identical records held back since it
        self._held_at = ""  # the time of the last one held back
        self._fed = False  # lines were read since the last flush

    def feed(self, line: str) -> list[str]:
        """The lines to relay now that `line` was read."""
        self._fed = True
        if RECORD.match(line) or not self._record:
            out = self._close()
            self._record = [line]
            return out
        self._record.append(line)
        return []

    def flush(self) -> list[str]:
        """The lines to relay at the end of a read: the record read last (it is whole:
        a record is written at once), and once a read found nothing new, the count of
        the records held back."""
        out = self._close()
        if not self._fed:
            out += self._count()
            self._last_error = None
        self._fed = False
        return out

    def _close(self) -> list[str]:
        record, self._record = self._record, []
        if not record:
            return []
        found = RECORD.match(record[0])
        if found is None or found.group(2) not in _ERROR_LEVELS:
            return self._count() + record
        key = (record[0][found.end() :], *record[1:])
        if key == self._last_error:
            self._held += 1
            stamp = _STAMP_TIME.search(found.group(1))
            self._held_at = stamp.group(1) if stamp else ""
            return []
        out = self._count() + record
        self._last_error = key
        return out

    def _count(self) -> list[str]:
        if not self._held:
            return []
        held, self._held = self._held, 0
        times = "time" if held == 1 else "times"
        at = f" (the last at {self._held_at})" if self._held_at else ""
        return [f"... the same error {held} more {times}{at}"]
