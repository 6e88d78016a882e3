"""Loading a model: import the model file, construct the class, run `load()`.

`load_model` returns a new `LoadedModel` and changes nothing the current model relies
on, so a reloader can call it while the old model keeps serving and swap only on
success (holder.py). It is two steps, `import_model` then `build_model`, because a
reload looks at the new class before deciding whether to build a new instance at all
(reload.py). `prepare_process` does the once-per-process part: the config's
environment variables (set before any user code runs, as Baseten's platform does), the
import roots (packages, and the model directory as the package `model`) and the data
directory (created if missing, as Truss's server does). Building runs, as Truss does:
`Model(**kwargs)`, `setup_environment(environment)` when the model has it and the
deployment is in an environment, then `load()`. Both are called from the load thread,
never on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import inspect
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from types import ModuleType
from typing import Any

from brace.config import Truss
from brace.files import read_limited
from brace.runtime import sourceimport
from brace.runtime.layout import MODEL_PACKAGE, ModelLayout
from brace.runtime.lazydata import LocalDataResolver
from brace.runtime.signatures import ModelMethods, describe_model, init_kwargs


class Stage(Enum):
    IMPORT = "importing the model file"
    CONSTRUCT = "constructing the model"
    DEFINITION = "checking the model's methods"
    SETUP_ENVIRONMENT = "running setup_environment()"
    LOAD = "running load()"


class LoadError(Exception):
    """Loading failed at `stage`; `__cause__` is the user's exception."""

    def __init__(self, stage: Stage, model_file: str) -> None:
        super().__init__(f"{stage.value} ({model_file}) failed")
        self.stage = stage


@dataclass(frozen=True)
class LoadedModel:
    instance: Any
    methods: ModelMethods
    module: ModuleType
    source_sha256: str  # of the model file text that was compiled, to detect edits mid-load
    load_ms: int


def prepare_process(truss: Truss, layout: ModelLayout) -> None:
    """Environment variables, import roots, data directory; call once, before the first
    load."""
    os.environ.update(truss.config.environment_variables)
    sourceimport.install(layout.package_dirs, {MODEL_PACKAGE: layout.model_dir})
    with contextlib.suppress(OSError):  # a read-only Truss: the model will say what it lacks
        layout.data_dir.mkdir(exist_ok=True)


def _relative(layout: ModelLayout) -> str:
    try:
        return str(layout.model_file.relative_to(layout.root))
    except ValueError:
        return str(layout.model_file)


def _import_model_class(
    layout: ModelLayout, class_name: str, source: bytes
) -> tuple[ModuleType, type]:
    try:
        module = sourceimport.import_file(layout.model_file, layout.module_name, source)
    except ImportError as exc:
        if "attempted relative import" in str(exc):
            raise ImportError(
                f"{exc}: {layout.model_file.name} is imported on its own, not as part of a "
                f"package; use absolute imports (`from {MODEL_PACKAGE}.util import ...` "
                "for model/util.py) or put shared code in packages/"
            ) from exc
        raise
    model_class = getattr(module, class_name, None)
    if not isinstance(model_class, type):
        raise AttributeError(
            f"{layout.model_file} defines no class {class_name!r} "
            "(set model_class_name in config.yaml)"
        )
    return module, model_class


@dataclass(frozen=True)
class ImportedModel:
    """The model file run as a fresh module, and the model class it defines."""

    module: ModuleType
    model_class: type
    source_sha256: str  # of the model file text that was compiled, to detect edits mid-load


def import_model(truss: Truss, layout: ModelLayout) -> ImportedModel:
    """Run the model file's current text as a new module; LoadError(IMPORT) on failure."""
    try:
        source = read_limited(layout.model_file, None)  # never blocks on a FIFO
        module, model_class = _import_model_class(layout, truss.config.model_class_name, source)
    except Exception as exc:
        raise LoadError(Stage.IMPORT, _relative(layout)) from exc
    return ImportedModel(module, model_class, hashlib.sha256(source).hexdigest())


