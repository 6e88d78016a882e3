"""Console sessions: started by signing in with the API key, kept in the server's memory.

A session is a random token in a cookie (`HttpOnly`, `SameSite=Strict`, so no script
reads it and no other site's page makes the browser send it) and a second random
token, the CSRF token, that the pages carry and every state-changing request must send
back in the `X-CSRF-Token` header. The API key itself is only ever in the sign-in
form's body: never in a URL, a cookie or the page. Sessions end after
`SESSION_SECONDS`, at sign-out, or when the server stops (they live in its memory).
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

COOKIE = "brace_console"
SESSION_SECONDS = 12 * 3600.0
MOST_SESSIONS = 100
"""Sessions kept at once; signing in beyond it ends the oldest."""


@dataclass(frozen=True)
class Session:
    token: str
    csrf: str
    expires: float
    """Clock reading (seconds) after which the session is over."""

    def csrf_matches(self, given: str | None) -> bool:
        """Constant-time comparison with the CSRF token a request sent."""
        return given is not None and hmac.compare_digest(given.encode(), self.csrf.encode())


@dataclass
class Sessions:
    clock: Callable[[], float] = time.monotonic
    seconds: float = SESSION_SECONDS
    _by_token: dict[str, Session] = field(default_factory=dict)

    def start(self) -> Session:
        """A new session (after the key was checked)."""
        self._forget_expired()
        while len(self._by_token) >= MOST_SESSIONS:
            del self._by_token[next(iter(self._by_token))]
        session = Session(
            secrets.token_urlsafe(32), secrets.token_urlsafe(32), self.clock() + self.seconds
        )
        self._by_token[session.token] = session
        return session

    def find(self, token: str | None) -> Session | None:
        """The live session of a cookie's token, else None."""
        if not token:
            return None
        session = self._by_token.get(token)
        if session is None:
            return None
        if session.expires <= self.clock():
            del self._by_token[token]
            return None
        return session

    def end(self, token: str) -> None:
        self._by_token.pop(token, None)

    def _forget_expired(self) -> None:
        now = self.clock()
        for token in [t for t, s in self._by_token.items() if s.expires <= now]:
            del self._by_token[token]
