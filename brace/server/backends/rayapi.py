"""The narrow part of Ray that brace uses directly: the module itself, imported only
when the `ray` backend runs (so brace installs and type-checks without Ray: the module
is an `Any`, and every call on it sits in `cluster`, `reservation` and the agent's
actor calls), and whether the connection uses Ray's token authentication.
"""

from __future__ import annotations

import importlib
from typing import Any

from brace.errors import ServerError


def ray_module() -> Any:
    """The `ray` module (installed with `pip install 'brace[ray]'`)."""
    try:
        return importlib.import_module("ray")
    except ImportError:
        raise ServerError(
            "the ray backend needs Ray", "Install it with `pip install 'brace[ray]'`."
        ) from None


def token_authentication() -> bool:
    """Whether this connection to the cluster uses Ray's token authentication."""
    try:
        from ray._private.authentication.authentication_utils import is_token_auth_enabled
    except ImportError:
        return False
    return bool(is_token_auth_enabled())
