"""Which arguments the user's model takes, decided from signatures as Truss decides.

`__init__` gets each of `config`, `data_dir`, `secrets`, `lazy_data_resolver`,
`environment` only if it names that parameter, or all of them if it has `**kwargs`.
`preprocess`, `predict`, `postprocess` and the OpenAI-style endpoints
(`chat_completions`, `completions`, `embeddings`, `messages`, `responses`) take the
inputs, the request, or both: one parameter annotated as a starlette `Request` (or a
subclass) means the request only; two parameters mean inputs then request, and the
second must be annotated as a Request. `is_healthy` takes none, `setup_environment`
the environment. When the first argument of `preprocess` (else `predict`) is annotated
with a pydantic model, the body is parsed into it (payloads.py). A `websocket` model
is refused: brace serves HTTP only. These are pure functions of classes and callables;
the loader calls them once per load, the request path only reads the frozen result.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from starlette.requests import Request

from brace.errors import BraceError
from brace.runtime.payloads import input_model


class ModelDefinitionError(BraceError):
    """The model class breaks Truss's rules for its methods."""


class ArgConfig(Enum):
    NONE = "none"
    INPUTS_ONLY = "inputs"
    REQUEST_ONLY = "request"
    INPUTS_AND_REQUEST = "inputs and request"


def _is_request_type(annotation: object) -> bool:
    return inspect.isclass(annotation) and issubclass(annotation, Request)


def _signature(function: Callable[..., Any]) -> inspect.Signature:
    # Models written with `from __future__ import annotations` have string annotations;
    # evaluate them so `request: Request` is still recognised. If evaluating fails (a
    # name only imported under TYPE_CHECKING), fall back to the annotations as written.
    try:
        return inspect.signature(function, eval_str=True)
    except Exception:
        return inspect.signature(function)


def arg_config(function: Callable[..., Any], name: str) -> ArgConfig:
    """How to call a bound method `name`; raises ModelDefinitionError if Truss would."""
    signature = _signature(function)
    parameters = list(signature.parameters.values())
    if not parameters:
        return ArgConfig.NONE
    if len(parameters) == 1:
        if _is_request_type(parameters[0].annotation):
            return ArgConfig.REQUEST_ONLY
        return ArgConfig.INPUTS_ONLY
    if len(parameters) == 2:
        first, second = parameters
        if _is_request_type(first.annotation):
            raise ModelDefinitionError(
                f"`{name}{signature}`: with two arguments the request must be the second one",
                "Write it as `def " + name + "(self, model_input, request: Request)`.",
            )
        if not _is_request_type(second.annotation):
            raise ModelDefinitionError(
                f"`{name}{signature}`: with two arguments the second one must be annotated "
                "as the request (`request: starlette.requests.Request`)",
                "Annotate the second argument, or take only the inputs.",
            )
        return ArgConfig.INPUTS_AND_REQUEST
    raise ModelDefinitionError(
        f"`{name}{signature}`: at most two arguments are allowed (inputs and request)"
    )


def init_kwargs(model_class: type, available: Mapping[str, object]) -> dict[str, object]:
    """The subset of `available` that `model_class(...)` accepts by name."""
    try:
        parameters = inspect.signature(model_class).parameters.values()
    except (TypeError, ValueError):  # a class whose signature cannot be read takes nothing
        return {}
    if any(parameter.kind is inspect.Parameter.VAR_KEYWORD for parameter in parameters):
        return dict(available)
    names = {
        parameter.name
        for parameter in parameters
        if parameter.kind
        in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    }
    return {key: value for key, value in available.items() if key in names}


@dataclass(frozen=True)
class Method:
    """One of the user's methods, bound, with how to call it."""

    name: str
    function: Callable[..., Any]
    args: ArgConfig
    is_async: bool
    is_generator: bool

    def arguments(self, inputs: Any, request: Request | None) -> tuple[Any, ...]:
        if self.args is ArgConfig.INPUTS_ONLY:
            return (inputs,)
        if self.args is ArgConfig.REQUEST_ONLY:
            return (request,)
        if self.args is ArgConfig.INPUTS_AND_REQUEST:
            return (inputs, request)
        return ()


