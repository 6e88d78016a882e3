"""Signed download links: `GET .../download` answers one, the archive path checks it.

A link names the deployment and when it expires, signed with HMAC-SHA256 under a
secret the server draws when it starts (so links die with the server, too):

    /downloads/<model id>/<deployment id>/truss.tar.gz?expires=<epoch s>&signature=<hex>

It is good for `ttl` seconds (5 minutes), for that deployment only. The archive path is
outside `/v1/`, so a link works without the API key, as Baseten's pre-signed links do;
a request that carries the key needs no signature.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from brace.errors import AuthError

DOWNLOAD_TTL = 300.0
"""Seconds a download link stays good."""
ARCHIVE_PATH = "/downloads/{model_id}/{deployment_id}/truss.tar.gz"
_LONGEST = 20
"""Most digits an `expires` may have (a number anyone could send: no int() of 10^4000)."""


@dataclass
class Downloads:
    """Signs and checks download links (a fake `clock` and a short `ttl` in tests)."""

    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    ttl: float = DOWNLOAD_TTL
    clock: Callable[[], float] = time.time

    def _signature(self, model_id: str, deployment_id: str, expires: int) -> str:
        message = f"{model_id}/{deployment_id}/{expires}".encode()
        return hmac.new(self.secret, message, hashlib.sha256).hexdigest()

    def link(self, base_url: str, model_id: str, deployment_id: str) -> str:
        """The archive's URL under `base_url` (ending in "/"), good for `ttl` seconds."""
        expires = int(self.clock() + self.ttl)
        path = ARCHIVE_PATH.format(model_id=model_id, deployment_id=deployment_id)
        signature = self._signature(model_id, deployment_id, expires)
        return f"{base_url.rstrip('/')}{path}?expires={expires}&signature={signature}"

    def check(self, model_id: str, deployment_id: str, expires: str, signature: str) -> None:
        """AuthError unless the link is one `link` gave and has not expired
        (DOWNLOAD_LINK_INVALID, DOWNLOAD_LINK_EXPIRED)."""
        valid = expires.isdigit() and len(expires) <= _LONGEST
        expected = self._signature(model_id, deployment_id, int(expires)) if valid else ""
        if not valid or not hmac.compare_digest(expected, signature):
            raise AuthError(
                "the download link is not valid (a signature from `GET .../download`, or "
                "the API key, is required)",
                code="DOWNLOAD_LINK_INVALID",
            )
        if int(expires) < self.clock():
            raise AuthError(
                f"the download link expired (links are good for {self.ttl:g} seconds)",
                "Ask for a new one: GET /v1/models/{model_id}/deployments/{deployment_id}"
                "/download.",
                code="DOWNLOAD_LINK_EXPIRED",
            )