def build_model(
    truss: Truss,
    layout: ModelLayout,
    secrets: Mapping[str, str],
    imported: ImportedModel,
    *,
    environment: Mapping[str, Any] | None = None,
    loop: asyncio.AbstractEventLoop | None = None,
    started: float | None = None,
) -> LoadedModel:
    """Construct an instance of the imported class, set up its environment, run `load()`.

    `environment` is the deployment's environment (environment.py): `__init__` gets it,
    and so does `setup_environment` when it is not None. An `async def load()` (or
    `setup_environment`) runs on `loop` (the server's, so what it creates is bound to
    the loop that serves requests), or on a private loop when none is given. `started`
    (a perf_counter reading) is when loading began, for `load_ms`.
    """
    started = time.perf_counter() if started is None else started
    where = _relative(layout)
    available: dict[str, object] = {
        "config": dict(truss.config.raw),
        "data_dir": layout.data_dir,
        "secrets": secrets,
        "lazy_data_resolver": LocalDataResolver(),
        "environment": None if environment is None else dict(environment),
    }
    model_class = imported.model_class
    try:
        instance = model_class(**init_kwargs(model_class, available))
    except Exception as exc:
        raise LoadError(Stage.CONSTRUCT, where) from exc
    try:
        methods = describe_model(instance)
    except Exception as exc:
        raise LoadError(Stage.DEFINITION, where) from exc
    if methods.setup_environment is not None and environment is not None:
        try:
            _run(methods.setup_environment.function, (dict(environment),), loop)
        except Exception as exc:
            raise LoadError(Stage.SETUP_ENVIRONMENT, where) from exc
    try:
        load = getattr(instance, "load", None)
        if load is not None:
            _run(load, (), loop)
    except Exception as exc:
        raise LoadError(Stage.LOAD, where) from exc
    return LoadedModel(
        instance=instance,
        methods=methods,
        module=imported.module,
        source_sha256=imported.source_sha256,
        load_ms=round((time.perf_counter() - started) * 1000),
    )


def load_model(
    truss: Truss,
    layout: ModelLayout,
    secrets: Mapping[str, str],
    *,
    environment: Mapping[str, Any] | None = None,
    loop: asyncio.AbstractEventLoop | None = None,
) -> LoadedModel:
    """Import, construct and load the model; raise LoadError (from the cause) on failure."""
    started = time.perf_counter()
    imported = import_model(truss, layout)
    return build_model(
        truss, layout, secrets, imported, environment=environment, loop=loop, started=started
    )


def swap_class(model: LoadedModel, imported: ImportedModel, layout: ModelLayout) -> LoadedModel:
    """Give the live instance the imported class, keeping everything `load()` set up.

    Returns the model as the new class serves it (its methods bound anew); the old
    `model` keeps its bound methods, so requests already running finish on them. If the
    new class breaks Truss's rules for methods, the old class is put back and
    LoadError(DEFINITION) raised. (keepstate.py decides when this is safe.)
    """
    started = time.perf_counter()
    instance = model.instance
    old_class = type(instance)
    try:
        instance.__class__ = imported.model_class
    except TypeError as exc:
        raise LoadError(Stage.DEFINITION, _relative(layout)) from exc
    try:
        methods = describe_model(instance)
    except Exception as exc:
        instance.__class__ = old_class
        raise LoadError(Stage.DEFINITION, _relative(layout)) from exc
    return LoadedModel(
        instance=instance,
        methods=methods,
        module=imported.module,
        source_sha256=imported.source_sha256,
        load_ms=round((time.perf_counter() - started) * 1000),
    )


def _run(
    method: Callable[..., Any], args: tuple[Any, ...], loop: asyncio.AbstractEventLoop | None
) -> None:
    """Call a sync or async method from the load thread."""
    result = method(*args)
    if inspect.iscoroutine(result):
        if loop is None:
            asyncio.run(result)
        else:
            asyncio.run_coroutine_threadsafe(result, loop).result()