def describe_method(function: Callable[..., Any], name: str) -> Method:
    return Method(
        name=name,
        function=function,
        args=arg_config(function, name),
        # An async generator is not awaited but iterated, so it is not "async" here.
        is_async=inspect.iscoroutinefunction(function),
        is_generator=inspect.isgeneratorfunction(function) or inspect.isasyncgenfunction(function),
    )


# Truss's extra routes and the model methods they call (no pre/postprocess, and not
# bounded by predict_concurrency).
ENDPOINTS = {
    "chat_completions": "/v1/chat/completions",
    "completions": "/v1/completions",
    "embeddings": "/v1/embeddings",
    "messages": "/v1/messages",
    "responses": "/v1/responses",
}


@dataclass(frozen=True)
class ModelMethods:
    predict: Method
    preprocess: Method | None = None
    postprocess: Method | None = None
    is_healthy: Method | None = None
    setup_environment: Method | None = None
    endpoints: tuple[Method, ...] = ()  # the ENDPOINTS the model defines
    input_model: type | None = None  # the pydantic model the body is parsed into

    def endpoint(self, name: str) -> Method | None:
        return next((method for method in self.endpoints if method.name == name), None)

    @property
    def skip_input_parsing(self) -> bool:
        """Truss does not parse the body when nothing would receive the inputs."""
        return self.predict.args is ArgConfig.REQUEST_ONLY and (
            self.preprocess is None or self.preprocess.args is ArgConfig.REQUEST_ONLY
        )


def _optional(instance: object, name: str) -> Method | None:
    function = getattr(instance, name, None)
    if function is None:
        return None
    if not callable(function):
        raise ModelDefinitionError(f"`{name}` on the model must be a method")
    return describe_method(function, name)


def _first_annotation(method: Method) -> object:
    if method.args not in (ArgConfig.INPUTS_ONLY, ArgConfig.INPUTS_AND_REQUEST):
        return None
    return next(iter(_signature(method.function).parameters.values())).annotation


def describe_model(instance: object) -> ModelMethods:
    """The model's methods; raises ModelDefinitionError for combinations Truss refuses."""
    predict = _optional(instance, "predict")
    preprocess = _optional(instance, "preprocess")
    postprocess = _optional(instance, "postprocess")
    if getattr(instance, "websocket", None) is not None:
        if predict or preprocess or postprocess:
            raise ModelDefinitionError(
                "a model cannot have both `websocket` and any of `predict`, `preprocess` "
                "or `postprocess`"
            )
        raise ModelDefinitionError(
            "`websocket` models are not supported: brace's replicas and gateway serve HTTP only",
            "Serve the model over HTTP with `predict` to run it with brace.",
        )
    if predict is None:
        raise ModelDefinitionError(
            f"the model class {type(instance).__name__} has no `predict` method",
            "Define `def predict(self, model_input)`.",
        )
    is_healthy = _optional(instance, "is_healthy")
    setup_environment = _optional(instance, "setup_environment")
    endpoints = tuple(
        method for name in ENDPOINTS if (method := _optional(instance, name)) is not None
    )
    if preprocess is not None and predict.args is ArgConfig.REQUEST_ONLY:
        raise ModelDefinitionError(
            "with `preprocess`, `predict` cannot take only the request "
            "(the result of preprocess would be discarded)"
        )
    if postprocess is not None and postprocess.args is ArgConfig.REQUEST_ONLY:
        raise ModelDefinitionError(
            "`postprocess` cannot take only the request (the result of predict would be discarded)"
        )
    if is_healthy is not None and is_healthy.args is not ArgConfig.NONE:
        raise ModelDefinitionError("`is_healthy` must take no arguments besides `self`")
    if setup_environment is not None and setup_environment.args is not ArgConfig.INPUTS_ONLY:
        raise ModelDefinitionError(
            "`setup_environment` must take one argument besides `self`: the environment"
        )
    return ModelMethods(
        predict,
        preprocess,
        postprocess,
        is_healthy,
        setup_environment,
        endpoints,
        input_model(_first_annotation(preprocess or predict)),
    )
