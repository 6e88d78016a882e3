"""The deployment's environment, as the model sees it: `environment` and `setup_environment`.

Truss's server reads the environment a deployment is in (a JSON mapping with at least
its `name`, e.g. `{"name": "production"}`; None when it is in none) from a file its
platform mounts (`/etc/b10_dynamic_config/environment`), passes it to the model's
`__init__` as `environment`, calls `setup_environment(environment)` before `load()` when
there is one, and polls that file every 30 s to call `setup_environment` again with a
new value (a promotion), without a restart.

brace's replica is told instead of polling: the initial value comes from the
`BRACE_ENVIRONMENT` environment variable (JSON text; absent or `null` means None), and
`POST /brace/environment` with a JSON body (the mapping, or `null`) is a change. As in
Truss, an unchanged value does not call `setup_environment` again, and every instance
built later (a live reload's new instance) gets the current value in `__init__`. A
`setup_environment` that raises is logged and answered 500; the replica keeps serving,
and the value is not recorded, so the same change may be sent again.

Changes are serialized with live reloads (one lock): an instance being built reads the
value once, and a change waits until that instance serves before it is applied to it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from typing import Any, TypeAlias

from brace.errors import InvalidError
from brace.runtime.holder import ModelHolder

log = logging.getLogger("brace.runtime")

ENV_VAR = "BRACE_ENVIRONMENT"

Environment: TypeAlias = dict[str, Any] | None


def parse_environment(text: str | bytes | None) -> Environment:
    """The environment from its JSON text (None when absent or `null`)."""
    if text is None or not text.strip():
        return None
    try:
        value = json.loads(text)
    except ValueError as error:
        raise InvalidError(f"the environment is not valid JSON: {error}") from None
    if value is not None and not isinstance(value, dict):
        raise InvalidError(
            f"the environment must be a JSON object or null, not {type(value).__name__}"
        )
    return value


def read_environment(environ: Mapping[str, str]) -> Environment:
    return parse_environment(environ.get(ENV_VAR))


class EnvironmentState:
    """The current environment: what a new instance's `__init__` gets, and what the
    model's `setup_environment` was last given."""

    def __init__(self, initial: Environment = None) -> None:
        self._value = initial

    @property
    def current(self) -> Environment:
        return None if self._value is None else dict(self._value)  # a copy per reader

    def set(self, value: Environment) -> None:
        self._value = None if value is None else dict(value)


class EnvironmentUpdater:
    """Applies `POST /brace/environment` to the model that serves."""

    def __init__(
        self,
        holder: ModelHolder,
        state: EnvironmentState,
        executor: Executor,
        lock: asyncio.Lock,
        on_error: Callable[[BaseException, str], None] = lambda exc, where: None,
    ) -> None:
        self.holder = holder
        self.state = state
        self.executor = executor
        self.lock = lock  # shared with the reloader
        self._on_error = on_error  # logs a model error with the user's traceback

    async def update(self, body: bytes) -> tuple[int, dict[str, Any]]:
        """Apply the environment in `body`; the HTTP status and JSON answer."""
        try:
            environment = parse_environment(body)
        except InvalidError as error:
            return 400, {"error": error.message}
        loop = asyncio.get_running_loop()
        # The first load reads the initial value; a change waits for it to end.
        await loop.run_in_executor(None, self.holder.wait_settled)
        async with self.lock:
            current = self.holder.current
            if current is None:
                return 503, {"error": "the model failed to load", "environment": None}
            if environment == self.state.current:
                return 200, {"environment": environment}
            method = current.model.methods.setup_environment
            if method is not None:
                log.info("Executing model.setup_environment with environment: %s", environment)
                try:
                    if method.is_async:
                        await method.function(environment)
                    else:
                        await loop.run_in_executor(self.executor, method.function, environment)
                except Exception as exc:
                    self._on_error(exc, " (setup_environment)")
                    return 500, {
                        "error": f"setup_environment() failed: {type(exc).__name__}: {exc}",
                        "environment": self.state.current,
                    }
            self.state.set(environment)
            return 200, {"environment": environment}
